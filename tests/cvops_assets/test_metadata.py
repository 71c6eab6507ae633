"""Core values turned into metadata a person reads: rounded floats, real tables, no "None"."""

import dagster as dg
import numpy as np

from cvops.viz import Table
from cvops_assets.metadata import readable


def test_floats_are_rounded_to_four_significant_digits() -> None:
    metadata = readable({"accuracy": 0.958333333333, "latency_ms": np.float32(12.3456789), "big": 123456.7})
    assert metadata["accuracy"] == dg.MetadataValue.float(0.9583)
    assert metadata["latency_ms"] == dg.MetadataValue.float(12.35)
    assert metadata["big"] == dg.MetadataValue.float(123500.0)


def test_scalars_keep_their_kind_and_none_reads_none() -> None:
    metadata = readable({"count": np.int64(3), "blessed": np.bool_(True), "sha": "abc", "champion": None})
    assert metadata["count"] == dg.MetadataValue.int(3)
    assert metadata["blessed"] == dg.MetadataValue.bool(True)
    assert metadata["sha"] == dg.MetadataValue.text("abc")
    assert metadata["champion"] == dg.MetadataValue.text("none")


def test_metadata_values_pass_through() -> None:
    path = dg.MetadataValue.path("/tmp/report.html")
    assert readable({"report_html": path})["report_html"] is path


def test_a_table_becomes_table_metadata_with_typed_columns() -> None:
    table = Table(
        ("class", "recall", "support", "ok"), (("a", 2 / 3, 3, True), ("b", 1.0, np.int64(2), False))
    )
    value = readable({"per_class": table})["per_class"]
    assert isinstance(value, dg.TableMetadataValue)
    assert [(c.name, c.type) for c in value.schema.columns] == [
        ("class", "string"),
        ("recall", "float"),
        ("support", "int"),
        ("ok", "bool"),
    ]
    assert [record.data for record in value.records] == [
        {"class": "a", "recall": 0.6667, "support": 3, "ok": True},
        {"class": "b", "recall": 1.0, "support": 2, "ok": False},
    ]
