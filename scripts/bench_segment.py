"""Benchmark picking the best part (``clone --auto``) against silero-vad's own pass alone.

    python scripts/bench_segment.py [--minutes 1 10] [--json out.json]

The recording is espeak-ng speech (Debian's espeak-ng must be installed) repeated to each
length, with a pause between sentences. The baseline is what any use of the VAD costs:
silero-vad's ``get_speech_timestamps`` over the same 16 kHz samples; ours adds resampling,
levels, clipping, pitch and the scoring of every candidate. Both run in this process, alternating.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TEXT = ("The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. "
        "How much wood would a woodchuck chuck if a woodchuck could chuck wood?")


def speech(minutes: float, folder: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), TEXT], check=True, capture_output=True)
    samples, rate = sf.read(str(wav), dtype="float32")
    piece = np.concatenate([samples, np.zeros(rate // 2, dtype=np.float32)])
    return np.tile(piece, int(np.ceil(minutes * 60 * rate / len(piece))))[: int(minutes * 60 * rate)], rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    import torch
    from silero_vad import get_speech_timestamps

    from hubert_quant import segment
    from hubert_quant.audio import resample
    from hubert_quant.constants import HUBERT_SAMPLE_RATE

    model = segment.vad_model()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for minutes in args.minutes:
            samples, rate = speech(minutes, Path(scratch))
            wav16k = resample(samples, rate, HUBERT_SAMPLE_RATE)
            plain, ours = [], []
            for _ in range(args.reps):
                start = time.perf_counter()
                with torch.inference_mode():
                    get_speech_timestamps(wav16k, model, sampling_rate=HUBERT_SAMPLE_RATE)
                plain.append(time.perf_counter() - start)
                start = time.perf_counter()
                best = segment.best_segment(samples, rate)
                ours.append(time.perf_counter() - start)
            row = {"minutes": minutes, "plain_vad_s": statistics.median(plain),
                   "best_segment_s": statistics.median(ours), "picked": best.describe()}
            row["ratio"] = row["best_segment_s"] / row["plain_vad_s"]
            rows.append(row)
            print(f"{minutes:g} min: silero-vad alone {row['plain_vad_s']:.2f} s, best_segment "
                  f"{row['best_segment_s']:.2f} s ({row['ratio']:.2f}x; {row['best_segment_s'] / minutes:.2f} s a "
                  f"minute); picked {row['picked']}")
    if args.json:
        args.json.write_text(json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
