"""What every command shares: the options declared once (``--debug``, ``--device``), the one-line
error, and the progress bars drawn on stderr."""

from __future__ import annotations

import argparse
import sys

from ..errors import HubertQuantError, message

DEVICE_HELP = "auto (default): cuda, then mps, then cpu; or cpu, cuda, cuda:N, mps"


def options(*, device: bool = True) -> list[argparse.ArgumentParser]:
    """Parent parsers for a command: ``--debug`` always, ``--device`` where models run."""
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    if device:
        shared.add_argument("--device", default="auto", help=DEVICE_HELP)
    return [shared]


def add_command(group, name: str, help: str, *, examples: tuple[str, ...] = (), description: str | None = None,
                **options) -> argparse.ArgumentParser:
    """A command (or sub-command) of ``group`` with its help line, a description (the help line as a
    sentence when none is given) and its own examples, each a line starting with ``hubert-quant``."""
    epilog = "examples:\n" + "".join(f"  {line}\n" for line in examples) if examples else None
    return group.add_parser(name, help=help, description=description or help[0].upper() + help[1:] + ".",
                            epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter, **options)


def one_line(e: BaseException) -> str:
    """An error as the one line the command line prints (unexpected ones point to --debug)."""
    if isinstance(e, (HubertQuantError, ValueError, OSError)):
        return message(e)
    return f"{type(e).__name__}: {message(e)} (run with --debug for details)"


def stage_bars():
    """A ``stages(what, done, total)`` callback that draws one tqdm bar per stage on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(what: str, done: int, total: int) -> None:
        bar = bars.get(what)
        if bar is None:
            bar = bars[what] = tqdm(desc=what, total=total, unit="step", file=sys.stderr, leave=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
