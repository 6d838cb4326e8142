"""A folder of speaker prompts, by name: list, save, rename, delete, import.

A speaker called ``name`` is the file ``<folder>/<name>.npz`` (what audio-webui's Bark tab
lists from ``data/bark_custom_speakers/``), with an optional preview ``<name>.preview.wav``.
Names typed by users become file names, so they are cleaned first: no folders, no leading
dots, no characters Windows forbids, no invisible (control, bidi, zero-width) characters, no
reserved device names, at most 100 characters and 200 bytes.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputExistsError, SpeakerFileError
from .speaker import SpeakerPrompt, Style, load_speaker, save_speaker

MAX_NAME = 100
MAX_NAME_BYTES = 200  # + ".preview.wav" stays under the usual 255-byte file-name limit
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
    cleaned = "".join(c for c in cleaned if unicodedata.category(c) not in ("Cc", "Cf", "Co", "Cs", "Cn"))
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
        except Exception as e:  # noqa: BLE001 - one bad file is listed with its problem; the rest still work
            found.append(SpeakerInfo(path.stem, path, problem=_problem(e, path)))
            continue
        meta = prompt.metadata or {}
        found.append(SpeakerInfo(
            path.stem, path, round(prompt.duration, 2), str(meta.get("quantizer", "")),
            str(meta.get("created", "")), preview if preview.is_file() else None,
        ))
    return found


def save(folder: str | os.PathLike, name: str, prompt: SpeakerPrompt, *, overwrite: bool = False,
         style: Style = "bark") -> Path:
    """Save ``prompt`` as speaker ``name`` (atomic; refuses to replace unless ``overwrite``);
    ``style`` as in :func:`hubert_quant.speaker.save_speaker`."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    return save_speaker(prompt, speaker_path(folder, name), overwrite=overwrite, style=style)


def clone_into(folder: str | os.PathLike, name: str, audio, *, extra: Sequence = (), start: float | None = None,
               end: float | None = None, style: Style = "bark", **options) -> tuple[Path, SpeakerPrompt]:
    """Clone ``audio`` into the library as ``name`` (cleaned with :func:`safe_name`): the part
    ``start``-``end`` of it, joined with the best part of each ``extra`` clip if any.

    Refuses a name already taken before any model runs. ``options`` go to
    :func:`hubert_quant.clone_voice` (quantizer, hubert, codec, device, progress, stages).
    returns: (the speaker file, the prompt).
    """
    from .clone import clone_speaker, clone_voice

    name = safe_name(name)
    if speaker_path(folder, name).exists():
        raise OutputExistsError(f"A speaker called {name!r} already exists; pick another name or delete it first.")
    if extra:  # the recording's part as chosen (the best one if none was), and each other clip's best part
        chosen = (start, end) if start is not None or end is not None else None
        prompt = clone_speaker([audio, *extra], ranges=[chosen] + [None] * len(extra), **options)
    else:
        prompt = clone_voice(audio, start=start, end=end, **options)
    return save(folder, name, prompt, style=style), prompt


def import_file(folder: str | os.PathLike, upload: str | os.PathLike, name: str | None = None,
                *, overwrite: bool = False, style: Style = "bark") -> Path:
    """Validate an uploaded ``.npz`` and store a clean copy (only the prompt arrays) as ``name``."""
    prompt = load_speaker(upload)
    return save(folder, name or Path(upload).stem, prompt, overwrite=overwrite, style=style)


def existing(folder: str | os.PathLike, name: str) -> Path:
    """The file of the listed speaker ``name``, exactly as listed, never a cleaned look-alike.

    Names are cleaned once, when a speaker is created; acting on a cleaned name would let
    ``a:b`` stand for ``a_b``. Raises SpeakerFileError for a name that is not listed.
    """
    name = str(name or "")
    path = Path(folder) / f"{name}.npz"
    if not name or name in (".", "..") or any(c in name for c in '/\\\0') or not path.is_file():
        raise SpeakerFileError(f"there is no speaker called {name!r}")
    return path


def rename(folder: str | os.PathLike, old: str, new: str) -> Path:
    """Rename the listed speaker ``old`` (and its preview) to the cleaned ``new``; never replaces one."""
    source, target = existing(folder, old), speaker_path(folder, new)
    if target.exists() and target != source:
        raise OutputExistsError(f"a speaker called {safe_name(new)!r} already exists")
    os.replace(source, target)
    old_preview = source.with_name(f"{old}.preview.wav")
    if old_preview.is_file():
        os.replace(old_preview, preview_path(folder, new))
    return target


def delete(folder: str | os.PathLike, name: str) -> list[Path]:
    """Delete the listed speaker ``name`` and its preview; returns what was deleted."""
    path = existing(folder, name)
    removed = [path]
    path.unlink()
    preview = path.with_name(f"{name}.preview.wav")
    if preview.is_file():
        preview.unlink()
        removed.append(preview)
    return removed


def _problem(error: BaseException, path: Path) -> str:
    """What is wrong with a speaker file, naming it without the server's folders."""
    if isinstance(error, SpeakerFileError):
        return str(error).replace(str(path), path.name)
    return f"{path.name}: unreadable as a speaker prompt ({type(error).__name__})"
