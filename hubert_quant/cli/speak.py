"""``hubert-quant mask`` and ``say``: Bark speaking, in a random voice or a speaker's."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..constants import BARK_SAMPLE_RATE, CONSENT
from .clone import add_audio_limits, audio_limits
from .common import add_command, options


def add_speak_parsers(commands) -> None:
    mask = add_command(
        commands, "mask", "re-speak a recording through Bark, in a random voice or a speaker's", parents=options(),
        examples=("hubert-quant mask talk.wav --out masked.wav --seed 7",
                  "hubert-quant mask talk.wav --speaker me.npz --out as-me.wav",
                  "hubert-quant mask talk.wav --speaker v2/en_speaker_6 --out preset.wav"),
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
    add_audio_limits(mask)
    say = add_command(
        commands, "say", "speak text with Bark in a cloned voice (a preview)", parents=options(),
        examples=('hubert-quant say "Hello, this is my cloned voice." --speaker me.npz --out hello.wav',
                  "hubert-quant say --text-file chapter.txt --speaker me.npz --takes 3 --out chapter.wav",
                  'hubert-quant say "Hallo, wie geht es?" --speaker v2/de_speaker_3 --out hallo.wav --seed 1'),
        description=f"Speak TEXT with Bark's full pipeline in the speaker's voice. {CONSENT}",
    )
    say.add_argument("text", nargs="?", default=None,
                     help="what to say; a text longer than Bark speaks at once is cut into chunks")
    say.add_argument("--text-file", type=Path, default=None, help="read the text from this UTF-8 file instead")
    say.add_argument("--takes", type=int, default=1,
                     help="generations per chunk; the best is kept, judged by voice similarity to the speaker, "
                          "length, silences and clipping (default 1)")
    say.add_argument("--pause", type=float, default=0.3, help="seconds of silence between chunks (default 0.3)")
    say.add_argument("--language", default="en",
                     help="the text's language code, for where its sentences end (default en)")
    say.add_argument("--speaker", default=None, help="a speaker .npz or a Bark preset (default: a random voice)")
    say.add_argument("--reference", type=Path, default=None,
                     help="a recording of the speaker's voice the takes are also judged against (default: the "
                          "recording the speaker was cloned from, where it lies beside the speaker file)")
    say.add_argument("--text-temp", type=float, default=0.7, help="text stage temperature (default 0.7)")
    add_audio_limits(say)  # for --reference
    for command in (mask, say):
        command.add_argument("--out", "-o", type=Path, required=True, help="output .wav (24 kHz mono)")
        command.add_argument("--seed", type=int, default=None, help="same seed, same audio (on the same device)")
        command.add_argument("--coarse-temp", type=float, default=0.7, help="coarse stage temperature (default 0.7)")
        command.add_argument("--fine-temp", type=float, default=0.5, help="fine stage temperature (default 0.5)")
        command.add_argument("--small", action="store_true", help="Bark's small models: faster, lower quality")
        command.add_argument("--offload-cpu", action="store_true", help="keep Bark on the CPU between stages")
        command.add_argument("--force", "-f", action="store_true", help="replace an existing output file")
    mask.set_defaults(run=run_mask)
    say.set_defaults(run=run_say)


def run_mask(args: argparse.Namespace) -> int:
    from ..bark.mask import mask_voice

    return _speak(args, lambda options, stages: mask_voice(
        args.audio, speaker=args.speaker, options=options, quantizer=args.quantizer, hubert=args.hubert,
        start=args.start, end=args.end, stages=stages, limits=audio_limits(args),
    ))


def run_say(args: argparse.Namespace) -> int:
    from ..bark.speak import say
    from ..text import split_text

    text = _text_of(args)
    once = args.text_file is None and args.takes == 1 and args.reference is None
    if once and len(split_text(text, language=args.language)) == 1:
        return _speak(args, lambda options, stages: say(text, speaker=args.speaker, options=options, stages=stages))
    return _read(args, text)


def _text_of(args: argparse.Namespace) -> str:
    if (args.text is None) == (args.text_file is None):
        raise ValueError("give the text to say, or --text-file FILE (one of them)")
    if args.text_file is None:
        return args.text
    try:
        return args.text_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{args.text_file}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from e
    except OSError as e:
        raise ValueError(f"{args.text_file}: cannot read it ({e.strerror or e})") from e


def _read(args: argparse.Namespace, text: str) -> int:
    """say --text-file (or a long text, or --takes): chunks, takes, one wav and its report."""
    from ..bark.reading import read_text
    from ..bark.speak import wav_path
    from ..files import check_writable

    out = wav_path(args.out)
    check_writable([out, out.with_suffix(".json")], overwrite=args.force)  # before Bark loads
    try:
        reading = read_text(text, out, speaker=args.speaker, options=_options(args), takes=args.takes,
                            pause=args.pause, language=args.language, overwrite=args.force, stages=_print_stage,
                            reference=args.reference, limits=audio_limits(args))
    except KeyboardInterrupt:
        print(f"interrupted; the finished chunks are kept in {out.with_suffix('.parts')}: run the same command "
              "again to continue from there", file=sys.stderr)
        return 130
    seconds = reading.chunks[-1]["end_s"] if reading.chunks else 0.0
    print(f"saved {reading.wav} ({seconds:.1f} s, {len(reading.chunks)} chunks) and {reading.report}",
          file=sys.stderr)
    return 0


def _options(args: argparse.Namespace):
    from ..bark.adapter import BarkOptions

    return BarkOptions(
        text_temp=getattr(args, "text_temp", 0.7), coarse_temp=args.coarse_temp, fine_temp=args.fine_temp,
        seed=args.seed, small=args.small, offload_cpu=args.offload_cpu, device=args.device,
    )


def _print_stage(what: str, step: int, steps: int) -> None:
    print(f"{what} [{step}/{steps}]" if steps > 1 else what, file=sys.stderr, flush=True)


def _speak(args: argparse.Namespace, render) -> int:
    """Shared by mask and say: options, output checks, stage lines, the atomic wav write."""
    from ..bark.speak import save_wav, wav_path
    from ..files import check_writable

    out = wav_path(args.out)
    check_writable([out], overwrite=args.force)  # before Bark loads (minutes), not after it spoke
    audio = render(_options(args), _print_stage)
    written = save_wav(audio, out, overwrite=args.force)
    print(f"saved {written} ({len(audio) / BARK_SAMPLE_RATE:.1f} s)", file=sys.stderr)
    return 0
