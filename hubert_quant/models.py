"""The one place that turns a model name or path into a loaded model.

Each ``load_*`` function accepts a local path or a name (a catalogue name such as
"Large English" or "german" for quantizers, a Hub id for HuBERT), resolves it to files on
disk, and keeps the loaded model for the life of the process: a long-running program that
clones many files loads each model once. A model that is not on disk gives a
:class:`ModelNotFoundError` that says what is missing and how to get it.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import ModelNotFoundError

DEFAULT_QUANTIZER = "Large English"


@dataclass(frozen=True)
class QuantizerEntry:
    """One row of the quantizer catalogue (the upstream JSON shape)."""

    name: str
    repo: str
    file: str
    language: str
    author: str
    quant_version: int
    official: bool
    dlfilename: str  # the file name audio-webui keeps it under in data/models/hubert/
    extra: dict


def catalogue() -> list[QuantizerEntry]:
    """The quantizers known by name, shipped with the package."""
    text = resources.files(__package__).joinpath("quantizers.json").read_text(encoding="utf-8")
    return [QuantizerEntry(**row) for row in json.loads(text)]


def find_quantizer(name: str) -> QuantizerEntry | None:
    """Catalogue entry whose name, file name or host file name matches ``name`` (any case)."""
    wanted = name.strip().casefold()
    for entry in catalogue():
        if wanted in (entry.name.casefold(), entry.file.casefold(), entry.dlfilename.casefold()):
            return entry
    return None


def resolve_quantizer(source: str | os.PathLike | None = None) -> Path:
    """Path of the quantizer checkpoint named by ``source`` (default: Large English)."""
    source = DEFAULT_QUANTIZER if source is None else source
    path = Path(source).expanduser()
    if path.is_file():
        return path
    entry = find_quantizer(str(source))
    if entry is None:
        names = ", ".join(e.name for e in catalogue())
        raise ModelNotFoundError(
            f"quantizer {str(source)!r} is neither a file nor a known name. Known names: {names}."
        )
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(entry.repo, entry.file)
    if isinstance(cached, str):
        return Path(cached)
    raise ModelNotFoundError(
        f"quantizer {entry.name!r} ({entry.repo}/{entry.file}) is not downloaded. On a connected "
        f"machine run `hf download {entry.repo} {entry.file}`, or pass --quantizer PATH to a copy."
    )


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu; other names are checked, not guessed."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but PyTorch sees no CUDA GPU; use --device cpu")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for but it is not available here; use --device cpu")
    return device


_loaded: dict[tuple, object] = {}
_lock = threading.Lock()


def _cached(kind: str, source: str, device: str, load):
    # Keyed by modification time too, so a file replaced on disk is loaded afresh.
    path = Path(source)
    stamp = path.stat().st_mtime_ns if path.exists() else None
    key = (kind, str(source), stamp, device)
    with _lock:
        if key not in _loaded:
            _loaded[key] = load()
        return _loaded[key]


def clear_cache() -> None:
    """Forget every loaded model (frees memory once nothing else holds them)."""
    with _lock:
        _loaded.clear()


def load_quantizer(source: str | os.PathLike | None = None, *, device: str = "auto"):
    """A :class:`~hubert_quant.quantizer.Quantizer` from a path or catalogue name."""
    from .quantizer import Quantizer

    path, device = resolve_quantizer(source), resolve_device(device)
    return _cached("quantizer", str(path), device, lambda: Quantizer.load(path, device=device))


def load_hubert(source: str | os.PathLike | None = None, *, device: str = "auto"):
    """A :class:`~hubert_quant.hubert.HubertEncoder` from a folder or Hub id."""
    from .hubert import DEFAULT_HUBERT, HubertEncoder

    source, device = str(source or DEFAULT_HUBERT), resolve_device(device)
    return _cached("hubert", source, device, lambda: HubertEncoder.load(source, device=device))


def load_codec(source: str | os.PathLike | None = None, *, device: str = "auto"):
    """A :class:`~hubert_quant.codec.Codec` from a state_dict file (default: encodec's own)."""
    from .codec import Codec, default_weights_path

    path, device = Path(source) if source else default_weights_path(), resolve_device(device)
    return _cached("codec", str(path), device, lambda: Codec.load(path, device=device))
