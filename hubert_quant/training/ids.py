"""Pair ids and the plain files they name: the one check for each, used by all of training/.

:func:`pair_id` decides what a pair id is (an allowlist: ASCII letters, digits, ``_-.``), so an
id can name a file and nothing else, on any disk. :func:`open_plain` is the one way a dataset
file or a source file is opened: a link, a FIFO, a device or a folder is refused from its
``lstat`` and never opened. :func:`read_capped` reads with the real size capped, whatever a
header declares.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from .. import files
from ..errors import DatasetError
from ..files import file_kind  # noqa: F401 - sources.py names kinds with it

# Pair ids: ASCII letters, digits, '_', '-', '.', so no look-alike, no NFC/NFD twin, nothing a
# terminal or another OS reads differently can be an id. 100 characters leave room in 255 bytes
# for the suffix and atomic_write's hidden ``.<name>.<pid>-<random>.part``.
ID_MAX_CHARS = 100
_ID_FIRST, _ID_REST = "_", "_-."
# Names Windows gives to devices, whatever follows a dot: a dataset copied there must still work.
_RESERVED = {"con", "prn", "aux", "nul", "conin$", "conout$",
             *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_BLOCK = 1 << 20
_PAIR_ADVICE = ("far more than a training pair; it was not read further. Remove it, or split long recordings into "
                "pairs of a few seconds.")


def shown(name: object) -> str:
    """``name`` as messages show it: quoted and escaped (newlines, control and invisible
    characters visible), cut to 80 characters so a huge name cannot flood the terminal."""
    text = repr(name)
    return text if len(text) <= 80 else f"{text[:60]}...' ({len(name) if isinstance(name, str) else '?'} characters)"


def id_problem(name: object) -> str | None:
    """Why ``name`` is not a valid pair id, or None when it is one. See :func:`pair_id`."""
    if not isinstance(name, str):
        return f"it is {type(name).__name__}, not text"
    if not name:
        return "it is empty"
    if len(name) > ID_MAX_CHARS:
        return f"it is {len(name)} characters long (at most {ID_MAX_CHARS})"
    for char in name:
        if not (char.isascii() and (char.isalnum() or char in _ID_REST)):
            return f"it holds {_describe(char)}"
    if not (name[0].isalnum() or name[0] in _ID_FIRST):
        return f"it starts with {name[0]!r}"
    if ".." in name:
        return "it holds '..'"
    if name.endswith("."):
        return "it ends with '.' (Windows drops it)"
    if name.split(".")[0].lower() in _RESERVED:
        return "it is a device name on Windows"
    return None


def _describe(char: str) -> str:
    if char in "/\\":
        return f"a folder separator {char!r}"
    if unicodedata.category(char)[0] == "C":
        return f"a control or invisible character {ascii(char)}"
    return f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"


def pair_id(name: str, where: str = "") -> str:
    """``name`` if it is a valid pair id, else :class:`DatasetError` naming it.

    A pair id is 1 to 100 ASCII letters, digits, ``_``, ``-`` and ``.``; it starts with a
    letter, a digit or ``_``, holds no ``..``, does not end with ``.`` and is not a Windows
    device name (``CON``, ``nul.x``, ``COM1``...). Within one dataset ids also differ in more than
    letter case (:func:`id_key`), so a dataset copied to a case-insensitive disk keeps every pair.
    """
    problem = id_problem(name)
    if problem:
        raise DatasetError(f"{where}{shown(name)} is not a pair id: {problem}. Pair ids are up to {ID_MAX_CHARS} "
                           "ASCII letters, digits, '_', '-' and '.' (not first); rename it.")
    return name


def id_key(pair_id: str) -> str:
    """What must be unique among a dataset's ids: the id without letter case."""
    return pair_id.casefold()


# ---- plain files only ---------------------------------------------------------------------------


def not_plain(kind: str) -> str:
    return f"is {kind}, not a plain file; it was not opened. Put the file itself there (copy it), or remove it"


def open_plain(path: Path, where: str) -> int:
    """A read-only descriptor of ``path`` if it is a plain file (:func:`hubert_quant.files.open_plain`:
    a link, FIFO, device or folder is refused unopened, also one swapped in meanwhile)."""
    try:
        return files.open_plain(path)
    except FileNotFoundError:
        raise DatasetError(f"{where}: no such file") from None
    except files.NotPlainFile as e:
        raise DatasetError(f"{where} {not_plain(e.kind)}") from None
    except OSError as e:
        raise DatasetError(f"{where} could not be opened ({e.strerror or e}); it was not read") from e


def read_capped(f, cap: int, where: str, advice: str = _PAIR_ADVICE) -> bytes:
    """All of ``f``, read in blocks, refused as soon as it holds more than ``cap`` bytes: what a
    header declares is never trusted."""
    blocks, total = [], 0
    while True:
        block = f.read(min(_BLOCK, cap + 1 - total))
        if not block:
            return b"".join(blocks)
        blocks.append(block)
        total += len(block)
        if total > cap:
            raise DatasetError(f"{where} holds more than {cap // 2**20} MiB, {advice}")


def read_plain(path: Path, cap: int, where: str, advice: str = _PAIR_ADVICE) -> bytes:
    with os.fdopen(open_plain(path, where), "rb") as f:
        return read_capped(f, cap, where, advice)


# ---- a dataset's own files ---------------------------------------------------------------------


def pair_file(dest: str | os.PathLike, kind: str, pair: str) -> Path:
    """``dest/kind/<pair>.<suffix>`` (kind: "wav", "semantic" or "features"), for a valid id only.

    Every path to a pair's file is made here, so an id from anywhere (a manifest edited by hand
    included) never leaves ``dest/kind``."""
    return Path(dest) / kind / f"{pair_id(pair, f'{dest}: ')}{'.wav' if kind == 'wav' else '.npy'}"


def plain_pair_file(dest: Path, kind: str, pair: str) -> Path:
    """:func:`pair_file`, refused unless it is a plain file (checked without opening it)."""
    path = pair_file(dest, kind, pair)
    try:
        kind_of = file_kind(os.lstat(path).st_mode)
    except FileNotFoundError:
        hint = "run `hubert-quant dataset features`" if kind == "features" else "import the pair again"
        raise DatasetError(f"{dest}: {kind}/{path.name} is missing for pair {pair!r}; {hint}") from None
    if kind_of:
        raise DatasetError(f"{dest}: {kind}/{path.name} {not_plain(kind_of)}")
    return path
