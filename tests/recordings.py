"""Recordings nobody here wrote, with the right answer known by construction.

Speech is espeak-ng's (Debian package), joined, mixed and damaged with sox: silence, a music
bed, clipping, a second voice. Each builder returns a :class:`Built`: the file, where its clean
speech lies, and the clean speech track alone (to check that a chosen cut falls in a pause).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 22_050  # espeak-ng's own rate
GAP = 0.45  # seconds of silence between sentences: a natural pause

MAIN = [
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "How much wood would a woodchuck chuck if a woodchuck could chuck wood?",
    "Peter Piper picked a peck of pickled peppers.",
    "A journey of a thousand miles begins with a single step.",
    "Every cloud has a silver lining, or so they say.",
    "The early bird catches the worm, but the second mouse gets the cheese.",
    "Rain in the morning is no reason to stay at home all day.",
]
OTHER = [
    "Many hands make light work when the job is done together.",
    "Curiosity is the engine of every discovery we have ever made.",
    "A watched pot never boils, so go and read a book instead.",
    "The river flows quietly past the old stone bridge at dawn.",
]


@dataclass(frozen=True)
class Built:
    path: Path
    clean: tuple[float, float]  # seconds: where the undamaged speech of the main voice lies
    speech: np.ndarray  # the main voice's track alone, at RATE, as long as the file


def tools_present() -> None:
    for tool in ("espeak-ng", "sox"):
        assert shutil.which(tool), f"these tests need {tool}: apt-get install {tool}"


def sox(*args: str | Path) -> None:
    subprocess.run(["sox", *map(str, args)], check=True, capture_output=True)


def spoken(folder: Path, sentences: list[str], name: str, voice: str = "en") -> Path:
    """The sentences in espeak-ng's ``voice``, each followed by a GAP s pause, as one wav."""
    tools_present()
    parts = []
    for k, sentence in enumerate(sentences):
        part = folder / f"{name}-{k}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(part), sentence], check=True, capture_output=True)
        padded = folder / f"{name}-{k}-padded.wav"
        sox(part, "-r", RATE, "-c", 1, padded, "pad", 0, GAP)
        parts.append(padded)
    out = folder / f"{name}.wav"
    sox(*parts, out)
    return out


def music(folder: Path, seconds: float, name: str = "music") -> Path:
    """A plucked arpeggio over a soft bass, made by sox's synth."""
    notes = []
    for k in range(int(seconds / 0.4) + 1):
        note = folder / f"{name}-note-{k}.wav"
        step = (k * 7) % 12
        sox("-n", "-r", RATE, "-c", 1, note, "synth", 0.4, "pluck", f"%{step - 12}", "synth", 0.4, "sine", "mix",
            f"%{step - 24}", "gain", -6)
        notes.append(note)
    out = folder / f"{name}.wav"
    sox(*notes, out, "trim", 0, seconds)
    return out


def seconds_of(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration


def read(path: Path) -> np.ndarray:
    import soundfile as sf

    samples, rate = sf.read(str(path), dtype="float32")
    assert rate == RATE
    return samples


def silence(folder: Path, seconds: float, name: str) -> Path:
    out = folder / f"{name}.wav"
    sox("-n", "-r", RATE, "-c", 1, "-b", 16, out, "trim", 0, seconds)
    return out


def joined(folder: Path, name: str, *parts: Path) -> Path:
    out = folder / f"{name}.wav"
    sox(*parts, out)
    return out


def _track(clean: Path | None, before: float, total: float) -> np.ndarray:
    """The main voice alone, placed where it is in the built file (zeros elsewhere)."""
    track = np.zeros(int(round(total * RATE)) + RATE, dtype=np.float32)
    if clean is not None:
        x = read(clean)
        first = int(round(before * RATE))
        track[first:first + len(x)] = x
    return track[: int(round(total * RATE))]


def with_silences(folder: Path) -> Built:
    """Sentences far apart (3-4 s of silence between them), then the same voice speaking normally."""
    sparse = []
    for k, sentence in enumerate(OTHER[:3]):
        sparse.append(spoken(folder, [sentence], f"sparse-{k}"))
        sparse.append(silence(folder, 3.0 + k * 0.5, f"gap-{k}"))
    head = joined(folder, "sparse", *sparse)
    clean = spoken(folder, MAIN[:5], "clean")
    out = joined(folder, "with-silences", head, clean)
    start = seconds_of(head)
    return Built(out, (start, start + seconds_of(clean)), _track(clean, start, seconds_of(out)))


def with_music(folder: Path) -> Built:
    """The voice with a music bed under its first half, alone in its second."""
    under = spoken(folder, MAIN[:5], "under")
    bed = music(folder, seconds_of(under))
    mixed = folder / "mixed.wav"
    sox("-m", under, bed, mixed)
    clean = spoken(folder, MAIN[5:] + OTHER[:2], "clean")
    out = joined(folder, "with-music", mixed, clean)
    start = seconds_of(mixed)
    return Built(out, (start, start + seconds_of(clean)), _track(clean, start, seconds_of(out)))


def with_clipping(folder: Path) -> Built:
    """The voice 20 dB too loud, clipped at full scale (sox clips, and says so), then clean."""
    loud = spoken(folder, MAIN[5:] + OTHER[:2], "loud-src")
    clipped = folder / "clipped.wav"
    subprocess.run(["sox", str(loud), "-b", "16", str(clipped), "gain", "20"], check=True, capture_output=True)
    clean = spoken(folder, MAIN[:5], "clean")
    out = joined(folder, "with-clipping", clipped, clean)
    start = seconds_of(clipped)
    return Built(out, (start, start + seconds_of(clean)), _track(clean, start, seconds_of(out)))


def with_second_voice(folder: Path) -> Built:
    """The main voice, then another (espeak-ng's female voice, pitched about an octave higher) at the end."""
    clean = spoken(folder, MAIN, "clean")
    other = spoken(folder, OTHER, "other", voice="en+f3")
    out = joined(folder, "with-second-voice", clean, other)
    return Built(out, (0.0, seconds_of(clean)), _track(clean, 0.0, seconds_of(out)))


DAMAGE = {"silence": with_silences, "music": with_music, "clipping": with_clipping,
          "second voice": with_second_voice}


def is_pause(track: np.ndarray, at: float, *, around: float = 0.03) -> bool:
    """Whether the main voice is silent (below -45 dBFS) ``around`` s either side of ``at`` s."""
    first, last = int(round((at - around) * RATE)), int(round((at + around) * RATE))
    window = track[max(0, first):max(0, last)]
    return window.size == 0 or float(np.sqrt(np.mean(window.astype(np.float64) ** 2))) < 10 ** (-45 / 20)
