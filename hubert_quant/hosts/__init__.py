"""The host adapters: one thin module per web UI that hubert-quant plugs into, over the
host-agnostic tab builders of :mod:`hubert_quant.ui`. Nothing outside this package knows a host.

- :mod:`.audio_webui`: audio-webui (entry files ``extension.py``, ``main.py``, ``requirements.py``,
  ``extension.json`` at the repository root);
- :mod:`.tts_webui`: TTS-WebUI (entry module ``tts_webui_extension.hubert_quant.main``).

What they share is in :mod:`.common`. A third host is a third module here, plus the entry files
that host looks for, each a line or two into it.
"""

from __future__ import annotations

from pathlib import Path


def discover() -> list[Path]:
    """Register the model folder of a host this copy of hubert_quant sits inside, if any (the
    command line run from an extension's folder finds the host's quantizers, as its tabs do).
    Returns the folders added."""
    from .. import models
    from . import audio_webui

    package = Path(__file__).resolve().parent.parent
    root = audio_webui.embedded_root(package)
    added = [audio_webui.models_folder(root)] if root is not None else []
    for folder in added:
        models.add_host_dir(folder)
    return added
