"""Atomic, no-clobber file writes.

A file appears under its final name only once it is complete: data goes to a temporary
file in the same folder, is flushed to disk, then renamed. Nothing the user made is
replaced unless ``overwrite=True``. The file gets the permissions ``open()`` would give it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from .errors import OutputExistsError


def atomic_write(
    path: str | os.PathLike, write: Callable[[BinaryIO], None], *, overwrite: bool = False
) -> Path:
    """Call ``write(fileobj)`` on a temporary file, then move it to ``path``.

    Raises :class:`OutputExistsError` if ``path`` exists and ``overwrite`` is false. On any
    failure the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --force (overwrite=True) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; a finished file gets what open() would give
                os.fchmod(f.fileno(), new_file_mode())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def new_file_mode() -> int:
    """0o666 less the process's umask (what ``open()`` gives a new file): speakers saved in a
    host's shared folder stay readable by the others who use it, as the host's own files are.

    Read from /proc, since setting the umask to read it back would race other threads."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    return atomic_write(path, lambda f: f.write(data), overwrite=overwrite)


def _move_no_clobber(tmp: Path, path: Path) -> None:
    # A hard link fails if the target appeared since the check above, so a file another
    # process just wrote is never replaced; filesystems without links fall back to rename.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(
            f"{path} already exists; pass --force (overwrite=True) to replace it."
        ) from None
    except OSError:
        if path.exists():
            raise OutputExistsError(
                f"{path} already exists; pass --force (overwrite=True) to replace it."
            ) from None
        os.replace(tmp, path)
        return
    tmp.unlink()
