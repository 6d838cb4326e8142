"""Test signals for tests and benchmarks (no recordings are committed)."""

from __future__ import annotations

import numpy as np


def speech_like(seconds: float, sample_rate: int, *, seed: int = 0) -> np.ndarray:
    """A voiced-sounding signal: a gliding harmonic tone, syllable-rate envelope, a little noise.

    returns: float32 array, shape (round(seconds * sample_rate),), peak about 0.5
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    x = voice * envelope + 0.02 * rng.standard_normal(t.size)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)
