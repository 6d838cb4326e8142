"""Loading models, once per process: a model asked for again (by the same file, device and
precision) is the one already in memory, and :func:`gather` looks every needed model up before
any loads, so that all the missing ones are named in one error.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ..device import resolve_device
from ..errors import CheckpointError, DownloadError, ModelNotFoundError
from . import find, hub

_loaded: dict[tuple, object] = {}
_lock = threading.Lock()


def _cached(kind: str, path: Path, device: str, load):
    # Keyed by modification time too, so a file replaced on disk is loaded afresh.
    stamp = path.stat().st_mtime_ns if path.exists() else None
    key = (kind, str(path), stamp, device)
    with _lock:
        if key not in _loaded:
            _loaded[key] = load()
        return _loaded[key]


_by_name: dict[tuple, object] = {}


def remember(kind: str, source, device: str, fast: bool, model) -> None:
    """Note that ``source`` (a name, path or None for the default) gave ``model``."""
    with _lock:
        _by_name[(kind, str(source), device, fast)] = model


def remembered(kind: str, source, device: str, fast: bool):
    """The model ``source`` gave earlier in this process (``device`` as asked, e.g. "auto"), or None."""
    if not _by_name:
        return None
    key = (kind, str(source), resolve_device(device), fast)
    with _lock:
        return _by_name.get(key)


def or_remembered(kind: str, source, device: str, fast: bool, resolve):
    """``resolve`` wrapped so that a missing file falls back to the model ``source`` gave earlier in
    this process (files deleted, or a cache moved, while the program runs)."""

    def lookup():
        try:
            return resolve()
        except (ModelNotFoundError, DownloadError):
            model = remembered(kind, source, device, fast)
            if model is None:
                raise
            return model

    return lookup


def gather(lookups: dict):
    """Run every lookup (a name -> a callable that finds a model); returns name -> what it found.

    Every missing model is named in one error, not one per run: a first run without network
    learns in one go that the quantizer, HuBERT and EnCodec are all needed.
    """
    found, missing = {}, []
    for name, lookup in lookups.items():
        try:
            found[name] = lookup()
        except (ModelNotFoundError, DownloadError) as e:
            missing.append(e)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        if all(hasattr(e, "missing_entries") for e in missing):
            raise find.several_missing(missing)
        kind = DownloadError if any(isinstance(e, DownloadError) for e in missing) else ModelNotFoundError
        raise kind(f"{len(missing)} models are missing. " + " ".join(f"({i}) {e}" for i, e in enumerate(missing, 1)))
    return found


def clear_cache() -> None:
    """Forget every loaded model (frees memory once nothing else holds them)."""
    with _lock:
        _loaded.clear()
        _by_name.clear()


def load_quantizer(source=None, *, device: str = "auto", progress: hub.Progress | None = None, fast: bool = False):
    """A :class:`~hubert_quant.quantizer.Quantizer` from a path or catalogue name (``fast``: bfloat16 LSTM)."""
    from ..quantizer import Quantizer

    path, device = find.resolve_quantizer(source, progress=progress), resolve_device(device)
    return _cached(f"quantizer fast={fast}", path, device, lambda: Quantizer.load(path, device=device, fast=fast))


def load_hubert(source=None, *, device: str = "auto", progress: hub.Progress | None = None, fast: bool = False):
    """A :class:`~hubert_quant.hubert.HubertEncoder` from a folder, catalogue name or Hub id (``fast``: bfloat16)."""
    from ..hubert import HubertEncoder

    path, device = find.resolve_hubert(source, progress=progress), resolve_device(device)
    return _cached(f"hubert fast={fast}", path, device, lambda: HubertEncoder.load(path, device=device, fast=fast))


def load_codec(source=None, *, device: str = "auto", progress: hub.Progress | None = None):
    """A :class:`~hubert_quant.codec.Codec` from a state_dict file (default: encodec's own)."""
    from ..codec import Codec

    path, device = find.resolve_codec(source, progress=progress), resolve_device(device)
    return _cached("codec", path, device, lambda: Codec.load(path, device=device))


# ---- the three models a clone needs, together -------------------------------------------------


def load_models(
    quantizer=None, hubert=None, codec=None, *, device: str = "auto", progress=None, with_codec=True, fast=False
):
    """(quantizer, hubert, codec or None): names and paths become loaded models; loaded ones pass through.

    Files are found (or downloaded) first, so a missing model fails fast, before torch is imported.
    """
    wanted = wanted_models(quantizer, hubert, codec, with_codec=with_codec)
    found = find_models(wanted, device=device, progress=progress, fast=fast)
    return load_found(wanted, found, device=device, fast=fast)


def find_models(wanted: dict, *, device: str = "auto", progress=None, fast: bool = False) -> dict:
    """Each wanted model's file (downloaded if missing), or the model itself if already loaded.

    Raises one :class:`~hubert_quant.errors.ModelNotFoundError` (or ``DownloadError``) naming
    every model that is missing, not only the first.
    """
    return gather(model_lookups(wanted, device=device, progress=progress, fast=fast))


def model_lookups(wanted: dict, *, device: str = "auto", progress=None, fast: bool = False) -> dict:
    """kind -> a callable that finds that model's file (see :func:`gather`)."""
    resolvers = {"quantizer": find.resolve_quantizer, "hubert": find.resolve_hubert, "codec": find.resolve_codec}
    lookups = {}
    for kind, source in wanted.items():
        if source is False or not (source is None or isinstance(source, (str, os.PathLike))):
            lookups[kind] = lambda source=source: source  # not wanted, or already a loaded model
        else:
            # Files deleted (or a cache moved) while the program runs: what is loaded keeps working.
            lookups[kind] = or_remembered(kind, source, device, fast,
                                                 lambda k=kind, s=source: resolvers[k](s, progress=progress))
    return lookups


def wanted_models(quantizer, hubert, codec, *, with_codec: bool) -> dict:
    return {"quantizer": quantizer, "hubert": hubert, "codec": codec if with_codec else False}


def load_found(wanted: dict, found: dict, *, device: str, fast: bool):
    device = resolve_device(device)
    loaders = {"quantizer": lambda p: load_quantizer(p, device=device, fast=fast),
               "hubert": lambda p: load_hubert(p, device=device, fast=fast),
               "codec": lambda p: load_codec(p, device=device)}
    found = dict(found)
    for kind, value in found.items():
        if isinstance(value, os.PathLike):
            found[kind] = loaders[kind](value)
            remember(kind, wanted[kind], device, fast, found[kind])
    quantizer, hubert, codec = found["quantizer"], found["hubert"], found["codec"]
    if quantizer.config.input_size != hubert.width:
        raise CheckpointError(
            f"the quantizer expects {quantizer.config.input_size}-wide features but HuBERT gives "
            f"{hubert.width}-wide ones; use a matching pair."
        )
    return quantizer, hubert, codec or None
