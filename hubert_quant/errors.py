"""Errors raised by hubert_quant.

Every error a user can cause derives from :class:`HubertQuantError` and carries a message
that names the file, what is wrong with it and what to do. Each one also inherits the
builtin exception it refines, so callers that catch ``ValueError``/``FileNotFoundError``
keep working.
"""

from __future__ import annotations

import contextlib


class HubertQuantError(Exception):
    """Base class: the message is meant to be shown to the user as it is."""


class AudioError(HubertQuantError, ValueError):
    """An input recording cannot be used (unreadable, empty, silent, too short, ...)."""


class CheckpointError(HubertQuantError, ValueError):
    """A model file is malformed, mislabelled or unsafe to load."""


class SpeakerFileError(HubertQuantError, ValueError):
    """A speaker prompt ``.npz`` is malformed or does not satisfy Bark's checks."""


class ModelNotFoundError(HubertQuantError, FileNotFoundError):
    """A model is neither a local path nor available in the local cache."""


class OutputExistsError(HubertQuantError, FileExistsError):
    """Writing would replace a file the user made; pass ``overwrite=True`` / ``--force``."""


class WriteError(HubertQuantError, OSError):
    """A file could not be written (disk full, read-only, no permission); nothing was changed."""


class CatalogueError(HubertQuantError, ValueError):
    """The user catalogue file is malformed, or an entry being added clashes or is incomplete."""


class DownloadError(HubertQuantError, ConnectionError):
    """A download failed (server unreachable, refused, interrupted); what was fetched is kept."""


class IntegrityError(CheckpointError):
    """A downloaded or cached file does not match its size or hash; it is never loaded."""


class OutOfMemory(HubertQuantError, MemoryError):
    """The device ran out of memory; the message says what to try instead."""


_OOM_WORDS = ("out of memory", "can't allocate memory", "defaultcpuallocator")  # GPU, then the CPU's wording


@contextlib.contextmanager
def explain_out_of_memory(what: str, device: str):
    """Turn torch's out-of-memory errors into an :class:`OutOfMemory` that says what to do."""
    try:
        yield
    except (MemoryError, RuntimeError) as e:  # torch.OutOfMemoryError (GPU) is a RuntimeError
        if not isinstance(e, MemoryError) and not any(w in str(e).lower() for w in _OOM_WORDS):
            raise
        if str(device).startswith("cpu"):
            advice = "clone a shorter part (--start/--end; 5 to 15 s is what Bark uses), or close other programs"
        else:
            advice = "try --device cpu, a shorter part (--start/--end), or close other programs using the GPU"
        raise OutOfMemory(f"{device} ran out of memory while {what}; {advice}") from e


def message(e: BaseException) -> str:
    """An error's text on one line (whitespace runs, newlines included, become one space). Only our own
    errors may be a short first line and then indented lines, one per item (several missing models):
    those lines are kept, each on one line."""
    text = str(e).strip() or type(e).__name__
    if isinstance(e, HubertQuantError) and "\n" in text:
        return "\n".join(("  " if line.startswith("  ") else "") + " ".join(line.split())
                         for line in text.splitlines() if line.strip())
    return " ".join(text.split())


class DatasetError(HubertQuantError, ValueError):
    """A training dataset (or the files it is imported from) holds a name or a file that is not a pair."""
