"""What a recording's choice is measured with, on a grid of 20 ms frames: level, clipping, pitch.

Each works in blocks, so a recording hours long costs its frames (a few floats each), not copies
of its samples: :class:`Clipping` even takes the recording at its own rate block by block as it
is decoded (see :func:`hubert_quant.segment.analyse_file`).
"""

from __future__ import annotations

import numpy as np

from .constants import HUBERT_SAMPLE_RATE

FRAME_SECONDS = 0.02  # the analysis grid: 20 ms frames (320 samples at 16 kHz)
FRAME = int(HUBERT_SAMPLE_RATE * FRAME_SECONDS)
BLOCK = 1 << 20  # samples measured at a time: memory stays bounded on long recordings
SILENT_DB = -100.0  # the level of digital silence (log of zero)


class Clipping:
    """Clipped samples per 20 ms frame, measured at the recording's own rate as its mono blocks
    arrive (resampling rounds the flat tops off).

    Clipped audio holds its peak for runs of samples; clean audio touches its peak only in passing.
    A sample counts when it and both neighbours sit within 1% of the peak: each frame keeps the
    highest such run level and how many samples reach 99% of it, so nothing full-length is kept.
    A frame at the recording's peak is counted exactly; one within 1% below it, against its own
    top.
    """

    def __init__(self, rate: int) -> None:
        self.rate, self.peak, self.count = int(rate), 0.0, 0
        self.carry = np.zeros(0, dtype=np.float32)  # the last 2 magnitudes: neighbours of the next block
        self.pending = np.zeros(0, dtype=np.float32)  # run levels of the frame not yet complete
        self.pending_at = 1  # the sample position of pending[0] (sample 0 has no left neighbour)
        self.firsts: list[int] = []  # the frame number each entry of tops/near starts at
        self.tops: list[np.ndarray] = []  # per complete frame: highest run level
        self.near: list[np.ndarray] = []  # per complete frame: samples within 1% of it

    @property
    def seconds(self) -> float:
        return self.count / self.rate if self.rate else 0.0

    def add(self, block: np.ndarray) -> None:
        """Measure the next mono samples (k,)."""
        magnitude = np.abs(np.asarray(block, dtype=np.float32))
        if not magnitude.size:
            return
        self.count += magnitude.size
        self.peak = max(self.peak, float(magnitude.max()))
        joined = np.concatenate([self.carry, magnitude])
        self.carry = joined[-2:]
        if joined.size >= 3:  # the level each sample holds with both neighbours
            level = np.minimum(np.minimum(joined[:-2], joined[1:-1]), joined[2:])
            self.pending = np.concatenate([self.pending, level])
        self._frames(final=False)

    def _frames(self, *, final: bool) -> None:
        if not self.pending.size:
            return
        frame = (np.arange(self.pending_at, self.pending_at + self.pending.size, dtype=np.int64) * 50) // self.rate
        done = self.pending.size if final else int(np.searchsorted(frame, frame[-1]))  # the last frame may go on
        if done:
            self.firsts.append(int(frame[0]))
            frame, level = frame[:done] - frame[0], self.pending[:done]
            starts = np.flatnonzero(np.diff(frame, prepend=-1))
            tops = np.full(int(frame[-1]) + 1, -1.0, dtype=np.float32)  # frames without a sample: nothing
            tops[frame[starts]] = np.maximum.reduceat(level, starts)
            near = np.bincount(frame, weights=level >= 0.99 * tops[frame], minlength=tops.size)
            self.tops.append(tops)
            self.near.append(near)
            self.pending, self.pending_at = self.pending[done:], self.pending_at + done

    def per_frame(self, n_frames: int) -> np.ndarray:
        """(n_frames,) fraction of each 20 ms frame's samples that sit flat at the recording's peak."""
        self._frames(final=True)
        clipped = np.zeros(n_frames)
        if self.peak < 0.25 or not self.tops or not n_frames:  # far below full scale: nothing hit a ceiling
            return clipped
        counts = np.zeros(n_frames)
        for first, tops, near in zip(self.firsts, self.tops, self.near, strict=True):
            near = np.where(tops >= 0.99 * self.peak, near, 0.0)
            counts += np.bincount(np.minimum(np.arange(first, first + near.size), n_frames - 1), weights=near,
                                  minlength=n_frames)[:n_frames]
        return counts / max(1.0, self.count / n_frames)


def levels(wav: np.ndarray, n_frames: int) -> np.ndarray:
    """(F,) RMS level of each 20 ms frame of 16 kHz ``wav`` in dBFS, in blocks of frames."""
    level = np.empty(n_frames)
    step = BLOCK // FRAME
    for first in range(0, n_frames, step):
        last = min(n_frames, first + step)
        frames = wav[first * FRAME : last * FRAME].reshape(last - first, FRAME).astype(np.float64)
        level[first:last] = 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 10 ** (SILENT_DB / 10)))
    return level


def pitch(wav: np.ndarray, n_frames: int, *, low: float = 60.0, high: float = 400.0) -> np.ndarray:
    """(F,) pitch of 16 kHz samples per 20 ms frame (40 ms windows), by autocorrelation; NaN if unvoiced."""
    window = 2 * FRAME
    lags = slice(int(HUBERT_SAMPLE_RATE / high), int(HUBERT_SAMPLE_RATE / low) + 1)
    f0 = np.full(n_frames, np.nan)
    taper = np.hanning(window).astype(np.float32)
    for first in range(0, n_frames, 2048):  # blocks bound the memory on long recordings
        idx = np.arange(first, min(n_frames, first + 2048))
        padded = np.zeros(len(idx) * FRAME + window, dtype=np.float32)  # this block's samples, zeros past the end
        chunk = wav[first * FRAME : first * FRAME + padded.size]
        padded[: chunk.size] = chunk
        frames = padded[(idx - first)[:, None] * FRAME + np.arange(window)]
        frames = (frames - frames.mean(axis=1, keepdims=True)) * taper
        spectrum = np.fft.rfft(frames, 2 * window, axis=1)
        corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :window]
        energy = corr[:, 0]
        best = np.argmax(corr[:, lags], axis=1) + lags.start
        strength = corr[np.arange(len(idx)), best] / np.maximum(energy, 1e-12)
        voiced = (strength > 0.45) & (energy > 1e-6)
        f0[idx[voiced]] = HUBERT_SAMPLE_RATE / best[voiced]
    return f0
