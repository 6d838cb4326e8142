"""What the user imported: files ``models import`` placed from the user's own copy, with the SHA-256 and
size each had then, in one small record in hubert-quant's own cache (``imported.json``, written atomically).

A download of ours is checked against the hash its server announced (or its name carries), and deleted when
damaged. An imported file is the user's: ``models verify`` checks it against this record, reports it when it
changed, and nothing of ours deletes it for not matching a download's hash (``models remove`` still removes
the copy on request). A file placed by hand or by a host has neither and is only reported.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..files import atomic_write_bytes, file_digest
from .hub import own_cache_dir

RECORD = "imported.json"


def remember(path: Path, model: str) -> dict:
    """Record ``path`` (just placed by ``models import`` for catalogue ``model``): its SHA-256 and size."""
    entry = {"sha256": file_digest(path, "sha256"), "size": Path(path).stat().st_size, "model": model,
             "imported": int(time.time())}
    records = {k: v for k, v in _records().items() if Path(k).is_file()}  # forget files that are gone
    records[_key(path)] = entry
    _write(records)
    return entry


def record(path: Path) -> dict | None:
    """What was recorded when ``path`` was imported (``sha256``, ``size``, ``model``), or None: not imported."""
    entry = _records().get(_key(path))
    return entry if isinstance(entry, dict) and isinstance(entry.get("sha256"), str) else None


def unchanged(path: Path) -> bool | None:
    """Whether an imported file still has the size and SHA-256 it was imported with (None: not imported)."""
    entry = record(path)
    if entry is None:
        return None
    return Path(path).stat().st_size == entry.get("size") and file_digest(path, "sha256") == entry["sha256"]


def forget(*paths: Path) -> None:
    """Drop the records of ``paths`` (removed on request)."""
    records = _records()
    keys = {_key(p) for p in paths} & set(records)
    if keys:
        _write({k: v for k, v in records.items() if k not in keys})


def _key(path: Path) -> str:
    return str(Path(path).resolve())  # a Hub snapshot pointer and its blob are one file


def _records() -> dict:
    try:
        records = json.loads((own_cache_dir() / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _write(records: dict) -> None:
    own_cache_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(own_cache_dir() / RECORD, json.dumps(records, indent=1).encode(), overwrite=True)
