"""Clone voices for Bark: any recording -> a speaker prompt ``.npz``.

Clone only voices whose owners agreed to it.

    >>> from hubert_quant import clone_voice, save_speaker
    >>> prompt = clone_voice("voice.wav")
    >>> save_speaker(prompt, "voice.npz")

Importing this package is cheap: torch and the models load only when first needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "clone_voice": "clone",
    "clone_file": "clone",
    "clone_speaker": "clone",
    "SpeakerPrompt": "speaker",
    "load_speaker": "speaker",
    "save_speaker": "speaker",
    "make_prompt": "speaker",
    "load_audio": "audio",
    "load_quantizer": "models",
    "load_hubert": "models",
    "load_codec": "models",
    "mask_voice": "bark.mask",
    "say": "bark.speak",
    "save_wav": "bark.speak",
    "BarkOptions": "bark.adapter",
    "HubertQuantError": "errors",
    "AudioError": "errors",
    "CheckpointError": "errors",
    "SpeakerFileError": "errors",
    "ModelNotFoundError": "errors",
    "OutputExistsError": "errors",
}

__all__ = [
    "__version__",
    "clone_voice", "clone_file", "clone_speaker",
    "SpeakerPrompt", "load_speaker", "save_speaker", "make_prompt",
    "load_audio", "load_quantizer", "load_hubert", "load_codec",
    "mask_voice", "say", "save_wav", "BarkOptions",
    "HubertQuantError", "AudioError", "CheckpointError", "SpeakerFileError", "ModelNotFoundError",
    "OutputExistsError",
]

if TYPE_CHECKING:
    from .audio import load_audio
    from .bark.adapter import BarkOptions
    from .bark.mask import mask_voice
    from .bark.speak import save_wav, say
    from .clone import clone_file, clone_speaker, clone_voice
    from .errors import (
        AudioError,
        CheckpointError,
        HubertQuantError,
        ModelNotFoundError,
        OutputExistsError,
        SpeakerFileError,
    )
    from .models import load_codec, load_hubert, load_quantizer
    from .speaker import SpeakerPrompt, load_speaker, make_prompt, save_speaker


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
