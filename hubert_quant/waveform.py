"""A picture of a recording with the part to clone marked: what the Clone tab shows.

Drawn with Pillow (already there with Gradio) as an RGB array, which every Gradio version's
``gr.Image`` shows: the waveform's envelope, the chosen part shaded orange, the stretches the
voice-activity detector heard as speech as a green bar along the bottom, and a time scale.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

WIDTH, HEIGHT = 960, 150
SCALE = 16  # pixels at the bottom for the time scale
BACKGROUND, WAVE, CHOSEN, CHOSEN_WAVE, SPEECH, TICKS = (
    (250, 250, 250), (150, 150, 160), (255, 222, 179), (214, 98, 0), (46, 160, 67), (90, 90, 90))


@dataclass(frozen=True)
class Envelope:
    """A recording drawn at ``width`` columns: lowest and highest sample under each, shape (width,)."""

    lows: np.ndarray
    highs: np.ndarray
    seconds: float


def file_envelope(path: str | os.PathLike, width: int = WIDTH, *, limits=None) -> Envelope:
    """The envelope of an audio file, read in blocks (memory stays bounded however long it is, see
    :func:`hubert_quant.audio.read_blocks`) and remembered while the file is unchanged, so moving
    the marked part does not read it again. Files over ``limits`` are refused (AudioError)."""
    from .audio import DEFAULT_LIMITS, check_file

    info = os.stat(check_file(path))
    return _file_envelope(str(path), info.st_size, info.st_mtime_ns, width, limits or DEFAULT_LIMITS)


@functools.lru_cache(maxsize=8)
def _file_envelope(path: str, size: int, mtime_ns: int, width: int, limits) -> Envelope:
    from .audio import read_blocks

    headers = []
    lows, highs = np.full(width, np.inf, dtype=np.float32), np.full(width, -np.inf, dtype=np.float32)
    position, edges = 0, None
    for block in read_blocks(path, limits=limits, header=headers.append):
        if edges is None:  # column k draws frames edges[k] to edges[k + 1] (an unknown length: all in the last)
            edges = np.linspace(0, headers[0].frames or 1, width + 1).astype(np.int64)
        column = np.clip(np.searchsorted(edges, np.arange(position, position + block.size), side="right") - 1,
                         0, width - 1)
        starts = np.flatnonzero(np.diff(column, prepend=-1))  # columns are in order: one run each
        lows[column[starts]] = np.minimum(lows[column[starts]], np.minimum.reduceat(block, starts))
        highs[column[starts]] = np.maximum(highs[column[starts]], np.maximum.reduceat(block, starts))
        position += block.size
    for k in range(width):  # fewer frames than columns: a column repeats the one before
        if not np.isfinite(lows[k]):
            lows[k], highs[k] = (lows[k - 1], highs[k - 1]) if k else (0.0, 0.0)
    return Envelope(lows, highs, position / max(1, headers[0].samplerate))


def draw(envelope: Envelope, *, start: float | None = None, end: float | None = None,
         speech: tuple[tuple[float, float], ...] = (), height: int = HEIGHT) -> np.ndarray:
    """The waveform of ``envelope``, ``start``-``end`` s marked (None: nothing marked; ``end`` None: to
    the end), ``speech`` stretches underlined. Returns (height, width, 3) uint8."""
    from PIL import Image, ImageDraw

    lows, highs = envelope.lows, envelope.highs
    width, seconds = len(lows), max(envelope.seconds, 1e-3)
    image = Image.new("RGB", (width, height), BACKGROUND)
    pen = ImageDraw.Draw(image)
    x_of = lambda t: int(round(min(max(t, 0.0), seconds) / seconds * (width - 1)))  # noqa: E731
    wave_top, wave_bottom = 4, height - SCALE - 8
    chosen = None
    if start is not None or end is not None:
        chosen = (x_of(start or 0.0), x_of(seconds if end is None else end))
        pen.rectangle([chosen[0], 0, chosen[1], wave_bottom + 6], fill=CHOSEN)
    peak = max(float(np.max(np.abs(np.concatenate([lows, highs])))) if width else 0.0, 1e-6)
    middle, half = (wave_top + wave_bottom) / 2, (wave_bottom - wave_top) / 2
    for x in range(width):
        colour = CHOSEN_WAVE if chosen and chosen[0] <= x <= chosen[1] else WAVE
        pen.line([x, middle - highs[x] / peak * half, x, middle - lows[x] / peak * half], fill=colour)
    for first, last in speech:
        pen.rectangle([x_of(first), wave_bottom + 2, x_of(last), wave_bottom + 6], fill=SPEECH)
    step = _tick_step(seconds, width)
    for k in range(int(seconds / step) + 1):
        x = x_of(k * step)
        pen.line([x, height - SCALE, x, height - SCALE + 4], fill=TICKS)
        label = f"{k * step:g} s"
        if x + 6 * len(label) < width:
            pen.text((x + 2, height - SCALE + 3), label, fill=TICKS)
    return np.asarray(image)


def _tick_step(seconds: float, width: int) -> float:
    """A round number of seconds between ticks, at least ~70 pixels apart."""
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800):
        if seconds / step * 70 <= width:
            return step
    return 3600.0
