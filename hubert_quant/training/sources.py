"""Where pairs are imported from: the published layout, as folders or zips, listed and read safely.

``SOURCE/semantic/`` and ``SOURCE/wav/`` (or ``semantic.zip`` and ``wav.zip``) hold files matched
by name: ``0_semantic.npy`` goes with ``0_wav.wav``, as in the original training data. Every
name is judged by :mod:`.ids` (what ``pair_id`` accepts); a file that cannot be a pair (a name
that is not an id, an id twice, a link, a FIFO, a device, a folder) is skipped and named, and
nothing of it is read. What is read is capped by its real size (zip members are unpacked in
blocks, their headers never trusted); a pair whose content is wrong stops the import, naming it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .ids import file_kind, id_key, id_problem, not_plain, open_plain, read_capped, read_plain, shown

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
# A training pair is a few seconds of speech; far larger members are not pairs (or are zip bombs).
MAX_MEMBER_BYTES = {"semantic": 4 * 2**20, "wav": 64 * 2**20}
MAX_PAIR_SECONDS = 120
MAX_PAIR_SAMPLES = MAX_PAIR_SECONDS * 96_000 * 2  # frames x channels: 2 minutes of 96 kHz stereo (92 MB decoded)
# deflate is read in blocks whose output is bounded; zipfile unpacks bzip2/lzma input in one
# step of any size, so a few KB of it could become gigabytes before a cap is checked.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


@dataclass(frozen=True)
class Member:
    """One side of a pair as found: a loose file, or a member of a zip."""
    pair_id: str
    container: Path  # the loose file itself, or the zip
    archive: zipfile.ZipFile | None  # the zip, open, or None for a loose file
    info: zipfile.ZipInfo | None
    where: str  # how messages name it

    @property
    def zipped(self) -> bool:
        return self.info is not None


def _key(name: str) -> str:
    """Pair key of a file name: the stem without a trailing ``_semantic``/``_wav``."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return re.sub(r"_(semantic|wav)$", "", stem)


def _suffix_of(name: str) -> str:
    return "." + name.rsplit(".", 1)[1].lower() if "." in name else ""


def _check_size(where: str, size: int, kind: str) -> None:
    """Refuse, before reading it, a file whose declared size is far larger than a pair's ``kind`` side."""
    if size > MAX_MEMBER_BYTES[kind]:
        raise DatasetError(f"{where} is {size / 2**20:.0f} MiB unpacked, far more than a training pair's {kind} "
                           f"(at most {MAX_MEMBER_BYTES[kind] // 2**20} MiB); it was not read. Remove it, or split "
                           "long recordings into pairs of a few seconds.")


def _plain_folder_part(part: str) -> bool:
    """A folder inside a zip that stays inside it: not empty, '.', '..', a drive or with control characters."""
    return bool(part) and part not in (".", "..") and "\\" not in part and ":" not in part and \
        not any(unicodedata.category(c)[0] == "C" for c in part)


def members(source: Path, kind: str, refused: list[str], opened: contextlib.ExitStack) -> dict[str, Member]:
    """pair id -> where it is, for the ``semantic`` or ``wav`` side of ``source``.

    Files that cannot be pairs (bad ids, links, FIFOs, devices, folders, ids twice) are added to
    ``refused`` as one line each; a declared size past the cap or an unreadable zip stops here,
    before anything is written. A zip is opened once, into ``opened``, and read from that handle.
    """
    suffixes = (".npy",) if kind == "semantic" else AUDIO_SUFFIXES
    candidates: list[Member] = []
    folder, archive = source / kind, source / f"{kind}.zip"
    for container, wanted in ((folder, "a folder"), (archive, None)):
        try:
            found_kind = file_kind(os.lstat(container).st_mode)
        except FileNotFoundError:
            continue
        if found_kind != wanted:
            raise DatasetError(f"{container} is {found_kind or 'a plain file'}, not {wanted or 'a plain file'}; it was "
                               "not opened. Put the real one there (not a link), or move it away")
    if os.path.lexists(folder):
        with os.scandir(folder) as entries:
            for entry in entries:
                if _suffix_of(entry.name) not in suffixes:
                    continue
                where = f"{folder}: {shown(entry.name)}"
                problem = id_problem(_key(entry.name))
                if problem:
                    refused.append(f"{where} is not a pair id: {problem}")
                    continue
                st = entry.stat(follow_symlinks=False)
                if file_kind(st.st_mode):
                    refused.append(f"{where} {not_plain(file_kind(st.st_mode))}")
                    continue
                _check_size(where, st.st_size, kind)
                candidates.append(Member(_key(entry.name), folder / entry.name, None, None, where))
    if os.path.lexists(archive):
        handle = opened.enter_context(os.fdopen(open_plain(archive, str(archive)), "rb"))
        try:
            z = opened.enter_context(zipfile.ZipFile(handle))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
            raise DatasetError(f"{archive}: not a readable zip file ({e}); download it again") from e
        for info in z.infolist():
            name = info.filename
            if name.endswith("/") or _suffix_of(name) not in suffixes:
                continue
            where = f"{archive}: {shown(name)}"
            *folders, base = name.split("/")
            problem = ("it is an absolute path" if name.startswith("/") else
                       "its folders are not plain names" if not all(map(_plain_folder_part, folders)) else
                       id_problem(_key(base)))
            if problem:
                refused.append(f"{where} is not a pair id: {problem}")
                continue
            if info.compress_type not in _ZIP_METHODS:
                raise DatasetError(f"{where} is compressed with method {info.compress_type}; only stored and deflate "
                                   "(zip's usual one) are read. Unpack the zip and import the folders, or zip them "
                                   "again with deflate.")
            _check_size(where, info.file_size, kind)
            candidates.append(Member(_key(base), archive, z, info, where))
    # Ids must be unique without letter case. The same id once loose and once in the zip (a zip
    # unpacked next to itself) is one pair: the zip's is read, as before; anything else is refused.
    groups: dict[str, list[Member]] = {}
    for member in candidates:
        groups.setdefault(id_key(member.pair_id), []).append(member)
    found = {}
    for group in groups.values():
        loose, zipped = [m for m in group if not m.zipped], [m for m in group if m.zipped]
        if len({m.pair_id for m in group}) == 1 and len(loose) <= 1 and len(zipped) <= 1:
            found[group[0].pair_id] = zipped[0] if zipped else loose[0]
            continue
        for member in group:
            others = ", ".join(m.where for m in group if m is not member)
            refused.append(f"{member.where} gives the pair id {member.pair_id!r}, as {others} does (ids must differ "
                           "in more than letter case); rename one")
    return found


def read_member(member: Member, kind: str) -> bytes:
    """The bytes of a loose file or a zip member, read with their real size capped."""
    cap = MAX_MEMBER_BYTES[kind]
    if member.archive is None:
        return read_plain(member.container, cap, member.where)
    try:
        with member.archive.open(member.info) as f:
            return read_capped(f, cap, member.where)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError) as e:
        # BadZipFile: a CRC or size that does not match the header; RuntimeError: an encrypted member.
        raise DatasetError(f"{member.where} cannot be unpacked ({e}); the zip is damaged or not what it says. "
                           "Download it again.") from e


def load_tokens(data, where: str) -> np.ndarray:
    """An .npy of tokens, refusing a header that claims more data than the file holds."""
    from ..speaker import npy_claimed_bytes

    try:
        claimed = npy_claimed_bytes(data)
    except ValueError as e:
        raise DatasetError(f"{where}: the semantic tokens are not a plain .npy array ({e})") from e
    if claimed > len(data.getbuffer()) - data.tell():
        raise DatasetError(f"{where}: the .npy header claims more data than the file holds; it is damaged or hostile")
    data.seek(0)
    try:
        return np.load(data, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise DatasetError(f"{where}: the semantic tokens are not a plain .npy array ({e})") from e


def decode_audio(data: bytes, where: str) -> tuple[np.ndarray, int]:
    """The one place an imported pair's audio is decoded: (mono float32 samples (n,), rate).

    Sized from the header first (duration, frames x channels) and read with a frame cap, so a
    header that lies cannot make it decode more. To move to ``hubert_quant.audio``'s opener, this
    function's body is all that changes.
    """
    import soundfile as sf

    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate, channels = int(f.samplerate), int(f.channels)
            if rate <= 0 or channels <= 0:
                raise DatasetError(f"{where}: the audio header says {rate} Hz, {channels} channels; not a recording")
            if f.frames / rate > MAX_PAIR_SECONDS or f.frames * channels > MAX_PAIR_SAMPLES:
                raise DatasetError(f"{where}: the audio is {f.frames / rate:.0f} s, {channels} channels at {rate} Hz; "
                                   f"a training pair is a few seconds (at most {MAX_PAIR_SECONDS} s, "
                                   f"{MAX_PAIR_SAMPLES:,} samples). Split it, or leave it out.")
            limit = min(MAX_PAIR_SECONDS * rate, MAX_PAIR_SAMPLES // channels)
            samples = f.read(frames=limit + 1, dtype="float32", always_2d=True)
    except DatasetError:
        raise
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError) as e:
        raise DatasetError(f"{where}: not audio soundfile can decode ({e}); use wav, flac, ogg or mp3") from e
    if len(samples) > limit:  # the header said less than the file holds
        raise DatasetError(f"{where}: the audio holds more than its header says; a training pair is at most "
                           f"{MAX_PAIR_SECONDS} s. Split it, or leave it out.")
    if len(samples) == 0:
        raise DatasetError(f"{where}: the audio is empty (0 samples)")
    return np.ascontiguousarray(samples.mean(axis=1), dtype=np.float32), rate
