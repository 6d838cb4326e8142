"""Benchmark picking the best part (``clone --auto``) against silero-vad's own pass alone.

    python scripts/bench_segment.py [--minutes 1 10] [--json out.json]
    python scripts/bench_segment.py --scale [--minutes 10 120] [--json out.json]

The recording is espeak-ng speech (Debian's espeak-ng must be installed) repeated to each
length, with a pause between sentences. The baseline is what any use of the VAD costs:
silero-vad's ``get_speech_timestamps`` over the same 16 kHz samples; ours adds resampling,
levels, clipping, pitch and the scoring of every candidate. Both run in this process, alternating.

``--scale`` asks whether long recordings cost linear time: for each length, a wav file is written
and two fresh processes run on it, each timed with its peak RSS: the app's Pick
(``segment.analyse_file`` + ``best_segment``, as the Clone tab calls them) and ``hubert-quant clone
--auto`` with full-size random-init models; then the ratio of each time to the shortest length's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts"), str(ROOT / "tests" / "fixtures")]

TEXT = ("The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. "
        "How much wood would a woodchuck chuck if a woodchuck could chuck wood?")


def speech(minutes: float, folder: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    wav = folder / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(wav), TEXT], check=True, capture_output=True)
    samples, rate = sf.read(str(wav), dtype="float32")
    piece = np.concatenate([samples, np.zeros(rate // 2, dtype=np.float32)])
    return np.tile(piece, int(np.ceil(minutes * 60 * rate / len(piece))))[: int(minutes * 60 * rate)], rate


PICK = r"""
import sys
sys.path.insert(0, sys.argv[1])
from hubert_quant.constants import HUBERT_SAMPLE_RATE
from hubert_quant.segment import analyse_file, best_segment
print(best_segment(None, HUBERT_SAMPLE_RATE, analysis=analyse_file(sys.argv[2])).describe())
"""


def child(args: list[str]) -> dict:
    """Run ``args`` in a fresh process: its seconds, peak RSS (MB) and last line of output."""
    import subprocess

    start = time.perf_counter()
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    last = output.strip().splitlines()[-1] if output.strip() else ""
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args[:4])} ... failed ({process.returncode}): {output[-2000:]}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "said": last}


def scale(minutes: list[float]) -> dict:
    """Pick and clone --auto at each length, each in its own process (see the module's docstring)."""
    import soundfile as sf
    from bench import make_full_models

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        models = make_full_models(folder / "models")
        options = ["--hubert", str(models["hubert"]), "--quantizer", str(models["quantizer"]),
                   "--codec", str(models["codec"]), "--device", "cpu"]
        for length in minutes:
            samples, rate = speech(length, folder)
            wav = folder / f"{length:g}min.wav"
            sf.write(wav, samples, rate, subtype="PCM_16")
            del samples
            if not rows:  # the first clone of a process tree makes HuBERT's fast-start copy: not timed
                child([sys.executable, "-m", "hubert_quant", "clone", str(wav), "--auto", "--out",
                       str(folder / "warm-up.npz"), *options])
            pick = child([sys.executable, "-c", PICK, str(ROOT), str(wav)])
            clone = child([sys.executable, "-m", "hubert_quant", "clone", str(wav), "--auto", "--out",
                           str(folder / f"{length:g}min.npz"), *options])
            rows.append({"minutes": length, "pick": pick, "clone_auto": clone})
            print(f"{length:g} min: Pick {pick['seconds']:.1f} s, {pick['peak_rss_mb']:.0f} MB peak; "
                  f"clone --auto {clone['seconds']:.1f} s, {clone['peak_rss_mb']:.0f} MB peak", flush=True)
            wav.unlink()
    first = rows[0]
    for row in rows[1:]:
        times = row["minutes"] / first["minutes"]
        print(f"{row['minutes']:g} min against {first['minutes']:g} min ({times:g}x the audio): Pick "
              f"{row['pick']['seconds'] / first['pick']['seconds']:.1f}x the time, clone --auto "
              f"{row['clone_auto']['seconds'] / first['clone_auto']['seconds']:.1f}x")
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--scale", action="store_true", help="Pick and clone --auto, each in a fresh process")
    args = parser.parse_args(argv)
    if args.scale:
        results = scale(args.minutes)
        if args.json:
            args.json.write_text(json.dumps({"cpus": os.cpu_count(), **results}, indent=2))
        return 0

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
