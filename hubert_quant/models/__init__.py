"""The model store: the one place that turns a model name or path into files and loaded models.

Every ``load_*`` function accepts a local path or a name (a catalogue name such as "Large
English", a language such as "German", a Hub id for HuBERT). Files are found, in order:
a path you gave; a host's copy (a folder a host adapter registered, or ``HUBERT_QUANT_HOST_MODELS``);
the Hugging Face cache (checked against its hash); and otherwise downloaded, with progress, unless
``HF_HUB_OFFLINE`` is set, in which case the error says what is missing, how big it is and
how to fetch it. Loaded models are kept for the life of the process.

- :mod:`.catalogue`: which models exist (shipped and user entries);
- :mod:`.hub`: resumable, hash-checked downloads into the caches other tools read;
- :mod:`.paths`: where models live on this machine;
- :mod:`.find`: a name -> its files, downloading what is missing;
- :mod:`.load`: files -> loaded models, once per process;
- :mod:`.manage`: what ``hubert-quant models ...`` and the Models tab do.

Importing this package needs only the standard library.
"""

from __future__ import annotations

from ..constants import DEFAULT_QUANTIZER
from ..device import resolve_device
from .find import ensure, host_names, locate, missing_summary, resolve_codec, resolve_hubert, resolve_quantizer
from .hub import download_refusal, set_download_policy, tqdm_progress
from .load import (
    clear_cache,
    gather,
    load_codec,
    load_hubert,
    load_models,
    load_quantizer,
    or_remembered,
    remember,
    remembered,
)
from .manage import (
    Installed,
    add_quantizer_file,
    download,
    install_local,
    install_speaker_similarity,
    is_downloaded,
    list_models,
    remove,
    used_by_bark,
    verify,
)
from .paths import add_host_dir, bark_dir, host_dirs, locations, torch_checkpoints_dir

__all__ = [
    "DEFAULT_QUANTIZER", "Installed", "add_host_dir", "add_quantizer_file", "bark_dir", "clear_cache", "download",
    "download_refusal", "ensure", "gather", "host_dirs", "host_names", "install_local", "install_speaker_similarity",
    "is_downloaded", "list_models", "load_codec", "load_hubert",
    "load_models", "load_quantizer", "locate", "locations", "missing_summary", "or_remembered", "remember",
    "remembered", "remove", "resolve_codec", "resolve_device", "resolve_hubert", "resolve_quantizer",
    "set_download_policy", "torch_checkpoints_dir", "tqdm_progress", "used_by_bark", "verify",
]
