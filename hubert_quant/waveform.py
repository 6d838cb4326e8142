"""A picture of a recording with the part to clone marked: what the Clone tab shows.

Drawn with Pillow (already there with Gradio) as an RGB array, which every Gradio version's
``gr.Image`` shows: the waveform's envelope, the chosen part shaded orange, the stretches the
voice-activity detector heard as speech as a green bar along the bottom, and a time scale.
"""

from __future__ import annotations

import numpy as np

WIDTH, HEIGHT = 960, 150
SCALE = 16  # pixels at the bottom for the time scale
BACKGROUND, WAVE, CHOSEN, CHOSEN_WAVE, SPEECH, TICKS = (
    (250, 250, 250), (150, 150, 160), (255, 222, 179), (214, 98, 0), (46, 160, 67), (90, 90, 90))


def picture(samples: np.ndarray, rate: int, *, start: float | None = None, end: float | None = None,
            speech: tuple[tuple[float, float], ...] = (), width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """The waveform of mono ``samples`` (n,) at ``rate``, ``start``-``end`` s marked (None: nothing
    marked; ``end`` None: to the end), ``speech`` stretches underlined. Returns (height, width, 3) uint8."""
    from PIL import Image, ImageDraw

    seconds = max(len(samples) / rate, 1e-3)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    x_of = lambda t: int(round(min(max(t, 0.0), seconds) / seconds * (width - 1)))  # noqa: E731
    wave_top, wave_bottom = 4, height - SCALE - 8
    chosen = None
    if start is not None or end is not None:
        chosen = (x_of(start or 0.0), x_of(seconds if end is None else end))
        draw.rectangle([chosen[0], 0, chosen[1], wave_bottom + 6], fill=CHOSEN)
    lows, highs = _envelope(np.asarray(samples, dtype=np.float32), width)
    peak = max(float(np.max(np.abs(samples))) if len(samples) else 0.0, 1e-6)
    middle, half = (wave_top + wave_bottom) / 2, (wave_bottom - wave_top) / 2
    for x in range(width):
        colour = CHOSEN_WAVE if chosen and chosen[0] <= x <= chosen[1] else WAVE
        draw.line([x, middle - highs[x] / peak * half, x, middle - lows[x] / peak * half], fill=colour)
    for first, last in speech:
        draw.rectangle([x_of(first), wave_bottom + 2, x_of(last), wave_bottom + 6], fill=SPEECH)
    step = _tick_step(seconds, width)
    for k in range(int(seconds / step) + 1):
        x = x_of(k * step)
        draw.line([x, height - SCALE, x, height - SCALE + 4], fill=TICKS)
        label = f"{k * step:g} s"
        if x + 6 * len(label) < width:
            draw.text((x + 2, height - SCALE + 3), label, fill=TICKS)
    return np.asarray(image)


def _envelope(samples: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) sample under each of ``width`` columns, each of shape (width,)."""
    if samples.size == 0:
        return np.zeros(width), np.zeros(width)
    edges = np.linspace(0, samples.size, width + 1).astype(int)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)  # a column gets at least one sample
    edges = np.minimum(edges, samples.size - 1)
    lows = np.minimum.reduceat(samples, edges[:-1])
    highs = np.maximum.reduceat(samples, edges[:-1])
    return lows, highs


def _tick_step(seconds: float, width: int) -> float:
    """A round number of seconds between ticks, at least ~70 pixels apart."""
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800):
        if seconds / step * 70 <= width:
            return step
    return 3600.0
