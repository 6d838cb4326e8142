"""A folder of speaker prompts, by name: list, save, rename, delete, import, export, previews.

A speaker called ``name`` is the file ``<folder>/<name>.npz`` (what audio-webui's Bark tab
lists from ``data/bark_custom_speakers/``), with an optional preview ``<name>.preview.wav``.
Names typed by users become file names, so they are cleaned first: no folders, no leading
dots, no characters Windows forbids, no invisible (control, bidi, zero-width) characters, no
reserved device names, at most 100 characters and 200 bytes.

The one guard of a speakers folder (every front end goes through it): only regular files
directly inside it exist (judged by lstat, opened by :func:`hubert_quant.speaker.open_regular`,
which follows no link; pages get copies, :func:`export`); changes take the folder's lock
(:func:`locked`) and check the names they touch under it; a preview is kept only if its speaker
is still the file it was made from; errors name speakers, never the folder (they reach pages).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import tempfile
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import HubertQuantError, OutputExistsError, SpeakerFileError
from .files import folder_lock, plain_name
from .speaker import (
    MAX_FILE_BYTES,
    SpeakerPrompt,
    Style,
    file_kind,
    load_speaker,
    open_regular,
    save_speaker,
    trim_to_bark,
)

MAX_NAME = 100
MAX_NAME_BYTES = 200  # + ".preview.wav" stays under the usual 255-byte file-name limit
MAX_PREVIEW_BYTES = 64 * 1024 * 1024  # a preview is a few seconds (~1 MB); far larger is not ours
LOCK_NAME = ".hubert-quant.lock"
SUFFIX, PREVIEW_SUFFIX = ".npz", ".preview.wav"
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


@dataclass(frozen=True)
class SpeakerInfo:
    """One speaker in the library (``problem`` is set, and the rest empty, for an unreadable file)."""

    name: str
    path: Path
    seconds: float = 0.0
    quantizer: str = ""
    created: str = ""
    preview: Path | None = None
    problem: str = ""


def safe_name(name: str) -> str:
    """``name`` as a file name that stays inside the library folder, or ValueError."""
    cleaned = unicodedata.normalize("NFC", str(name))
    # Control, format (bidi overrides, zero-width) and other invisible characters make names
    # that look like another speaker's: dropped.
    # Line and paragraph separators too; every other kind of space (no-break, thin, ideographic) is a
    # plain space, so "Alice\u00a0Smith" cannot sit beside "Alice Smith" looking the same.
    cleaned = "".join(" " if unicodedata.category(c) == "Zs" else c for c in cleaned
                      if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"))
    cleaned = re.sub(r'[\x00-\x1f<>:"/\\|?*]', "_", cleaned).strip().lstrip(".").strip()
    if cleaned.lower().endswith(".npz"):
        cleaned = cleaned[:-4].rstrip()
    cleaned = cleaned[:MAX_NAME]
    while len(cleaned.encode("utf-8")) > MAX_NAME_BYTES:  # file systems count bytes, not characters
        cleaned = cleaned[:-1]
    cleaned = cleaned.rstrip(" .")
    if not cleaned:
        raise ValueError(f"{name!r} cannot be used as a speaker name; use letters, digits, spaces, - or _")
    if cleaned.split(".")[0].lower() in _RESERVED:
        cleaned = f"{cleaned}_"
    return cleaned


def speaker_path(folder: str | os.PathLike, name: str) -> Path:
    return Path(folder) / f"{safe_name(name)}{SUFFIX}"


def preview_path(folder: str | os.PathLike, name: str) -> Path:
    return Path(folder) / f"{safe_name(name)}{PREVIEW_SUFFIX}"


def shown_name(name: str) -> str:
    """``name`` as it may be shown: a hard-to-read one quoted, its odd characters escaped
    (``'ali\\u200bce'``, ``' alice'``), so it cannot pass for another speaker."""
    return name if plain_name(name) else ascii(name)


def _entries(folder: Path) -> dict[str, os.stat_result]:
    """Every entry directly in ``folder`` with its lstat (links are not followed); {} if none."""
    found = {}
    try:
        with os.scandir(folder) as scan:
            for entry in scan:
                try:
                    found[entry.name] = entry.stat(follow_symlinks=False)
                except OSError:  # gone since the scan
                    continue
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return found


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _preview_of(entries: dict[str, os.stat_result], name: str, speaker: os.stat_result) -> bool:
    """Whether ``name``'s preview is there, a regular file, and not older than its speaker (a preview
    left by a deleted speaker of the same name is older than the new one: never offered)."""
    preview = entries.get(f"{name}{PREVIEW_SUFFIX}")
    return preview is not None and stat.S_ISREG(preview.st_mode) and preview.st_mtime_ns >= speaker.st_mtime_ns


def list_speakers(folder: str | os.PathLike) -> list[SpeakerInfo]:
    """Every ``.npz`` directly in ``folder``, sorted by name; unreadable ones are listed with the
    problem (named, never with a path). Links, folders, FIFOs and devices are never opened."""
    folder = Path(folder)
    entries = _entries(folder)
    found = []
    for filename in sorted((n for n in entries if n.endswith(SUFFIX) and not n.startswith(".")),
                           key=lambda n: n.casefold()):
        name, info = filename[: -len(SUFFIX)], entries[filename]
        path, shown = folder / filename, shown_name(filename[: -len(SUFFIX)])
        if not plain_name(name):
            found.append(SpeakerInfo(shown, path, problem=f"{shown} (.npz): a name with invisible or look-alike "
                                                          "characters; it is not read. Rename the file by hand."))
            continue
        if not stat.S_ISREG(info.st_mode):
            found.append(SpeakerInfo(name, path, problem=f"{filename}: {file_kind(info.st_mode)}, not a file; links "
                                                         "and special files are never read."))
            continue
        key = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        if key not in _READ:  # a file is read and checked once while it stays the same file (refreshes are free)
            try:
                prompt = load_speaker(path, name=filename)
                meta = prompt.metadata or {}
                _READ[key] = (round(prompt.duration, 2), str(meta.get("quantizer", "")), str(meta.get("created", "")))
            except Exception as e:  # noqa: BLE001 - one bad file is listed with its problem; the rest still work
                _READ[key] = _problem(e, filename)
            if len(_READ) > 100_000:
                _READ.clear()
        if isinstance(_READ.get(key), str):
            found.append(SpeakerInfo(name, path, problem=_READ[key]))
            continue
        preview = folder / f"{name}{PREVIEW_SUFFIX}" if _preview_of(entries, name, info) else None
        found.append(SpeakerInfo(name, path, *_READ[key], preview))
    return found


_READ: dict[tuple, tuple | str] = {}  # (path, device, inode, size, mtime) -> what list_speakers read there


def locked(folder: str | os.PathLike, *, busy: str | None = None):
    """Hold ``folder``'s library lock: one change at a time, across threads and processes (see
    :func:`hubert_quant.files.folder_lock`). Keep slow work (models) outside."""
    return folder_lock(folder, LOCK_NAME, "the speaker library's lock file", SpeakerFileError, busy=busy)


def taken(folder: str | os.PathLike, name: str) -> bool:
    """Whether speaker ``name`` (cleaned) is taken: anything at all is there, a link included."""
    return _lstat(speaker_path(folder, name)) is not None


def _taken_error(name: str) -> OutputExistsError:
    return OutputExistsError(f"a speaker called {name!r} already exists; pick another name or delete it first.")


def save(folder: str | os.PathLike, name: str, prompt: SpeakerPrompt, *, overwrite: bool = False,
         style: Style = "bark") -> Path:
    """Save ``prompt`` as speaker ``name`` (atomic; refuses to replace unless ``overwrite``);
    ``style`` as in :func:`hubert_quant.speaker.save_speaker`. A preview left under that name (by
    a speaker deleted or renamed by another program) is removed: it is another voice's."""
    name = safe_name(name)
    path, preview = speaker_path(folder, name), preview_path(folder, name)
    with _no_folder(folder), locked(folder):
        if not overwrite and _lstat(path) is not None:
            raise _taken_error(name)
        try:
            written = save_speaker(prompt, path, overwrite=overwrite, style=style)
        except OutputExistsError:  # appeared since the check, written by a program that takes no lock
            raise _taken_error(name) from None
        stale = _lstat(preview)
        if stale is not None and not stat.S_ISDIR(stale.st_mode):
            preview.unlink()
    return written


@contextlib.contextmanager
def _no_folder(folder: str | os.PathLike) -> Iterator[None]:
    """Our errors (a full disk, a bad prompt) with the library's folder cut from them: they reach pages."""
    try:
        yield
    except HubertQuantError as e:
        text = str(e).replace(f"{Path(folder)}{os.sep}", "")
        if text == str(e):
            raise
        error = type(e)(text)
        error.__dict__.update(e.__dict__)  # WriteError's errno
        raise error from e


def clone_into(folder: str | os.PathLike, name: str, audio, *, extra: Sequence = (), start: float | None = None,
               end: float | None = None, style: Style = "bark", **options) -> tuple[Path, SpeakerPrompt]:
    """Clone ``audio`` into the library as ``name`` (cleaned with :func:`safe_name`): the part
    ``start``-``end`` of it, joined with the best part of each ``extra`` clip if any.

    Refuses a name already taken before any model runs (and again, under the lock, when saving).
    ``options`` go to :func:`hubert_quant.clone_voice` (quantizer, hubert, codec, device, progress,
    stages). returns: (the speaker file, the prompt).
    """
    from .clone import clone_speaker, clone_voice

    name = safe_name(name)
    if taken(folder, name):
        raise _taken_error(name)
    if extra:  # the recording's part as chosen (the best one if none was), and each other clip's best part
        chosen = (start, end) if start is not None or end is not None else None
        prompt = clone_speaker([audio, *extra], ranges=[chosen] + [None] * len(extra), **options)
    else:
        prompt = clone_voice(audio, start=start, end=end, **options)
    return save(folder, name, prompt, style=style), prompt


def import_file(folder: str | os.PathLike, upload: str | os.PathLike, name: str | None = None,
                *, overwrite: bool = False, style: Style = "bark") -> Path:
    """Validate an uploaded ``.npz`` and store a clean copy as ``name``: only the prompt arrays, cut
    to what Bark reads of them (:func:`hubert_quant.speaker.trim_to_bark`; its metadata says so)."""
    upload = Path(upload)
    prompt = trim_to_bark(load_speaker(upload, name=upload.name))
    return save(folder, name or upload.stem, prompt, overwrite=overwrite, style=style)


def existing(folder: str | os.PathLike, name: str) -> Path:
    """The file of the listed speaker ``name``, exactly as listed, never a cleaned look-alike (``a:b``
    for ``a_b``); SpeakerFileError for a name that is not a listed regular file: hard-to-read names,
    links, folders, FIFOs and devices included (nothing is opened)."""
    name = str(name or "")
    path = Path(folder) / f"{name}{SUFFIX}"
    if not plain_name(name) or name in (".", "..") or "\0" in name:
        raise SpeakerFileError(f"there is no speaker called {shown_name(name)!r}")
    info = _lstat(path)
    if info is None or not stat.S_ISREG(info.st_mode):
        raise SpeakerFileError(f"there is no speaker called {name!r}" if info is None else
                               f"{name}{SUFFIX} is {file_kind(info.st_mode)}, not a speaker file; it is never read.")
    return path


def load(folder: str | os.PathLike, name: str) -> SpeakerPrompt:
    """The listed speaker ``name``'s prompt, read without following a link; errors name the speaker."""
    return load_speaker(existing(folder, name), name=f"{name}{SUFFIX}")


def export(folder: str | os.PathLike, name: str, dest: str | os.PathLike) -> tuple[Path, Path | None]:
    """Copies of the listed speaker ``name`` and of its preview (None if it has none) in a new folder
    under ``dest``, for a page to offer: what is served is what was checked here, never a path in
    the library that could have become a link since. The speaker must be readable as a prompt."""
    source = existing(folder, name)
    Path(dest).mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="speaker-", dir=dest))
    copy = out / f"{name}{SUFFIX}"
    load_speaker(source, name=copy.name)  # a prompt, not some other file that happens to be there
    with open_regular(source, what=copy.name, max_bytes=MAX_FILE_BYTES) as f:
        speaker = os.fstat(f.fileno())
        _copy(f, copy)
    preview = Path(folder) / f"{name}{PREVIEW_SUFFIX}"
    if (info := _lstat(preview)) is None or not _preview_of({preview.name: info}, name, speaker):
        return copy, None
    try:
        with open_regular(preview, what=preview.name, max_bytes=MAX_PREVIEW_BYTES) as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":  # only a wav is offered as one (a planted file is not)
                return copy, None
            f.seek(0)
            _copy(f, out / preview.name)
    except SpeakerFileError:  # changed since: no preview, the speaker is still offered
        return copy, None
    return copy, out / preview.name


def _copy(source, target: Path) -> None:
    with open(target, "xb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


Identity = tuple  # (name, inode, size, mtime_ns, sha256): which file a speaker was when a preview of it started


def identity(folder: str | os.PathLike, name: str) -> Identity:
    """The listed speaker ``name``'s current file, for :func:`save_preview`."""
    with open_regular(existing(folder, name), what=f"{name}{SUFFIX}", max_bytes=MAX_FILE_BYTES) as f:
        info = os.fstat(f.fileno())
        digest = hashlib.sha256()
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return name, info.st_ino, info.st_size, info.st_mtime_ns, digest.hexdigest()


def save_preview(folder: str | os.PathLike, made_from: Identity, write) -> Path | None:
    """Keep a preview as ``<name>.preview.wav``, only if the speaker is still the file it was made
    from (``made_from``, taken when the preview started): a preview of a speaker deleted, renamed or
    replaced meanwhile is dropped (returns None). ``write(path)`` writes the wav atomically,
    replacing an older preview."""
    with _no_folder(folder), locked(folder):
        try:
            now = identity(folder, made_from[0])
        except SpeakerFileError:
            return None
        if now != made_from:
            return None
        return Path(write(Path(folder) / f"{made_from[0]}{PREVIEW_SUFFIX}"))


def rename(folder: str | os.PathLike, old: str, new: str) -> Path:
    """Rename the listed speaker ``old`` (and its preview) to the cleaned ``new``; never replaces one.

    Under the folder's lock, and the new name is made by a hard link, which fails if anything took
    that name (a program that takes no lock included); only then is the old name removed.
    """
    new = safe_name(new)
    with _no_folder(folder), locked(folder):
        source, target = existing(folder, old), speaker_path(folder, new)
        if target == source:
            return target
        if _lstat(target) is not None:
            raise _taken_error(new)
        _move_no_clobber(source, target, new)
        old_preview, new_preview = Path(folder) / f"{old}{PREVIEW_SUFFIX}", preview_path(folder, new)
        stale, kept = _lstat(new_preview), _lstat(old_preview)
        if stale is not None and not stat.S_ISDIR(stale.st_mode):  # left by another voice of that name
            new_preview.unlink()
        if kept is not None and stat.S_ISREG(kept.st_mode):
            os.replace(old_preview, new_preview)
    return target


def _move_no_clobber(source: Path, target: Path, name: str) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except FileExistsError:
        raise _taken_error(name) from None
    except OSError:  # no hard links here (FAT, some network shares): checked under the lock above
        if _lstat(target) is not None:
            raise _taken_error(name) from None
        os.rename(source, target)
        return
    source.unlink()


def delete(folder: str | os.PathLike, name: str) -> list[Path]:
    """Delete the listed speaker ``name`` and its preview; returns what was deleted."""
    with _no_folder(folder), locked(folder):
        path = existing(folder, name)
        removed = [path]
        path.unlink()
        preview = path.with_name(f"{name}{PREVIEW_SUFFIX}")
        info = _lstat(preview)
        if info is not None and not stat.S_ISDIR(info.st_mode):  # unlinking never follows a link
            preview.unlink()
            removed.append(preview)
    return removed


def _problem(error: BaseException, filename: str) -> str:
    """What is wrong with a speaker file, naming it without the server's folders."""
    if isinstance(error, SpeakerFileError):
        return str(error)
    return f"{filename}: unreadable as a speaker prompt ({type(error).__name__})"
