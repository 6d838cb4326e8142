"""Reading recordings and converting them to what the models expect.

Any file soundfile (libsndfile) decodes is accepted: wav, flac, ogg/vorbis/opus, mp3, at
any sample rate, bit depth and channel count. Channels are averaged to mono, as EnCodec's
own ``convert_audio`` does.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import AudioError

MIN_SECONDS = 1.0  # below this there is too little speech for Bark to pick up a voice
SILENCE_PEAK = 1e-3  # -60 dBFS: quieter than this everywhere means nothing was recorded


def load_audio(
    path: str | os.PathLike, *, start: float | None = None, end: float | None = None
) -> tuple[np.ndarray, int]:
    """Decode ``path`` to mono float32, optionally only the part from ``start`` to ``end`` seconds.

    Returns ``(samples, sample_rate)`` with samples of shape (n_samples,), in [-1, 1] for
    integer formats. Only the requested range is read from disk.
    """
    import soundfile as sf

    path = Path(path)
    info = audio_info(path)
    try:
        sample_rate = int(info.samplerate)
        first, last = _frame_range(path, info.frames, sample_rate, start, end)
        data = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)[0]
    except AudioError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(
            f"{path}: cannot decode this file as audio ({e}). "
            "Use wav, flac, ogg or mp3; convert other formats first, e.g. with ffmpeg."
        ) from e
    return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32), sample_rate


def audio_info(path: str | os.PathLike):
    """soundfile's header of ``path`` (duration, rate, channels), read without decoding the audio.

    Raises :class:`AudioError` when the file is missing or not audio libsndfile can read.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: no such file.")
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioError(
            f"{path}: cannot decode this file as audio ({e}). "
            "Use wav, flac, ogg or mp3; convert other formats first, e.g. with ffmpeg."
        ) from e


def ends_loud(path: str | os.PathLike, start: float, end: float) -> bool:
    """Whether the part ``start``-``end`` (seconds) of ``path`` seems to end mid-speech: its last
    0.1 s is more than half as loud (RMS) as the whole part. Bark continues from a prompt's end."""
    import soundfile as sf

    rate = sf.info(str(path)).samplerate
    samples, rate = sf.read(str(path), start=int(start * rate), stop=int(end * rate), always_2d=True)
    mono = samples.mean(axis=1)
    if mono.size == 0:
        return False
    tail, whole = np.sqrt(np.mean(mono[-rate // 10 :] ** 2)), np.sqrt(np.mean(mono ** 2))
    return bool(whole > 0 and tail > 0.5 * whole)


def _frame_range(
    path: Path, n_frames: int, sample_rate: int, start: float | None, end: float | None
) -> tuple[int, int]:
    if n_frames <= 0:
        raise AudioError(f"{path}: the file contains no audio (0 samples).")
    duration = n_frames / sample_rate
    start = 0.0 if start is None else float(start)
    end = duration if end is None else float(end)
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0:
        raise AudioError(f"{path}: start must be >= 0 and start/end finite numbers of seconds.")
    if start >= duration:
        raise AudioError(f"{path}: start {start:.2f} s is past the end of the recording ({duration:.2f} s).")
    if end <= start:
        raise AudioError(f"{path}: end ({end:.2f} s) must be after start ({start:.2f} s).")
    # An end past the recording means "to the end" (1e308 s would overflow as a frame count).
    return int(round(start * sample_rate)), min(n_frames, int(round(min(end, duration) * sample_rate)))


def check_speech(samples: np.ndarray, sample_rate: int, *, source: str = "input audio") -> None:
    """Raise :class:`AudioError` unless ``samples`` (n_samples,) can be cloned."""
    if samples.ndim != 1:
        raise AudioError(f"{source}: expected mono samples of shape (n,), got shape {samples.shape}.")
    if sample_rate <= 0:
        raise AudioError(f"{source}: invalid sample rate {sample_rate}.")
    if samples.size == 0:
        raise AudioError(f"{source}: the audio is empty (0 samples).")
    if not np.isfinite(samples).all():
        raise AudioError(f"{source}: the audio contains NaN or infinite samples; re-export it.")
    duration = samples.size / sample_rate
    if duration < MIN_SECONDS:
        raise AudioError(
            f"{source}: the audio is {duration:.2f} s long; at least {MIN_SECONDS:.1f} s is needed "
            "(5 to 15 s of clear speech works best)."
        )
    if float(np.abs(samples).max()) < SILENCE_PEAK:
        raise AudioError(f"{source}: the audio is silent (peak below -60 dBFS); nothing to clone.")


def resample(samples: np.ndarray, sample_rate: int, target_rate: int):
    """Resample mono ``samples`` (n,) to ``target_rate``; returns a float32 tensor (m,)."""
    import torch
    import torchaudio.functional as AF

    wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if sample_rate == target_rate:
        return wav
    return AF.resample(wav, sample_rate, target_rate)
