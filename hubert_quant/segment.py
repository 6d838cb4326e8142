"""Picking the part of a recording to clone, and joining clips of one speaker into one prompt.

A clone is only as good as the stretch it is made from: 5 to 15 s of one clear voice that
starts and ends in a pause (Bark continues from the END of a prompt). People upload whole
voice notes and podcasts, so the part is found for them:

    samples --16 kHz--> silero VAD (a trained voice-activity model) --> speech stretches
    candidates: runs of consecutive stretches lasting 5-15 s, cut inside the pauses around them
    each candidate loses points for what can be measured on the audio alone (see `_penalties`):
        silence, long inner pauses, clipping, background (music, noise) under the speech,
        a quiet or uneven level, a pitch far from the recording's main voice, an end or start
        that is not a pause, a length far from 8-12 s
    best = the candidate with the highest score (ties: the earliest); fully deterministic.

No cloning model runs here: the VAD's pass, the voice check and some numpy, in time linear in the length
(scripts/bench_segment.py). The VAD hears speech, not speakers; the speaker-similarity model
(hubert_quant.voice, where installed) compares each stretch of 1 s or more with the main voice, so a second
voice is caught even at the same pitch; the pitch check stays for stretches too short to tell.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import noise
from .audio import MIN_SECONDS
from .constants import HUBERT_SAMPLE_RATE
from .errors import AudioError, ModelNotFoundError
from .measures import BLOCK, FRAME, FRAME_SECONDS, SILENT_DB, Clipping, levels, pitch
from .voice import voice_match

SHORTEST, LONGEST = 5.0, 15.0  # seconds: what clones work best from
IDEAL = (8.0, 12.0)  # inside the range, the lengths that lose no points
LEAD, TAIL = 0.2, 0.3  # seconds of the pause kept before the first and after the last word
VOICE_MATCH = 0.78  # a stretch less like the main voice than this is taken for another speaker
CUT = 0.02  # a part's end (or start) with less pause than this beside it cuts a word
JOIN_PAUSE = 0.5  # seconds of silence between clips joined into one prompt
COMBINED_LONGEST = 15.0  # a joined prompt's length at most; Bark reads only its last ~7 s anyway
PART_SHORTEST = 3.0  # each clip's part in a joined prompt: at least one phrase
NO_SPEECH = ("no speech was found in the recording (the voice-activity detector heard none); "
             "use a recording of someone speaking.")

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while the VAD runs."""


@dataclass(frozen=True)
class Segment:
    """A part of a recording, in seconds from its start, with what was measured on it."""

    start: float
    end: float
    score: float  # 100: nothing found wrong; each problem takes points off (see `_penalties`)
    problems: tuple[str, ...] = ()  # what cost points, worst first, in words
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start

    def describe(self) -> str:
        """One line for people: the range, the score and what is wrong with it."""
        found = "; ".join(self.problems) if self.problems else "clear speech, ends in a pause"
        return f"{self.start:.2f}-{self.end:.2f} s ({self.duration:.1f} s), score {self.score:.0f}/100: {found}"

    def as_metadata(self) -> dict[str, object]:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "score": round(self.score, 1),
                "problems": list(self.problems)}


@dataclass(frozen=True)
class Analysis:
    """What the choice is made from: the recording on a 20 ms grid, and where speech is.

    level_db: (F,) RMS level of each frame in dBFS; clipped: (F,) fraction of clipped samples;
    f0: (F,) pitch in Hz, NaN where unvoiced; speech: [(start, end)] seconds, from the VAD.
    voice_match: per stretch, how alike its voice is to the recording's main voice (hubert_quant.voice;
    empty where that model is not installed); NaN for a stretch too short to tell (under 1 s).
    """

    duration: float
    level_db: np.ndarray
    clipped: np.ndarray
    f0: np.ndarray
    speech: tuple[tuple[float, float], ...]
    voice_match: tuple[float, ...] = ()  # per speech stretch: its voice's similarity to the main voice's

    @property
    def main_pitch(self) -> float:
        """Median pitch (Hz) over the recording's speech: its main voice's."""
        voiced = self.f0[self._speech_mask() & np.isfinite(self.f0)]
        return float(np.median(voiced)) if voiced.size else math.nan

    @functools.cached_property
    def _bounds(self) -> tuple[list[float], list[float]]:
        return [s for s, _ in self.speech], [e for _, e in self.speech]

    def stretches_within(self, start: float, end: float) -> range:
        """Indices of the stretches overlapping ``start``-``end`` s, by bisection (reading all made Pick quadratic)."""
        starts, ends = self._bounds
        return range(bisect.bisect_right(ends, start), bisect.bisect_left(starts, end))

    def _speech_mask(self) -> np.ndarray:
        mask = np.zeros(self.level_db.size, dtype=bool)
        for start, end in self.speech:
            mask[_frame(start):_frame(end)] = True
        return mask


def analyse(samples: np.ndarray, rate: int, *, progress: Progress | None = None,
            clipping: Clipping | None = None) -> Analysis:
    """Measure mono ``samples`` (n,) at ``rate`` for :func:`best_segment`.

    clipping: the clipping already measured at the recording's own rate while ``samples`` were
    decoded to 16 kHz (see :func:`analyse_file`); else it is measured on ``samples``.
    """
    if clipping is None:
        clipping = Clipping(rate)
        for first in range(0, len(samples), BLOCK):
            clipping.add(samples[first : first + BLOCK])
        wav = to_16k(samples, rate)
    elif rate != HUBERT_SAMPLE_RATE:
        raise ValueError("with clipping measured, samples must be at 16 kHz")
    else:
        wav = np.asarray(samples, dtype=np.float32)
    n_frames = len(wav) // FRAME
    speech = speech_stretches(wav, progress=progress)
    return Analysis(duration=clipping.seconds or len(wav) / HUBERT_SAMPLE_RATE, level_db=levels(wav, n_frames),
                    clipped=clipping.per_frame(n_frames), f0=pitch(wav, n_frames), speech=speech,
                    voice_match=voice_match(wav, speech))


def read_16k(path, *, start: float | None = None, end: float | None = None, limits=None) -> tuple[np.ndarray, Clipping]:
    """A recording (the part ``start``-``end`` s) as 16 kHz mono (n,), decoded in blocks, and its
    clipping measured at its own rate on the way: what :func:`analyse` needs, and nothing longer."""
    from .audio import audio_info, load_audio

    clipping = Clipping(audio_info(path, limits).samplerate)
    wav, _ = load_audio(path, start=start, end=end, rate=HUBERT_SAMPLE_RATE, limits=limits, on_native=clipping.add)
    return wav, clipping


def analyse_file(path, *, start: float | None = None, end: float | None = None, limits=None,
                 progress: Progress | None = None) -> Analysis:
    """:func:`analyse` of an audio file (the part ``start``-``end`` s), read in blocks: peak memory is
    the 16 kHz mono (64 kB a second), whatever the file's rate, channels and length."""
    wav, clipping = read_16k(path, start=start, end=end, limits=limits)
    return analyse(wav, HUBERT_SAMPLE_RATE, progress=progress, clipping=clipping)


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono ``samples`` (n,) at ``rate`` resampled to 16 kHz (m,), in blocks."""
    from .audio import resample

    return resample(samples, rate, HUBERT_SAMPLE_RATE).numpy()


def best_segment(
    samples: np.ndarray, rate: int, *, shortest: float = SHORTEST, longest: float = LONGEST,
    progress: Progress | None = None, analysis: Analysis | None = None,
) -> Segment:
    """The best part of mono ``samples`` (n,) at ``rate`` to clone: ``shortest``-``longest`` s,
    starting and ending in pauses. A recording too short for that gives its best shorter part.

    Raises :class:`~hubert_quant.errors.AudioError` when the VAD hears no speech at all.
    """
    return ranked_segments(samples, rate, shortest=shortest, longest=longest, progress=progress,
                           analysis=analysis)[0]


def ranked_segments(
    samples: np.ndarray, rate: int, *, shortest: float = SHORTEST, longest: float = LONGEST,
    progress: Progress | None = None, analysis: Analysis | None = None,
) -> list[Segment]:
    """Every candidate part, best first (see :func:`best_segment`)."""
    analysis = analysis or analyse(samples, rate, progress=progress)
    if not analysis.speech:
        raise AudioError(NO_SPEECH)
    found = _candidates(analysis, shortest, longest)
    if not found:  # too short, or the speech too sparse, for the usual range: the best shorter part
        found = _candidates(analysis, min(MIN_SECONDS, shortest), longest)
    if not found:
        raise AudioError(f"the speech found is shorter than {MIN_SECONDS:.0f} s in all; "
                         "5 to 15 s of speech works best.")
    main_pitch = analysis.main_pitch
    ideal = (min(IDEAL[0], 0.6 * longest), min(IDEAL[1], longest))  # a clip's part in a joined prompt is shorter
    scored = [_score(analysis, start, end, start_pause, end_pause, main_pitch, ideal)
              for start, end, start_pause, end_pause in found]
    return sorted(scored, key=lambda s: (-round(s.score, 6), s.start))


def assess(samples: np.ndarray, rate: int, start: float = 0.0, end: float | None = None, *,
           analysis: Analysis | None = None) -> Segment:
    """Score a part chosen by hand: ``start`` to ``end`` seconds (None: the end) of ``samples`` (n,)."""
    analysis = analysis or analyse(samples, rate)
    end = analysis.duration if end is None else min(end, analysis.duration)
    if not analysis.speech:
        raise AudioError(NO_SPEECH)
    return _score(analysis, start, end, _pause_at(analysis, start), _pause_at(analysis, end), analysis.main_pitch,
                  IDEAL)


def _pause_at(analysis: Analysis, at: float) -> float:
    """How long the pause around ``at`` seconds is (0 inside speech)."""
    ends = [0.0, *(e for _, e in analysis.speech)]
    starts = [*(s for s, _ in analysis.speech), analysis.duration]
    for before, after in zip(ends, starts, strict=True):
        if before <= at <= after:
            return after - before
    return 0.0


# ---- joining clips of one speaker -----------------------------------------------------------------


def join_parts(clips: Sequence[tuple[np.ndarray, Segment]], rate: int,
               *, longest: float = COMBINED_LONGEST) -> tuple[np.ndarray, list[int], list[int]]:
    """Join each clip's part, weakest first and best last (ties: in the order given), with a pause
    between parts.

    clips: (samples (n,) at ``rate``, the part of them to take) per clip.
    Returns (joined samples (m,), the order used as clip indexes, clips left out for length),
    never longer than ``longest`` s: the weakest parts are left out first.
    """
    order = sorted(range(len(clips)), key=lambda i: (clips[i][1].score, i))  # best last: Bark continues it
    left_out: list[int] = []
    while len(order) > 1 and sum(clips[i][1].duration for i in order) + JOIN_PAUSE * (len(order) - 1) > longest:
        left_out.append(order.pop(0))
    pause = np.zeros(int(round(JOIN_PAUSE * rate)), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for i in order:
        samples, segment = clips[i]
        piece = samples[int(round(segment.start * rate)) : int(round(segment.end * rate))].astype(np.float32)
        pieces += [pause, _faded(piece, rate)] if pieces else [_faded(piece, rate)]
    return np.concatenate(pieces), order, left_out


def part_lengths(n_clips: int) -> tuple[float, float]:
    """(shortest, longest) seconds of each clip's part, so that ``n_clips`` parts fit one prompt."""
    if n_clips <= 1:
        return SHORTEST, LONGEST
    share = (COMBINED_LONGEST - JOIN_PAUSE * (n_clips - 1)) / n_clips
    return PART_SHORTEST, max(PART_SHORTEST, min(LONGEST, share))


def _faded(piece: np.ndarray, rate: int) -> np.ndarray:
    """``piece`` with 10 ms fades at both ends, so joins never click."""
    n = min(len(piece) // 2, int(0.01 * rate))
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        piece = piece.copy()
        piece[:n] *= ramp
        piece[-n:] *= ramp[::-1]
    return piece


# ---- the voice-activity detector ------------------------------------------------------------------


_VAD = None


def speech_stretches(wav16k: np.ndarray, *, progress: Progress | None = None) -> tuple[tuple[float, float], ...]:
    """Where the VAD hears speech in 16 kHz samples (n,): ((start, end) seconds, ...), split at
    pauses of 100 ms or more (and stretches longer than 15 s at their longest pause)."""
    import torch

    model = vad_model()
    options = {}
    if progress is not None:
        options["progress_tracking_callback"] = lambda percent: progress(int(percent), 100)
    from silero_vad import get_speech_timestamps

    with torch.inference_mode():
        found = get_speech_timestamps(torch.from_numpy(np.ascontiguousarray(wav16k, dtype=np.float32)), model,
                                      sampling_rate=HUBERT_SAMPLE_RATE, max_speech_duration_s=LONGEST,
                                      min_silence_duration_ms=100, **options)
    return tuple((s["start"] / HUBERT_SAMPLE_RATE, s["end"] / HUBERT_SAMPLE_RATE) for s in found)


def vad_model():
    """silero-vad's model (shipped inside its wheel: no download), loaded once per process."""
    global _VAD
    if _VAD is None:
        import torch

        threads = torch.get_num_threads()
        try:
            with noise.quiet(FutureWarning):  # torch.jit.load's deprecation, torch 2.9+
                import silero_vad

                _VAD = silero_vad.load_silero_vad()
        except ImportError as e:
            raise ModelNotFoundError(
                "picking the best part of a recording needs the silero-vad package (its voice-activity "
                "model ships inside it): pip install silero-vad, or give the part by hand (--start/--end)."
            ) from e
        finally:
            torch.set_num_threads(threads)  # importing silero_vad sets torch to one thread, for everyone
    return _VAD


# ---- measures -------------------------------------------------------------------------------------


def _frame(seconds: float) -> int:
    return int(round(seconds / FRAME_SECONDS))


def _candidates(analysis: Analysis, shortest: float, longest: float) -> list[tuple[float, float, float, float]]:
    """(start, end, pause before, pause after) of each run of stretches lasting shortest-longest s."""
    stretches = analysis.speech
    edges = [0.0, *(end for _, end in stretches)]
    starts = [*(start for start, _ in stretches), analysis.duration]
    gaps = [max(0.0, starts[i] - edges[i]) for i in range(len(stretches) + 1)]  # gaps[i]: before stretch i
    found = []
    for i, (first, _) in enumerate(stretches):
        start = max(0.0, first - min(LEAD, gaps[i] / 2))
        for j in range(i, len(stretches)):
            end = min(analysis.duration, stretches[j][1] + min(TAIL, gaps[j + 1] / 2))
            if end - start > longest:
                break
            if end - start >= shortest:
                found.append((start, end, gaps[i], gaps[j + 1]))
    return found


def _score(analysis: Analysis, start: float, end: float, start_pause: float, end_pause: float,
           main_pitch: float, ideal: tuple[float, float]) -> Segment:
    a, b = _frame(start), max(_frame(start) + 1, _frame(end))
    within = analysis.stretches_within(start, end)
    inside = [(max(s, start), min(e, end)) for s, e in (analysis.speech[k] for k in within)]
    speech_time = sum(e - s for s, e in inside)
    region_levels = [float(np.median(analysis.level_db[_frame(s):max(_frame(s) + 1, _frame(e))])) for s, e in inside]
    region_pitches = []
    for s, e in inside:
        voiced = analysis.f0[_frame(s):_frame(e)]
        voiced = voiced[np.isfinite(voiced)]
        if voiced.size >= 5:
            region_pitches.append(float(np.median(voiced)))
    pauses = [inside[k + 1][0] - inside[k][1] for k in range(len(inside) - 1)]
    # voice_match is empty where the model is not installed; NaN (m != m) for stretches too short to tell
    matches = [m for m in analysis.voice_match[within.start:within.stop] if m == m]
    measures = {
        "speech_ratio": speech_time / (end - start),
        "longest_pause": max(pauses, default=0.0),
        "clipped": float(np.mean(analysis.clipped[a:b])),
        "speech_db": float(np.median(region_levels)) if region_levels else SILENT_DB,
        "background_db": _background(analysis, a, b, inside),
        "level_spread_db": float(np.std(region_levels)) if len(region_levels) > 1 else 0.0,
        "pitch_offset": max((abs(12 * math.log2(p / main_pitch)) for p in region_pitches), default=0.0)
        if math.isfinite(main_pitch) else 0.0,
        "voice_match": min(matches, default=1.0),
        "pause_after": end_pause,
        "pause_before": start_pause,
        "duration": end - start,
    }
    penalties = sorted(_penalties(measures, ideal), reverse=True)
    score = max(0.0, 100.0 - sum(points for points, _ in penalties))
    return Segment(start, end, score, tuple(words for points, words in penalties if points >= 1), measures)


def _background(analysis: Analysis, a: int, b: int, inside: list[tuple[float, float]]) -> float:
    """The level (dBFS) of the loudest pause in frames a:b: music or noise shows there, not under words."""
    pause = np.ones(b - a, dtype=bool)
    for s, e in inside:
        pause[max(0, _frame(s) - a):max(0, _frame(e) - a)] = False
    level = analysis.level_db[a:b]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], pause.astype(np.int8), [0]])))
    runs = [level[first:last] for first, last in zip(edges[::2], edges[1::2], strict=True) if last - first >= 3]
    if not runs:  # speech from end to end: its quietest moments are the floor
        return float(np.percentile(level, 10))
    return max(float(np.median(run)) for run in runs)


def _penalties(m: dict[str, float], ideal: tuple[float, float] = IDEAL) -> list[tuple[float, str]]:
    """(points, what) for each problem of a candidate; the thresholds are where clones suffer."""
    found = []
    if m["speech_ratio"] < 0.65:
        found.append((100 * (0.65 - m["speech_ratio"]), f"{1 - m['speech_ratio']:.0%} of it is silence"))
    if m["longest_pause"] > 1.0:
        found.append((10 * (m["longest_pause"] - 1.0), f"a {m['longest_pause']:.1f} s pause inside"))
    if m["clipped"] > 1e-4:
        found.append((min(60.0, 5000 * m["clipped"]), f"clipped ({m['clipped']:.2%} of the samples)"))
    snr = m["speech_db"] - m["background_db"]
    if snr < 35:
        found.append((1.5 * (35 - snr), f"music or noise under the speech (only {snr:.0f} dB below it)"))
    if m["speech_db"] < -35:
        found.append((1.5 * (-35 - m["speech_db"]), f"quiet ({m['speech_db']:.0f} dBFS)"))
    if m["level_spread_db"] > 3:
        found.append((4 * (m["level_spread_db"] - 3), f"an uneven level ({m['level_spread_db']:.0f} dB spread)"))
    if m["pitch_offset"] > 4:
        found.append((6 * (m["pitch_offset"] - 4), f"a voice pitched {m['pitch_offset']:.0f} semitones from the "
                                                     "recording's main voice (another speaker?)"))
    if m.get("voice_match", 1.0) < VOICE_MATCH:
        found.append((min(60.0, 200 * (VOICE_MATCH - m["voice_match"])), "another voice in it (voice similarity "
                      f"{m['voice_match']:.2f} to the recording's main voice)"))
    # Bark continues from the end: the end matters most. "Mid-speech" only where a word is cut (no pause
    # at all, as the Clone tab's hint judges a clip); a part ending just after its last word, where the
    # recording ends, is said to have a short pause.
    if m["pause_after"] < 0.3:
        found.append((40 * (0.3 - m["pause_after"]) / 0.3, "ends mid-speech" if m["pause_after"] < CUT
                      else f"only {m['pause_after']:.1f} s of pause after it"))
    if m["pause_before"] < 0.1:
        found.append((10 * (0.1 - m["pause_before"]) / 0.1, "starts mid-speech" if m["pause_before"] < CUT
                      else f"only {m['pause_before']:.2f} s of pause before it"))
    low, high = ideal
    if m["duration"] < low:
        found.append((2 * (low - m["duration"]), f"short ({m['duration']:.1f} s)"))
    elif m["duration"] > high:
        found.append((0.5 * (m["duration"] - high), f"long ({m['duration']:.1f} s)"))
    return found


