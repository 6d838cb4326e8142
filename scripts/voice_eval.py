"""How well the speaker-similarity model (hubert_quant.voice) tells voices apart, on speech made here.

    python scripts/voice_eval.py [--voices N] [--keep FOLDER]

Each voice is an espeak-ng voice variant (en+m1, en+f2, ...). Each speaks three different sentence
pairs; the first is also changed with sox (slower, faster, pitched up a little, in a room) and with
noise added. Then:
- same-voice pairs (other sentences, changed copies) and different-voice pairs are scored, and the
  equal-error rate (EER) is where a threshold misjudges as many of each;
- ranking: each clip is compared with every voice's first clip; right when its own voice's is first.
It prints a table (Markdown) with the figures and the machine's time per clip. Needs espeak-ng and sox.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np

VOICES = ["en+m1", "en+m3", "en+m5", "en+m7", "en+f1", "en+f2", "en+f4", "en+klatt", "en-us+m2", "en-us+f3",
          "en+croak", "en+grandma"]
SENTENCES = [
    ("The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore."),
    ("A journey of a thousand miles begins with a single step.", "Every cloud has a silver lining."),
    ("The river flows quietly past the old stone bridge at dawn.", "Many hands make light work."),
]
# sox effects for changed copies of a voice's first clip: what a recording goes through, not a new voice.
CHANGES = {"slower": ["tempo", "0.9"], "faster": ["tempo", "1.1"], "pitch +50 cents": ["pitch", "50"],
           "room": ["reverb", "40"]}
NOISE_SNR_DB = 20.0


def run(*args) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def build(folder: Path, voices: list[str]) -> dict[str, list[tuple[str, Path]]]:
    """voice -> [(what the clip is, its wav)]; the first clip is the voice's reference."""
    import soundfile as sf

    for tool in ("espeak-ng", "sox"):
        if not shutil.which(tool):
            sys.exit(f"voice_eval needs {tool} (Debian: apt-get install {tool})")
    clips: dict[str, list[tuple[str, Path]]] = {}
    for v, voice in enumerate(voices):
        clips[voice] = []
        for k, pair in enumerate(SENTENCES):
            parts = []
            for j, sentence in enumerate(pair):
                part = folder / f"{v}-{k}-{j}.wav"
                run("espeak-ng", "-v", voice, "-w", part, sentence)
                parts.append(part)
            clip = folder / f"{v}-{k}.wav"
            run("sox", *parts, clip, "pad", "0.3", "0.3")
            clips[voice].append((f"sentences {k + 1}", clip))
        first = clips[voice][0][1]
        for name, effect in CHANGES.items():
            changed = folder / f"{v}-0-{name.split()[0]}.wav"
            run("sox", first, changed, *effect)
            clips[voice].append((name, changed))
        samples, rate = sf.read(first, dtype="float32")
        rng = np.random.default_rng(v)
        noise = rng.standard_normal(samples.size).astype(np.float32)
        noise *= np.sqrt(np.mean(samples**2) / np.mean(noise**2)) * 10 ** (-NOISE_SNR_DB / 20)
        noisy = folder / f"{v}-0-noise.wav"
        sf.write(noisy, samples + noise, rate)
        clips[voice].append((f"noise at {NOISE_SNR_DB:.0f} dB SNR", noisy))
    return clips


def equal_error_rate(same: np.ndarray, different: np.ndarray) -> tuple[float, float]:
    """(EER, its threshold): where as many same-voice pairs score below as different-voice pairs above."""
    thresholds = np.unique(np.concatenate([same, different]))
    miss = np.array([np.mean(same < t) for t in thresholds])  # same voice, judged different
    false = np.array([np.mean(different >= t) for t in thresholds])  # different voices, judged the same
    k = int(np.argmin(np.abs(miss - false)))
    return float((miss[k] + false[k]) / 2), float(thresholds[k])


def evaluate(clips: dict[str, list[tuple[str, Path]]]) -> dict:
    from hubert_quant import voice
    from hubert_quant.audio import load_audio

    voice.encoder()
    started = time.perf_counter()
    embedded = {v: [(what, voice.embed(*load_audio(path, rate=voice.RATE))) for what, path in items]
                for v, items in clips.items()}
    per_clip = (time.perf_counter() - started) / sum(len(items) for items in clips.values())
    flat = [(v, what, e) for v, items in embedded.items() for what, e in items]
    same, different = [], []
    for (v1, _, e1), (v2, _, e2) in combinations(flat, 2):
        (same if v1 == v2 else different).append(voice.similarity(e1, e2))
    same, different = np.array(same), np.array(different)
    eer, threshold = equal_error_rate(same, different)
    references = {v: items[0][1] for v, items in embedded.items()}
    right, by_kind = 0, {}
    probes = [(v, what, e) for v, items in embedded.items() for what, e in items[1:]]
    for v, what, e in probes:
        ranked = max(references, key=lambda r: voice.similarity(references[r], e))
        right += ranked == v
        kind = "other sentences" if what.startswith("sentences") else what
        hits, total = by_kind.get(kind, (0, 0))
        by_kind[kind] = (hits + (ranked == v), total + 1)
    return {"voices": len(clips), "clips": len(flat), "same": same, "different": different, "eer": eer,
            "threshold": threshold, "ranking": right / len(probes), "by_kind": by_kind, "seconds_per_clip": per_clip}


def report(r: dict) -> str:
    lines = [f"{r['voices']} espeak-ng voices, {r['clips']} clips, {len(r['same'])} same-voice and "
             f"{len(r['different'])} different-voice pairs.", "",
             "| measure | value |", "|---|---|",
             f"| equal-error rate | {r['eer']:.1%} (threshold {r['threshold']:.3f}) |",
             f"| ranking: own voice first among {r['voices']} | {r['ranking']:.1%} |",
             f"| same-voice similarity, mean (min) | {r['same'].mean():.3f} ({r['same'].min():.3f}) |",
             f"| different-voice similarity, mean (max) | {r['different'].mean():.3f} "
             f"({r['different'].max():.3f}) |",
             f"| time per clip (~4 s of speech) | {r['seconds_per_clip'] * 1000:.0f} ms |", "",
             "| probe | own voice ranked first |", "|---|---|"]
    lines += [f"| {kind} | {hits}/{total} |" for kind, (hits, total) in r["by_kind"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", type=int, default=len(VOICES), help="how many of the voices to use")
    parser.add_argument("--keep", type=Path, help="write the clips here (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        r = evaluate(build(folder, VOICES[: args.voices]))
    print(report(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
