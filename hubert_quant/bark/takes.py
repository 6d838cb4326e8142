"""Judging Bark's takes of one chunk of text on what can be measured, so the best is kept.

Each take (float32 (n,) at 24 kHz) loses points from 100 for: a length that does not fit its text
(a babbling take runs long, an early stop runs short), long silences inside, clipping, and, when a
voice judge is given, a voice unlike the speaker's. The scores choose among Bark's takes; they
cannot make Bark better than its best take.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..constants import BARK_SAMPLE_RATE

CHARS_PER_SECOND = 14.0  # speech as Bark speaks it: about 14 characters of text per second
FRAME = 0.02  # seconds per level frame
SILENT_DB = -45.0  # a frame this quiet (dBFS) is silence
VOICE_FULL = 0.9  # voice similarity that loses no points; each 0.1 below costs 15 (at most 60)

VoiceJudge = Callable[[np.ndarray], float]
"""A take (n,) at 24 kHz -> how close its voice is to the speaker's, 0 (unlike) to 1 (the same)."""


@dataclass(frozen=True)
class Take:
    """One take's measures, what they cost and its score (0-100); ``seed`` made it."""

    seed: int
    seconds: float
    score: float
    measures: dict[str, float] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    def report(self) -> dict:
        return {"seed": self.seed, "seconds": round(self.seconds, 3), "score": round(self.score, 1),
                "measures": {k: round(v, 4) for k, v in self.measures.items()}, "problems": list(self.problems)}


def judge(audio: np.ndarray, text: str, seed: int, *, voice: VoiceJudge | None = None) -> Take:
    """The measures and score of one take of ``text`` (see the module's docstring)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    seconds = audio.size / BARK_SAMPLE_RATE
    expected = expected_seconds(text)
    frames = _levels_db(audio)
    silent = frames < SILENT_DB
    measures = {
        "length_ratio": seconds / expected,
        "longest_silence": _longest_run(silent[_first(~silent):len(silent) - _first(~silent[::-1])]) * FRAME,
        "clipped": float(np.mean(np.abs(audio) >= 0.999)) if audio.size else 0.0,
    }
    if voice is not None and audio.size:
        measures["voice"] = float(voice(audio))
    penalties = _penalties(measures)
    score = max(0.0, 100.0 - sum(points for points, _ in penalties))
    return Take(seed, seconds, score, measures, tuple(words for points, words in sorted(penalties, reverse=True)
                                                       if points >= 1))


def best(takes: list[Take]) -> int:
    """Index of the take to keep: the highest score, the first on a tie (same seeds, same choice)."""
    return max(range(len(takes)), key=lambda k: (round(takes[k].score, 6), -k))


def _penalties(m: dict[str, float]) -> list[tuple[float, str]]:
    found = []
    ratio = m["length_ratio"]
    if ratio > 1.8:  # far longer than its text: babble, or long non-speech sounds
        found.append((min(60.0, 40 * (ratio - 1.8)), f"{ratio:.1f}x as long as its text needs (babble?)"))
    elif ratio < 0.5:  # far shorter: Bark stopped early
        found.append((min(60.0, 100 * (0.5 - ratio)), f"only {ratio:.1f}x as long as its text needs (cut short?)"))
    if m["longest_silence"] > 1.0:
        found.append((min(30.0, 15 * (m["longest_silence"] - 1.0)), f"a {m['longest_silence']:.1f} s silence inside"))
    if m["clipped"] > 1e-4:
        found.append((min(30.0, 3000 * m["clipped"]), f"clipped ({m['clipped']:.2%} of the samples)"))
    if "voice" in m and m["voice"] < VOICE_FULL:  # one voice measures ~0.91 on average, others ~0.71 (docs/voice.md)
        found.append((min(60.0, 150 * (VOICE_FULL - m["voice"])), f"voice similarity {m['voice']:.2f}"))
    return found


def _levels_db(audio: np.ndarray) -> np.ndarray:
    """dBFS of each 20 ms frame (f,)."""
    n = int(FRAME * BARK_SAMPLE_RATE)
    frames = audio[: audio.size // n * n].reshape(-1, n) if audio.size >= n else audio.reshape(1, -1)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) if frames.size else np.zeros(1)
    return 20 * np.log10(np.maximum(rms, 1e-10))


def _first(mask: np.ndarray) -> int:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else len(mask)


def _longest_run(mask: np.ndarray) -> int:
    if not mask.size or not mask.any():
        return 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return int(max(edges[1::2] - edges[::2]))


def expected_seconds(text: str) -> float:
    """How long ``text`` takes to speak, as the length measure expects it."""
    return max(1.0, len(" ".join(text.split())) / CHARS_PER_SECOND)

