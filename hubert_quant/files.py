"""Atomic, no-clobber file writes.

A file appears under its final name only once it is complete: data goes to a temporary
file in the same folder, is flushed to disk, then renamed. Nothing the user made is
replaced unless ``overwrite=True``. The file gets the permissions ``open()`` would give it.

A writer killed mid-write (kill -9, a power cut) leaves its hidden ``.<name>.<pid>-*.part``
file behind; the next write into that folder removes such leftovers once their process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import OutputExistsError, WriteError

_PART = re.compile(r"^\..+\.(\d+)-[^.]+\.part$")  # .<name>.<pid>-<random>.part, see atomic_write
STALE_PART_SECONDS = 60  # a leftover this old whose process is gone is never a write in progress


def atomic_write(
    path: str | os.PathLike, write: Callable[[BinaryIO], None], *, overwrite: bool = False
) -> Path:
    """Call ``write(fileobj)`` on a temporary file, then move it to ``path``.

    Raises :class:`OutputExistsError` if ``path`` exists and ``overwrite`` is false. On any
    failure the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if os.path.lexists(path) and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --force (overwrite=True) to replace it.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_parts(path.parent)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=".part", dir=path.parent)
    except OSError as e:
        raise _write_error(path, e) from e
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
    except OutputExistsError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _write_error(path, e) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def check_writable(targets: list[Path], *, overwrite: bool = False) -> None:
    """Before any work: every one of ``targets`` can be written as :func:`atomic_write` would (its folder,
    or the nearest existing one above it, takes a new file: tried for real, so a read-only disk, missing
    permissions and a file where a folder should be are all caught); none is a folder; and, unless
    ``overwrite``, none exists. Raises one error naming every target that cannot be written."""
    existing, problems, tried = [], [], {}
    for path in map(Path, targets):
        if path.is_dir():
            problems.append(f"{path} is a folder")
            continue
        if os.path.lexists(path) and not overwrite:  # a link, even one to nothing, is something there
            existing.append(str(path))
        folder = path.parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        if folder not in tried:
            tried[folder] = _cannot_write_in(folder)
        if tried[folder]:
            problems.append(f"{path} ({tried[folder]})")
    if problems:
        raise WriteError(f"cannot write {'; '.join(problems)}. Nothing was done: choose another --out and run again.")
    if len(existing) == 1:
        raise OutputExistsError(f"{existing[0]} already exists; pass --force to replace it")
    if existing:
        raise OutputExistsError(f"already there: {', '.join(existing)}; pass --force to replace them")


def _cannot_write_in(folder: Path) -> str:
    """Why no new file can be made in ``folder`` ("" if one can): a real try, removed at once."""
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        fd, name = tempfile.mkstemp(prefix=".hubert-quant-check-", suffix=".part", dir=folder)
    except OSError as e:
        return f"{folder}: {e.strerror or type(e).__name__}"
    os.close(fd)
    os.unlink(name)
    return ""


def plain_name(name: object) -> bool:
    """Whether ``name`` is a file name that reads as what it is and stays in its folder: a non-empty string,
    no invisible or control characters (nor lone surrogates, which no file system takes), no surrounding
    spaces, no separators, NFC, not hidden (so not ``.`` or ``..``). Others look like another file
    (``ali\\u200bce``, ``bob\\n``) or lead elsewhere, and are never opened."""
    return (isinstance(name, str) and bool(name) and name == name.strip() and not name.startswith(".")
            and not any(c in name for c in "/\\") and unicodedata.normalize("NFC", name) == name
            and not any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp") for c in name))


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, name: str, what: str, error: type[Exception] = WriteError, *,
                busy: str | None = None, mode: int = 0o666) -> Iterator[None]:
    """Hold ``folder``'s lock (the file ``name`` in it, ``what`` in messages, ``error`` their kind): one
    writer at a time, across threads and processes. ``busy``: do not wait for another holder; raise
    :class:`~hubert_quant.errors.WriteError` with that text instead (the racing-writers guard). mode: of a
    new lock file (0600: only this user can open it, so no one else can hold it).

    ``fcntl.flock`` on ``<folder>/<name>`` (each call opens it anew, so threads of one
    process exclude each other too); ``msvcrt.locking`` on Windows; where neither exists, no lock
    (the no-clobber links below still never replace a speaker). The lock file is opened without
    following a link.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(folder / name, flags, mode)  # 0666: others sharing the folder lock it too (umask applies)
    except OSError as e:
        raise error(f"{what} {name} cannot be opened ({e.strerror or type(e).__name__}); remove it if it is "
                    "a link or folder.") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"{what} {name} is not a file; remove it.")
        if not _lock(fd, True, wait=busy is None):
            raise WriteError(busy)
        try:
            yield
        finally:
            _lock(fd, False)
    finally:
        os.close(fd)


def _lock(fd: int, lock: bool, *, wait: bool = True) -> bool:
    """Take (or give back) the lock on ``fd``; False if ``wait`` is off and someone else holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: msvcrt, retried (it gives up after 10 s); elsewhere none (documented)
        try:
            import msvcrt
        except ImportError:
            return True
        os.lseek(fd, 0, os.SEEK_SET)
        mode = (msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK) if lock else msvcrt.LK_UNLCK
        while True:
            with contextlib.suppress(OSError):
                return msvcrt.locking(fd, mode, 1) or True
            if not wait:
                return False
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)) if lock else fcntl.LOCK_UN)
    except BlockingIOError:
        return False
    return True


def _write_error(path: Path, e: OSError) -> OSError:
    """The user's words for a failed write: which file, why, what to do; nothing was changed."""
    if isinstance(e, WriteError):
        return e
    advice = {
        errno.ENOSPC: "free some space on that disk (or write elsewhere) and run again",
        errno.EDQUOT: "your disk quota is used up: free some space (or write elsewhere) and run again",
        errno.EROFS: "that disk is read-only: write elsewhere",
        errno.EACCES: "you may not write in that folder: write elsewhere or change its permissions",
        errno.EPERM: "you may not write in that folder: write elsewhere or change its permissions",
    }.get(e.errno, "check the folder and run again")
    reason = e.strerror or str(e) or type(e).__name__
    error = WriteError(f"could not write {path}: {reason}; {advice}. "
                       f"Nothing was changed there{' (the existing file is as it was)' if path.exists() else ''}.")
    error.errno = e.errno
    return error


def remove_stale_parts(folder: Path) -> list[Path]:
    """Delete hidden ``.part`` files in ``folder`` left by writers that were killed (their process is
    gone and the file is over a minute old); returns what was deleted. Others' files are left alone."""
    removed = []
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.endswith(".part")]
    except OSError:
        return removed
    for name in names:
        match = _PART.match(name)
        if not match or _process_alive(int(match.group(1))):
            continue
        part = folder / name
        try:
            if time.time() - part.lstat().st_mtime > STALE_PART_SECONDS:
                part.unlink()
                removed.append(part)
        except OSError:  # gone already, or not ours to delete
            pass
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid we can judge: assume it is writing
    return True


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


def atomic_copy(source: str | os.PathLike, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Copy ``source`` to ``path`` the same way: complete under its final name, or not there at all."""
    import shutil

    with open(source, "rb") as f:
        return atomic_write(path, lambda out: shutil.copyfileobj(f, out, 1 << 20), overwrite=overwrite)


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


def file_digest(path: str | os.PathLike, kind: str = "sha256") -> str:
    """Hex digest of a file, read in blocks: ``sha256``, or ``git-sha1`` (git's blob id: the sha1
    of ``b"blob <size>\\0"`` and the content, which is what the Hub's ETag is for small files)."""
    digest = hashlib.sha256() if kind == "sha256" else hashlib.sha1()
    if kind == "git-sha1":
        digest.update(b"blob %d\0" % Path(path).stat().st_size)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def human_size(n: int, *, decimals: int = 1) -> str:
    """Bytes for people, in powers of 1000 as disks are sold: "1.2 GB", "210.1 MB" ("210 MB" with
    ``decimals=0``, which also shows anything smaller in MB), "12 kB"."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    if n >= 1e6 or decimals == 0:
        return f"{n / 1e6:.{decimals}f} MB"
    return f"{n / 1e3:.0f} kB"


def with_suffix(path: str | os.PathLike, suffix: str) -> Path:
    """``path`` with ``suffix`` (".npz", ".wav") added unless it already ends so, in any case:
    "me" -> "me.npz", "me.v2" -> "me.v2.npz", "ME.NPZ" stays."""
    path = Path(path)
    return path if path.suffix.lower() == suffix else path.with_name(path.name + suffix)


# ---- reading: the one way an untrusted file is opened ---------------------------------------------


class NotPlainFile(OSError):
    """What was found is not a regular file (``kind``: "a link", "a folder", "a FIFO", ...); it was not read."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def file_kind(mode: int) -> str | None:
    """What a stat mode is, in words, when it is not a regular file; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, words in ((stat.S_ISLNK, "a link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                        (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def open_plain(path: str | os.PathLike, *, follow_links: bool = False) -> int:
    """A read-only descriptor of ``path`` if it is a regular file; raises :class:`NotPlainFile` otherwise.

    What is there is judged before it is opened (``lstat``, or ``stat`` with ``follow_links``: a device
    may act on open), and again on the open descriptor (``fstat``: same file, still regular), so a link,
    FIFO or device swapped in meanwhile is refused. ``O_NONBLOCK`` keeps a FIFO from hanging the open;
    ``O_NOFOLLOW`` (unless ``follow_links``) makes a link swapped in fail. FileNotFoundError and other
    OSErrors pass through.
    """
    before = os.stat(path) if follow_links else os.lstat(path)
    if kind := file_kind(before.st_mode):
        raise NotPlainFile(kind)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0)))
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):  # swapped for a link since the lstat
            raise NotPlainFile("a link") from None
        raise
    info = os.fstat(fd)
    if (kind := file_kind(info.st_mode)) or (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise NotPlainFile(kind or "a file that changed while it was opened")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return fd
