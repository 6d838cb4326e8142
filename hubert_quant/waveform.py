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


def file_envelope(path: str | os.PathLike, width: int = WIDTH) -> Envelope:
    """The envelope of an audio file, read in blocks (memory stays bounded however long it is) and
    remembered while the file is unchanged, so moving the marked part does not read it again."""
    info = os.stat(path)
    return _file_envelope(str(path), info.st_size, info.st_mtime_ns, width)


@functools.lru_cache(maxsize=8)
def _file_envelope(path: str, size: int, mtime_ns: int, width: int) -> Envelope:
    import soundfile as sf

    with sf.SoundFile(path) as f:
        frames, rate = f.frames, f.samplerate
        edges = np.linspace(0, frames, width + 1).astype(np.int64)
        lows, highs = np.zeros(width, dtype=np.float32), np.zeros(width, dtype=np.float32)
        for column in range(width):  # the file in order, one column's frames at a time
            block = f.read(int(edges[column + 1] - edges[column]), dtype="float32", always_2d=True).mean(axis=1)
            if block.size:
                lows[column], highs[column] = block.min(), block.max()
            elif column:  # fewer frames than columns
                lows[column], highs[column] = lows[column - 1], highs[column - 1]
    return Envelope(lows, highs, frames / max(1, rate))


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
