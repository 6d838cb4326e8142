"""A folder of speaker prompts, by name: list, save, rename, delete, import.

A speaker called ``name`` is the file ``<folder>/<name>.npz`` (what audio-webui's Bark tab
lists from ``data/bark_custom_speakers/``), with an optional preview ``<name>.preview.wav``.
Names typed by users become file names, so they are cleaned first: no folders, no leading
dots, no characters Windows forbids, no reserved device names, at most 100 characters.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputExistsError, SpeakerFileError
from .speaker import SpeakerPrompt, load_speaker, save_speaker

MAX_NAME = 100
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
    cleaned = re.sub(r'[\x00-\x1f<>:"/\\|?*]', "_", cleaned).strip().lstrip(".").strip()
    if cleaned.lower().endswith(".npz"):
        cleaned = cleaned[:-4].rstrip()
    cleaned = cleaned[:MAX_NAME].rstrip(" .")
    if not cleaned:
        raise ValueError(f"{name!r} cannot be used as a speaker name; use letters, digits, spaces, - or _")
    if cleaned.split(".")[0].lower() in _RESERVED:
        cleaned = f"{cleaned}_"
    return cleaned


def speaker_path(folder: str | os.PathLike, name: str) -> Path:
    return Path(folder) / f"{safe_name(name)}.npz"


def preview_path(folder: str | os.PathLike, name: str) -> Path:
    return Path(folder) / f"{safe_name(name)}.preview.wav"


def list_speakers(folder: str | os.PathLike) -> list[SpeakerInfo]:
    """Every ``.npz`` in ``folder``, sorted by name; unreadable ones are listed with the problem."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.glob("*.npz"), key=lambda p: p.stem.casefold()) if folder.is_dir() else []:
        preview = path.with_name(f"{path.stem}.preview.wav")
        try:
            prompt = load_speaker(path)
        except SpeakerFileError as e:
            found.append(SpeakerInfo(path.stem, path, problem=str(e)))
            continue
        meta = prompt.metadata or {}
        found.append(SpeakerInfo(
            path.stem, path, round(prompt.duration, 2), str(meta.get("quantizer", "")),
            str(meta.get("created", "")), preview if preview.is_file() else None,
        ))
    return found


def save(folder: str | os.PathLike, name: str, prompt: SpeakerPrompt, *, overwrite: bool = False) -> Path:
    """Save ``prompt`` as speaker ``name`` (atomic; refuses to replace unless ``overwrite``)."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return save_speaker(prompt, speaker_path(folder, name), overwrite=overwrite)


def import_file(folder: str | os.PathLike, upload: str | os.PathLike, name: str | None = None,
                *, overwrite: bool = False) -> Path:
    """Validate an uploaded ``.npz`` and store a clean copy (only the prompt arrays) as ``name``."""
    prompt = load_speaker(upload)
    return save(folder, name or Path(upload).stem, prompt, overwrite=overwrite)


def rename(folder: str | os.PathLike, old: str, new: str) -> Path:
    """Rename a speaker (and its preview); refuses to replace another speaker."""
    source, target = speaker_path(folder, old), speaker_path(folder, new)
    if not source.is_file():
        raise SpeakerFileError(f"there is no speaker called {old!r}")
    if target.exists() and target != source:
        raise OutputExistsError(f"a speaker called {safe_name(new)!r} already exists")
    os.replace(source, target)
    if preview_path(folder, old).is_file():
        os.replace(preview_path(folder, old), preview_path(folder, new))
    return target


def delete(folder: str | os.PathLike, name: str) -> list[Path]:
    """Delete a speaker and its preview; returns what was deleted."""
    removed = []
    for path in (speaker_path(folder, name), preview_path(folder, name)):
        if path.is_file():
            path.unlink()
            removed.append(path)
    if not removed:
        raise SpeakerFileError(f"there is no speaker called {name!r}")
    return removed
