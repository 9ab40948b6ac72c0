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


def _analyze(args: argparse.Namespace) -> int:
    from keras_epochkit.analysis import analyze
    from keras_epochkit.analysis import plot

    try:
        report = analyze(
            args.log,
            monitor=args.monitor,
            train_monitor=args.train_monitor,
            mode=args.mode,
            budget=args.budget,
        )
        print(report.to_markdown())
        if args.plot:
            plot(args.log, args.plot, report=report, train_monitor=args.train_monitor)
            print(f"\nPlot written to {args.plot}")
    except (OSError, ValueError, ImportError) as error:
        print(f"epochkit analyze: error: {error}", file=sys.stderr)
        return 1
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
    analyze = commands.add_parser(
        "analyze",
        help="where a run should have stopped and where it began to overfit",
        description="Reads a keras.callbacks.CSVLogger file and prints, as a "
        "Markdown table, the best epoch, where each stopping criterion would "
        "have stopped and what it would have saved, and the overfitting onset.",
    )
    analyze.add_argument("log", help="a CSV file written by keras.callbacks.CSVLogger")
    analyze.add_argument("--plot", metavar="PNG", help="also draw the curves to PNG")
    analyze.add_argument("--monitor", default="val_loss", help="default: val_loss")
    analyze.add_argument(
        "--train-monitor", default=None, help="default: monitor without 'val_'"
    )
    analyze.add_argument("--mode", default="auto", choices=["auto", "min", "max"])
    analyze.add_argument(
        "--budget", type=int, default=None, help="default: the recorded epochs"
    )
    analyze.set_defaults(handler=_analyze)
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
