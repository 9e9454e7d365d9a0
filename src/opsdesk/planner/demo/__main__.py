"""Writes the demo files to a folder: ``python -m opsdesk.planner.demo out/ [--walmart PATH] [--seed N]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from opsdesk.planner.demo.dealership import DEFAULT_SEED, write_dealership
from opsdesk.planner.demo.walmart import write_walmart


def main(argv: Sequence[str] | None = None) -> list[Path]:
    """The dealership into ``<out>/dealership``, and with ``--walmart`` the store panel into ``<out>/walmart``."""
    parser = argparse.ArgumentParser(prog="python -m opsdesk.planner.demo", description=__doc__)
    parser.add_argument("out", type=Path, help="folder for the files")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--walmart", type=Path, help="walmart_store_sales.csv (dates dd-mm-YYYY)")
    args = parser.parse_args(argv)
    written = write_dealership(args.out / "dealership", args.seed, years=args.years)
    if args.walmart is not None:
        written += write_walmart(args.walmart, args.out / "walmart")
    for path in written:
        print(path)
    return written


if __name__ == "__main__":
    main()
