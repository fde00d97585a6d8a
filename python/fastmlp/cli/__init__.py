"""The ``fastmlp`` command: ``train``, ``evaluate``, ``predict``, ``bench``, ``info``.

The command is a function of its arguments, so tests and notebooks call it directly:

>>> from fastmlp.cli import main
>>> main(["train", "--dataset", "mnist-sample", "--epochs", "2", "--quiet"])  # doctest: +SKIP
0

Exit codes: 0 success; 1 a run that failed on valid input (training diverged, a file could
not be written); 2 bad arguments or missing/unreadable data or model (argparse's code);
130 interrupted (Ctrl-C). A reader that leaves early (``| head``) ends nothing: the output
is dropped from then on and the run completes (a model is still saved). Errors are one
message on stderr, without a traceback; warnings
(:class:`fastmlp.TrainingWarning`, ...) one line each, ``fastmlp COMMAND: warning: ...``.

One module per subcommand (``train``, ``evaluate``, ``predict``, ``info``), each with
``add_parser(subparsers)`` and ``run(args) -> int``; ``common`` holds what they share.
``fastmlp bench ...`` hands its arguments to :func:`fastmlp.bench.main` unchanged.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings
from collections.abc import Callable

import fastmlp
from fastmlp.errors import TrainingWarning

from . import evaluate, info, predict, train
from .common import CliError, Parser
from .streams import pipe_safe_streams

__all__ = ["build_parser", "main"]

PROG = "fastmlp"


def build_parser() -> argparse.ArgumentParser:
    """The ``fastmlp`` parser with every subcommand."""
    parser = Parser(
        prog=PROG,
        description="Train, evaluate and use multilayer perceptrons on MNIST-style data, "
        "with a Rust engine and a NumPy reference.",
        epilog="`fastmlp COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {fastmlp.__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    train.add_parser(subparsers)
    evaluate.add_parser(subparsers)
    predict.add_parser(subparsers)
    # listed for --help only: main() hands `bench ...` to fastmlp.bench before parsing
    subparsers.add_parser(
        "bench", help="time an epoch of each engine (`fastmlp bench --help`)", add_help=False
    )
    info.add_parser(subparsers)
    for subparser in subparsers.choices.values():
        subparser.set_defaults(parser=subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``fastmlp`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    with pipe_safe_streams():
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(args_list: list[str]) -> int:
    try:
        if args_list[:1] == ["bench"]:
            return _bench(args_list[1:])
        parser = build_parser()
        try:
            args, extra = parser.parse_known_args(args_list)
            if extra:  # reported by the subcommand's parser, which names its own --help
                getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
        except SystemExit as exit_:  # --help, --version, or a usage error (code 2)
            return _exit_code(exit_)
        if args.command is None:
            print(
                f"{PROG}: error: choose a command: train, evaluate, predict, bench, info "
                f"(see `{PROG} --help`)",
                file=sys.stderr,
            )
            return 2
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("always", TrainingWarning)
                warnings.showwarning = _one_line_warning(args.command)  # restored on exit
                return int(args.run(args))
        except CliError as error:
            print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
            return error.code
        except BrokenPipeError:
            raise
        except OSError as error:  # writing a result failed (disk full, permissions, ...)
            print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
            return 1
        except (ValueError, MemoryError) as error:  # bad input the subcommand did not word
            print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
            return 2
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # not through sys.stdout (which pipe_safe_streams guards)
        _silence_stdout()
        return 1


def _one_line_warning(command: str) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints ``fastmlp COMMAND: warning: MESSAGE``."""

    def show(message: Warning | str, *args: object, **kwargs: object) -> None:
        print(f"{PROG} {command}: warning: {message}", file=sys.stderr, flush=True)

    return show


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that Python's exit-time flush raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _bench(argv: list[str]) -> int:
    """``fastmlp bench ...``: :func:`fastmlp.bench.main`, imported only when asked for."""
    from fastmlp import bench

    try:
        return int(bench.main(argv) or 0)
    except SystemExit as exit_:
        return _exit_code(exit_)


def _exit_code(exit_: SystemExit) -> int:
    code = exit_.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
