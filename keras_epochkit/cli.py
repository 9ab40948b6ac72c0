"""The `epochkit` console script."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import keras_epochkit


def _info(args: argparse.Namespace) -> int:
    import keras

    print(f"keras-epochkit {keras_epochkit.__version__}")
    print(f"keras          {keras.__version__}")
    print(f"backend        {keras.backend.backend()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the `epochkit` command."""
    parser = argparse.ArgumentParser(
        prog="epochkit",
        description="keras-epochkit: tools for training epoch by epoch.",
    )
    parser.add_argument(
        "--version", action="version", version=keras_epochkit.__version__
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser("info", help="print versions and the Keras backend")
    info.set_defaults(handler=_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `epochkit` command and returns its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
