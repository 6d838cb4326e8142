"""The ``hubert-quant`` command line: one module per group of commands, sharing
:mod:`.common`'s options. Heavy imports (torch, transformers) happen inside the commands,
so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from ..constants import CONSENT
from .common import one_line

EXAMPLES = (
    "hubert-quant clone voice.wav --out me.npz",
    "hubert-quant clone podcast.mp3 --auto --out host.npz",
    "hubert-quant mask talk.wav --speaker me.npz --out as-me.wav",
    'hubert-quant say "Hello, this is my cloned voice." --speaker me.npz --out hello.wav',
    "hubert-quant compare me.wav take1.wav take2.wav",
    "hubert-quant ui",
    "hubert-quant models download German",
    "hubert-quant COMMAND --help    # each command's options and examples",
)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from .app import add_app_parser
    from .clone import add_clone_parser
    from .compare import add_compare_parser
    from .models import add_models_parser
    from .speak import add_speak_parsers
    from .train import add_train_parsers

    parser = argparse.ArgumentParser(
        prog="hubert-quant",
        description=f"Clone voices for Bark: recordings -> speaker prompts (.npz). {CONSENT}",
        epilog="examples:\n" + "".join(f"  {line}\n" for line in EXAMPLES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hubert-quant {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_clone_parser(commands)
    add_speak_parsers(commands)
    add_compare_parser(commands)
    add_app_parser(commands)
    add_models_parser(commands)
    add_train_parsers(commands)
    return parser


def entry() -> int:
    """The ``hubert-quant`` program (and ``python -m hubert_quant``): :func:`main`, then a quick exit."""
    return main(exit_at_once=True)


def main(argv: list[str] | None = None, *, exit_at_once: bool = False) -> int:
    """Run one command; returns its exit status.

    exit_at_once: once the command is done (its files written and closed), end the process without
        the interpreter's teardown, which frees the loaded models one object at a time: 0.7 s of a
        7 s one-shot clone on 2 cores (see docs/performance.md). Not for ``ui``: Gradio cleans up
        as it exits. Programs calling ``main`` keep the default.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .. import noise
    from ..hosts import discover

    noise.SHOW = bool(getattr(args, "debug", False))  # --debug: the libraries' own notices too
    discover()  # run from inside a host's extension folder: that host's quantizers are used too
    code = _run(args)
    if exit_at_once and args.command != "ui":
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _run(args: argparse.Namespace) -> int:
    # A plain `kill` ends the run like Ctrl+C: half-written files are removed on the way out.
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was left (finished outputs are kept)", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the CLI's promise: one line, never a traceback
        if getattr(args, "debug", False):
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame):
    raise KeyboardInterrupt
