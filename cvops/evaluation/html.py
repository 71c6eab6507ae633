"""A self-contained HTML validation report: tables plus inline base64 PNGs, no external assets."""

import base64
import html
import json
from typing import Any

from cvops.evaluation.report import EvaluationResult

_STYLE = (
    "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
    "th:first-child,td:first-child{text-align:left}.blessed{color:#080}.rejected{color:#b00}img{max-width:100%}"
)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _image(name: str, png: bytes) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<h3>{html.escape(name.replace("_", " "))}</h3><img alt="{html.escape(name)}" src="data:image/png;base64,{encoded}">'


def render_report_html(
    result: EvaluationResult,
    plots: dict[str, bytes],
    lineage: dict[str, Any],
    blessing: dict[str, Any] | None = None,
) -> str:
    """The report page. `lineage` (model sha, data commit, ...) and `blessing` (a decision's dict) are shown as is."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>Validation report</title><style>{_STYLE}</style>",
        "</head><body><h1>Validation report</h1>",
    ]
    if blessing is not None:
        verdict = "blessed" if blessing["blessed"] else "rejected"
        parts.append(f"<h2 class='{verdict}'>{verdict.upper()}: {html.escape(str(blessing['reason']))}</h2>")
    parts.append(_table(["metric", "value"], [[name, value] for name, value in result.headline().items()]))
    parts.append(
        "<h2>Lineage</h2>"
        + _table(
            ["key", "value"],
            [[k, json.dumps(v) if isinstance(v, (dict, list)) else v] for k, v in lineage.items()],
        )
    )
    parts.append(
        "<h2>Per class</h2>"
        + _table(
            ["class", "precision", "recall", "f1", "support"],
            [[c.name, c.precision, c.recall, c.f1, c.support] for c in result.per_class],
        )
    )
    parts.append(
        "<h2>Confusion matrix (rows true, columns predicted)</h2>"
        + _table(
            ["", *result.classes],
            [[name, *row] for name, row in zip(result.classes, result.confusion, strict=True)],
        )
    )
    parts.append(
        "<h2>Slices by image property</h2>"
        + _table(
            ["property", "from", "to", "images", "accuracy"],
            [
                [name, s.lower, s.upper, s.count, s.accuracy]
                for name, slices in result.slices.items()
                for s in slices
            ],
        )
    )
    parts.append(
        "<h2>Most confident mistakes</h2>"
        + _table(
            ["image", "true", "predicted", "confidence"],
            [[w.image_key, w.true_class, w.predicted_class, w.confidence] for w in result.worst],
        )
    )
    parts += [_image(name, png) for name, png in plots.items()]
    parts.append("</body></html>")
    return "\n".join(parts)
