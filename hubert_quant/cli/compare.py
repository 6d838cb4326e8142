"""``hubert-quant compare``: how alike voices sound, by the speaker-similarity model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import add_command, options

# Where the evaluation in docs/voice.md put one voice and others (its equal-error threshold, 0.84).
SAME, UNSURE = 0.84, 0.75
MAX_SECONDS = 600.0  # of each recording, from its start: a voice does not need more (memory stays bounded)


def add_compare_parser(commands) -> None:
    compare = add_command(
        commands, "compare", "how alike voices sound: recordings, generations or speakers against a reference",
        parents=options(),
        examples=("hubert-quant compare me.wav take1.wav take2.wav",
                  "hubert-quant compare me.npz hello.wav --json"),
        description=(
            "Score each AUDIO's voice against REFERENCE's, from 0 (unlike) to 1 (the same), with a trained "
            "speaker-similarity model (Resemblyzer's, offline), best first. A recording or a speaker .npz "
            "(its prompt, decoded with EnCodec) may be given anywhere. It tells voices apart, not words or "
            "quality; the first 10 minutes of a recording are used. See docs/voice.md for what it can and cannot "
            "tell."
        ),
    )
    compare.add_argument("reference", type=Path, help="the voice to compare with: a recording or a speaker .npz")
    compare.add_argument("audio", type=Path, nargs="+", help="recordings, generations or speaker .npz files")
    compare.add_argument("--codec", default=None,
                         help="EnCodec weights to hear a speaker .npz with (default: encodec's)")
    compare.add_argument("--json", action="store_true", help="print the scores as JSON")
    compare.set_defaults(run=run_compare)


def verdict(score: float) -> str:
    if score >= SAME:
        return "likely the same voice"
    return "unsure" if score >= UNSURE else "likely another voice"


def run_compare(args: argparse.Namespace) -> int:
    from .. import voice

    voice.weights_path()  # the missing-model message before anything is read
    wanted = _embedding(args.reference, args)
    scores = sorted(((voice.similarity(wanted, _embedding(path, args)), str(path)) for path in args.audio),
                    reverse=True)
    if args.json:
        print(json.dumps({"reference": str(args.reference),
                          "scores": [{"file": f, "similarity": round(s, 4), "verdict": verdict(s)} for s, f in scores]},
                         indent=1))
        return 0
    print(f"voice similarity to {args.reference} (1 = the same voice):")
    for score, path in scores:
        print(f"  {score:.3f}  {verdict(score):<21}  {path}")
    return 0


def _embedding(path: Path, args: argparse.Namespace):
    from .. import voice
    from ..audio import load_audio
    from ..constants import BARK_SAMPLE_RATE

    if path.suffix.lower() == ".npz":
        from ..models import load_codec
        from ..speaker import BARK_FINE_HISTORY, load_speaker

        # What Bark reads of the prompt (the last 512 frames): a small file can hold minutes of codes.
        fine = load_speaker(path).fine[:, -BARK_FINE_HISTORY:]
        return voice.embed(load_codec(args.codec, device=args.device).decode(fine), BARK_SAMPLE_RATE)
    return voice.embed(*load_audio(path, end=MAX_SECONDS, rate=voice.RATE))
