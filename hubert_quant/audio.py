"""Reading recordings and converting them to what the models expect: the one way any audio file
is opened (the app, the hosts, the command line, the API and the dataset import).

Any file soundfile (libsndfile) decodes is accepted: wav, flac, ogg/vorbis/opus, mp3, at any
sample rate, bit depth and channel count. Channels are averaged to mono, as EnCodec's own
``convert_audio`` does.

The input budget (:class:`AudioLimits`): a file is sized from its header first (frames x
channels x rate) and refused in one line, naming the limit and how to raise it, before anything
is decoded. It is then decoded in blocks, each downmixed and resampled on its own (with enough
context at the edges that the result equals a whole-file resample to float error), so memory
depends on the block, not the file: the only full-length array is the mono result at the rate
asked for. Headers that lie (a length the data does not have, an unknown length) cannot make
memory grow: reading stops at the end of the data or at the limit, whichever comes first.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import AudioError
from .files import NotPlainFile, file_kind, open_plain
from .resampling import BlockResampler, Growing, resample, resampling_rate  # noqa: F401 - part of this API

MIN_SECONDS = 1.0  # below this there is too little speech for Bark to pick up a voice
SILENCE_PEAK = 1e-3  # -60 dBFS: quieter than this everywhere means nothing was recorded
BLOCK_VALUES = 1 << 21  # samples (frames x channels) decoded at a time: 8 MB of float32
UNKNOWN_FRAMES = 1 << 62  # libsndfile's frame count for a stream of unknown length is near 2**63
OPTIONS = {"max_hours": "max-audio-hours", "max_rate": "max-audio-rate", "max_channels": "max-audio-channels"}
DECODE_ERRORS = "Use wav, flac, ogg or mp3; convert other formats first, e.g. with ffmpeg."


@dataclass(frozen=True)
class AudioLimits:
    """What an audio input may be; larger ones are refused before decoding.

    The defaults admit any real recording, several hours long included, and keep a whole
    recording's 16 kHz mono (what is analysed) under 1.4 GB. ``raise_with`` says how a front end
    raises a limit: ``{field}`` is the field's name, ``{option}`` the command-line option's.
    """

    max_hours: float = 6.0
    max_rate: int = 384_000
    max_channels: int = 32
    raise_with: str = "limits=AudioLimits({field}=N)"

    @property
    def max_seconds(self) -> float:
        return self.max_hours * 3600.0

    def how_to_raise(self, field: str) -> str:
        return self.raise_with.format(field=field, option=OPTIONS[field])


DEFAULT_LIMITS = AudioLimits()


@dataclass(frozen=True)
class AudioHeader:
    """What a file's header declares, checked against the limits (nothing decoded yet).

    frames is None when the header does not know the length (a stream): then the duration
    limit is enforced while decoding.
    """

    path: Path
    samplerate: int
    channels: int
    frames: int | None
    format: str = ""

    @property
    def duration(self) -> float:
        """Seconds, as declared (inf when unknown)."""
        return math.inf if self.frames is None else self.frames / self.samplerate


# ---- opening: the file's kind, then its header --------------------------------------------------


_ADVICE = {"a folder": "give the recording's file (or the files inside it)"}


def _kind_problem(mode: int) -> str | None:
    """What a path is, in words, when it is not a regular file (None for a regular file)."""
    kind = file_kind(mode)
    return None if kind is None else _not_audio(kind)


def _not_audio(kind: str) -> str:
    return f"is {kind}, not an audio file; {_ADVICE.get(kind, 'save the recording to a file first')}"


def check_file(path: str | os.PathLike) -> Path:
    """Raise :class:`AudioError` unless ``path`` is an existing regular file (links to one are fine).

    Folders, FIFOs, devices and sockets are named for what they are and never opened: reading a
    FIFO or ``/dev/zero`` would wait or read forever.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file.") from None
    except OSError as e:
        raise AudioError(f"{path}: cannot be read ({e.strerror or e}).") from e
    problem = _kind_problem(mode)
    if problem:
        raise AudioError(f"{path} {problem}.")
    return path


def _open_fd(path: Path) -> int:
    """A read-only descriptor of the regular file ``path``; O_NONBLOCK so that a path swapped for a
    FIFO after :func:`check_file` does not hang the open, and fstat decides on what was opened."""
    try:
        return open_plain(path, follow_links=True)
    except NotPlainFile as e:
        raise AudioError(f"{path} {_not_audio(e.kind)}.") from None
    except OSError as e:
        raise AudioError(f"{path}: cannot be read ({e.strerror or e}).") from e


def _open(path: Path, data: BinaryIO | None = None):
    """soundfile's reader of the checked file ``path``, or of ``data`` (bytes already read, e.g. a
    zip member, named ``path`` in messages); the caller closes it."""
    import soundfile as sf

    if data is not None:
        try:
            return sf.SoundFile(data)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
            raise _undecodable(path, e) from e
    check_file(path)
    fd = _open_fd(path)
    try:
        return sf.SoundFile(fd, closefd=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        try:
            os.close(fd)
        except OSError:  # soundfile closed it already
            pass
        raise _undecodable(path, e) from e


def _header(path: Path, f, limits: AudioLimits) -> AudioHeader:
    rate, channels, frames = int(f.samplerate), int(f.channels), int(f.frames)
    header = AudioHeader(path, rate, channels, None if frames >= UNKNOWN_FRAMES else max(0, frames),
                         str(getattr(f, "format", "")))
    check_header(header, limits)
    return header


def check_header(header: AudioHeader, limits: AudioLimits = DEFAULT_LIMITS) -> None:
    """Refuse a header outside ``limits`` (or impossible), in one line naming the limit and option."""
    path = header.path
    if header.samplerate <= 0 or header.channels <= 0:
        raise AudioError(f"{path}: the header declares {header.samplerate} Hz and {header.channels} channels; "
                         "the file is damaged.")
    if header.samplerate > limits.max_rate:
        raise AudioError(f"{path}: {header.samplerate} Hz is over the {limits.max_rate} Hz limit on sample rates; "
                         f"resample it, or raise the limit ({limits.how_to_raise('max_rate')}).")
    if header.channels > limits.max_channels:
        raise AudioError(f"{path}: {header.channels} channels are over the {limits.max_channels}-channel limit; "
                         f"mix it down, or raise the limit ({limits.how_to_raise('max_channels')}).")
    if header.frames is not None and header.duration > limits.max_seconds:
        raise AudioError(_too_long(path, f"its header says {_hours(header.duration)}", limits))


def _too_long(path: Path, what: str, limits: AudioLimits) -> str:
    return (f"{path}: {what}, over the {limits.max_hours:g}-hour limit on recordings; cut it to the part you need, "
            f"or raise the limit ({limits.how_to_raise('max_hours')}).")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} hours" if seconds >= 3600 else f"{seconds / 60:.1f} minutes"


def audio_info(path: str | os.PathLike, limits: AudioLimits | None = None, *, data: BinaryIO | None = None
               ) -> AudioHeader:
    """The header of ``path`` (duration, rate, channels), checked against ``limits`` (default:
    :data:`DEFAULT_LIMITS`), read without decoding the audio.

    Raises :class:`AudioError` when the file is missing, not a regular file, not audio libsndfile
    can read, or over a limit.
    """
    path = Path(path)
    with _open(path, data) as f:
        return _header(path, f, limits or DEFAULT_LIMITS)


# ---- decoding in blocks -------------------------------------------------------------------------


def read_blocks(
    path: str | os.PathLike, *, start: float | None = None, end: float | None = None, rate: int | None = None,
    limits: AudioLimits | None = None, on_native: Callable[[np.ndarray], None] | None = None,
    header: Callable[[AudioHeader], None] | None = None, data: BinaryIO | None = None,
) -> Iterator[np.ndarray]:
    """Decode ``path`` (the part ``start``-``end`` seconds) block by block: mono float32 blocks (k,),
    resampled to ``rate`` if given (else at the file's own rate).

    on_native: also called with each mono block at the file's own rate, before resampling.
    header: called with the checked header before the first block.
    data: the file's bytes as a binary file object (a zip member read into ``io.BytesIO``): then
        ``path`` only names it in messages.
    Memory is one block (at most ``BLOCK_VALUES`` samples in, about as many out) whatever the file's length
    and rate.
    """
    import soundfile as sf

    path, limits = Path(path), limits or DEFAULT_LIMITS
    with _open(path, data) as f:
        info = _header(path, f, limits)
        if header is not None:
            header(info)
        first, last = _frame_range(path, info.frames, info.samplerate, start, end)
        allowed = int(limits.max_seconds * info.samplerate) + 1  # what may be decoded, whatever the header says
        resampler = BlockResampler(info.samplerate, rate) if rate and rate != info.samplerate else None
        # A block is at most BLOCK_VALUES samples read and at most that many given out: a file at a low rate
        # (a few KB of 100 Hz FLAC can hold hours) is read in smaller blocks, as each grows 160x to 16 kHz.
        block = max(1024, min(BLOCK_VALUES // info.channels, BLOCK_VALUES * info.samplerate // max(rate or 0, 1)))
        try:
            if first:
                f.seek(first)
            position = first
            while last is None or position < last:
                want = block if last is None else min(block, last - position)
                try:
                    frames = f.read(want, dtype="float32", always_2d=True)
                except sf.LibsndfileError as e:  # a header longer than the data: what is there is read
                    if position == first or "seek" not in str(e):
                        raise
                    break
                if not len(frames):
                    break
                position += len(frames)
                if position - first > allowed:
                    raise AudioError(_too_long(path, f"holds more than {_hours(limits.max_seconds)} of audio "
                                                     "(more than its header declares)", limits))
                mono = frames.mean(axis=1) if info.channels > 1 else frames[:, 0].copy()
                del frames
                if on_native is not None:
                    on_native(mono)
                out = resampler.push(mono) if resampler else mono
                if out.size:
                    yield out
            if position == first:
                raise AudioError(f"{path}: the file contains no audio (0 samples).")
            if resampler:
                tail = resampler.finish()
                if tail.size:
                    yield tail
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
            if isinstance(e, AudioError):
                raise
            raise _undecodable(path, e) from e


def load_audio(
    path: str | os.PathLike, *, start: float | None = None, end: float | None = None, rate: int | None = None,
    limits: AudioLimits | None = None, on_native: Callable[[np.ndarray], None] | None = None,
    data: BinaryIO | None = None,
) -> tuple[np.ndarray, int]:
    """Decode ``path`` to mono float32, optionally only the part from ``start`` to ``end`` seconds,
    at ``rate`` (None: the file's own).

    Returns ``(samples, sample_rate)`` with samples of shape (n_samples,), in [-1, 1] for integer
    formats. Only the requested range is read from disk, in blocks (see :func:`read_blocks`);
    the result is the only full-length array. ``data``: decode these bytes (a binary file object,
    e.g. a zip member) instead of opening ``path``, which then only names them in messages.
    """
    found: list[AudioHeader] = []
    out = Growing()
    for block in read_blocks(path, start=start, end=end, rate=rate, limits=limits, on_native=on_native,
                             header=found.append, data=data):
        if not out.size:
            out.reserve(_expected(found[0], start, end, rate or found[0].samplerate, limits or DEFAULT_LIMITS))
        out.add(block)
    return out.array(), int(rate or found[0].samplerate)


def _expected(header: AudioHeader, start, end, rate: int, limits: AudioLimits) -> int:
    """How many samples the part should give (an estimate: headers may lie; capped at the limit)."""
    seconds = header.duration if header.frames is not None else 60.0
    seconds = min(seconds if end is None else min(float(end), seconds), limits.max_seconds) - float(start or 0)
    return max(1, int(max(0.0, seconds) * rate) + 64)


def ends_loud(path: str | os.PathLike, start: float, end: float, *, limits: AudioLimits | None = None) -> bool:
    """Whether the part ``start``-``end`` (seconds) of ``path`` seems to end mid-speech: its last
    0.1 s is more than half as loud (RMS) as the whole part. Bark continues from a prompt's end.
    Read in blocks: only the last 0.1 s is kept."""
    rates: list[int] = []
    total, count, tail = 0.0, 0, np.zeros(0, dtype=np.float32)
    for block in read_blocks(path, start=start, end=end, limits=limits, header=lambda h: rates.append(h.samplerate)):
        total += float(np.dot(block.astype(np.float64), block.astype(np.float64)))
        count += block.size
        tail = np.concatenate([tail, block])[-max(1, rates[0] // 10):]
    if count == 0:
        return False
    whole = math.sqrt(total / count)
    return bool(whole > 0 and math.sqrt(float(np.mean(tail.astype(np.float64) ** 2))) > 0.5 * whole)


def _undecodable(path, e: Exception) -> AudioError:
    """The decoder's refusal in our words, without the file descriptor it was given ("Error opening 22: ...")."""
    said = (getattr(e, "error_string", None) or str(e)).rstrip(".")
    return AudioError(f"{path}: cannot decode this file as audio ({said}). {DECODE_ERRORS}")


def _frame_range(
    path: Path, n_frames: int | None, sample_rate: int, start: float | None, end: float | None
) -> tuple[int, int | None]:
    """(first, last) frames of the part; last None: to the end of the data (length unknown)."""
    if n_frames is not None and n_frames <= 0:
        raise AudioError(f"{path}: the file contains no audio (0 samples).")
    duration = math.inf if n_frames is None else n_frames / sample_rate
    start = 0.0 if start is None else float(start)
    end = duration if end is None else float(end)
    if not (np.isfinite(start) and (np.isfinite(end) or n_frames is None)) or start < 0:
        raise AudioError(f"{path}: start must be >= 0 and start/end finite numbers of seconds.")
    if start >= duration:
        raise AudioError(f"{path}: start {start:.2f} s is past the end of the recording ({duration:.2f} s).")
    if end <= start:
        raise AudioError(f"{path}: end ({end:.2f} s) must be after start ({start:.2f} s).")
    first = int(round(start * sample_rate))
    if not math.isfinite(min(end, duration)):
        return first, None
    # An end past the recording means "to the end" (1e308 s would overflow as a frame count).
    last = int(round(min(end, duration) * sample_rate))
    return first, last if n_frames is None else min(n_frames, last)


# ---- checks and resampling ----------------------------------------------------------------------


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
