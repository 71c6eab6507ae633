"""`python -m cvops.datagen OUT --count N ...`: write a synthetic inspection dataset to a folder."""

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cvops.datagen.corruptions import CORRUPTION_KINDS, Corruption
from cvops.datagen.dataset import CLASSES, LAYOUTS, landing_root, write_dataset
from cvops.errors import CVOpsError, InvalidGeneratorConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m cvops.datagen",
        description="Write synthetic metal-surface images (classes: ok, scratch, spot, crack) as PNG files.",
    )
    parser.add_argument("out", type=Path, help="output folder (created if missing)")
    parser.add_argument("--count", type=int, default=1000, help="number of images (default 1000)")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    parser.add_argument("--layout", choices=LAYOUTS, default="imagefolder", help="default imagefolder")
    parser.add_argument("--prefix", default="img", help="file name prefix (default img)")
    parser.add_argument(
        "--classes", default=",".join(CLASSES), help=f"comma-separated subset of {','.join(CLASSES)}"
    )
    parser.add_argument("--balance", default=None, help="relative class weights, e.g. ok=0.4,scratch=0.2")
    parser.add_argument(
        "--corrupt",
        action="append",
        default=[],
        metavar="KIND:SEVERITY",
        help=f"apply a corruption, repeatable; kinds: {', '.join(CORRUPTION_KINDS)}; severity in [0, 1]",
    )
    return parser


def parse_balance(text: str) -> dict[str, float]:
    """`"ok=0.4,scratch=0.2"` -> {"ok": 0.4, "scratch": 0.2}."""
    balance: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, separator, weight = item.partition("=")
        try:
            balance[name.strip()] = float(weight)
        except ValueError as error:
            raise InvalidGeneratorConfigError(
                f"Balance entry {item!r} is not class=weight; write e.g. --balance ok=0.4,scratch=0.2."
            ) from error
        if not separator:
            raise InvalidGeneratorConfigError(f"Balance entry {item!r} lacks '='; write e.g. ok=0.4.")
    return balance


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        started = time.perf_counter()
        table = write_dataset(
            args.out,
            args.count,
            layout=args.layout,
            size=args.size,
            seed=args.seed,
            balance=parse_balance(args.balance) if args.balance else None,
            classes=[name.strip() for name in args.classes.split(",") if name.strip()],
            corruptions=[Corruption.parse(text) for text in args.corrupt],
            prefix=args.prefix,
        )
    except CVOpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    counts = ", ".join(
        f"{label}={count}" for label, count in table["label"].value_counts().sort_index().items()
    )
    print(
        f"wrote {len(table)} images ({counts}) in {elapsed:.2f} s; landing root: {landing_root(args.out, args.layout)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
