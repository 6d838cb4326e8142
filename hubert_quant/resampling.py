"""Resampling in blocks: what a whole-signal resample gives, without full-length copies.

torchaudio's sinc resampler (the one every model here was checked with) applied block by block,
with the filter's context carried across block edges, so a file decoded in blocks and the same
samples resampled whole agree to float error. Used by :mod:`hubert_quant.audio` for every file
and every array.
"""

from __future__ import annotations

import math

import numpy as np

BLOCK_VALUES = 1 << 21  # samples resampled at a time (8 MB of float32), as audio decodes them
MAX_KERNEL = 1 << 22  # resampling filter values (16 MB); larger ratios are read at a rounded rate


def resample(samples: np.ndarray, sample_rate: int, target_rate: int):
    """Resample mono ``samples`` (n,) to ``target_rate``; returns a float32 tensor (m,).

    Done in blocks, as a file is decoded (:class:`BlockResampler`): no padded full-length copies,
    and an array gives exactly what the same samples read from a mono file give.
    """
    import torch

    wav = np.ascontiguousarray(samples, dtype=np.float32)
    if sample_rate == target_rate:
        return torch.from_numpy(wav)
    resampler = BlockResampler(sample_rate, target_rate)
    out = Growing()
    out.reserve(math.ceil(resampler.new * len(wav) / resampler.orig))
    for first in range(0, len(wav), BLOCK_VALUES):
        out.add(resampler.push(wav[first : first + BLOCK_VALUES]))
    out.add(resampler.finish())
    return torch.from_numpy(out.array())


def _kernel_width(orig: int, new: int) -> int:
    """torchaudio's sinc filter half-width, in input samples, for reduced rates orig -> new."""
    return math.ceil(6 * orig / (min(orig, new) * 0.99))


def resampling_rate(rate: int, target: int) -> int:
    """The rate ``rate`` is resampled from: itself, unless its ratio to ``target`` has no small
    common factor (44101 Hz to 16 kHz would need a 2.8 GB filter); then the nearest multiple of
    50 Hz (a speed change of 0.3% at most, inaudible)."""
    g = math.gcd(rate, target)
    orig, new = rate // g, target // g
    if new * (orig + 2 * _kernel_width(orig, new)) <= MAX_KERNEL:
        return rate
    return max(50, int(round(rate / 50)) * 50)


class BlockResampler:
    """Resamples a signal fed in blocks, giving what one whole-signal ``resample`` gives (to float
    error): each call resamples the new samples with the filter's context kept from before, and
    holds back the outputs that need samples still to come."""

    def __init__(self, rate: int, target: int) -> None:
        rate = resampling_rate(rate, target)
        g = math.gcd(rate, target)
        self.rate, self.target, self.orig, self.new = rate, target, rate // g, target // g
        self.reach = _kernel_width(self.orig, self.new) + self.orig  # input an output block reads past its own
        self.context = math.ceil(self.reach / self.orig)  # blocks of orig samples kept before the next output
        self.buffer, self.buffer_start = np.zeros(0, dtype=np.float32), 0
        self.next_unit, self.total = 0, 0  # outputs come in units of `new` samples per `orig` inputs

    def push(self, block: np.ndarray) -> np.ndarray:
        """Feed mono samples (k,); returns the resampled samples now complete (j,)."""
        self.buffer = np.concatenate([self.buffer, np.asarray(block, dtype=np.float32)])
        self.total += len(block)
        stop = (self.total - self.reach) // self.orig  # units whose inputs have all arrived
        return self._emit(stop, final=False) if stop > self.next_unit else np.zeros(0, dtype=np.float32)

    def finish(self) -> np.ndarray:
        """The rest, once the signal has ended."""
        return self._emit(None, final=True)

    def _emit(self, stop: int | None, *, final: bool) -> np.ndarray:
        import torch
        import torchaudio.functional as AF

        first_unit = max(0, self.next_unit - self.context)
        begin = first_unit * self.orig - self.buffer_start
        end = len(self.buffer) if final else stop * self.orig + self.reach - self.buffer_start
        piece = torch.from_numpy(np.ascontiguousarray(self.buffer[begin:end]))
        out = AF.resample(piece, self.orig, self.new).numpy() if piece.numel() else np.zeros(0, np.float32)
        skip = (self.next_unit - first_unit) * self.new
        if final:
            wanted = math.ceil(self.new * self.total / self.orig) - self.next_unit * self.new
        else:
            wanted = (stop - self.next_unit) * self.new
            self.next_unit = stop
        keep = max(0, (self.next_unit - self.context) * self.orig)
        self.buffer = self.buffer[keep - self.buffer_start:]
        self.buffer_start = keep
        return np.ascontiguousarray(out[skip : skip + max(0, wanted)], dtype=np.float32)


class Growing:
    """A float32 array filled block by block without a second full-length copy: the estimate is
    reserved once (untouched pages cost no memory), and doubled only if the data runs past it."""

    def __init__(self) -> None:
        self.buffer, self.size = np.empty(0, dtype=np.float32), 0

    def reserve(self, n: int) -> None:
        self.buffer = np.empty(n, dtype=np.float32)

    def add(self, block: np.ndarray) -> None:
        if self.size + block.size > self.buffer.size:
            grown = np.empty(max(2 * self.buffer.size, self.size + block.size), dtype=np.float32)
            grown[: self.size] = self.buffer[: self.size]
            self.buffer = grown
        self.buffer[self.size : self.size + block.size] = block
        self.size += block.size

    def array(self) -> np.ndarray:
        return self.buffer[: self.size]
