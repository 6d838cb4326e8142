"""Cloning: a recording -> a Bark speaker prompt.

    samples --resample 16 kHz--> HuBERT layer 9 --> quantizer --> semantic tokens (S,)
            --resample 24 kHz--> EnCodec 6 kbps ----------------> codes (8, C)

The models come from :mod:`hubert_quant.models`, so repeated calls reuse them.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .audio import CODEC_SAMPLE_RATE, HUBERT_SAMPLE_RATE, check_speech, load_audio, resample
from .errors import AudioError, CheckpointError, explain_out_of_memory
from .speaker import SpeakerPrompt, make_prompt, save_speaker

AudioInput = str | os.PathLike | np.ndarray


def clone_voice(
    audio: AudioInput,
    *,
    sample_rate: int | None = None,
    quantizer=None,
    hubert=None,
    codec=None,
    device: str = "auto",
    start: float | None = None,
    end: float | None = None,
    progress=None,
    fast: bool = False,
) -> SpeakerPrompt:
    """Clone the voice in ``audio`` into a Bark speaker prompt.

    audio: a file path, or mono float samples of shape (n_samples,) with ``sample_rate``.
    quantizer / hubert / codec: a name or path (see :mod:`hubert_quant.models`; ``None``
        means the default model), or an already loaded model.
    start / end: seconds; clone only that part of the recording.
    progress: called as ``progress(file, bytes_done, bytes_total)`` while missing models
        download (default: tqdm bars on stderr).
    fast: bfloat16 HuBERT and quantizer LSTM: faster on hardware with bfloat16 support, but
        tokens may differ from the exact pipeline (see docs/performance.md).
    """
    from . import __version__

    samples, rate, source, digest = read_speech(audio, sample_rate=sample_rate, start=start, end=end)
    quantizer_name, hubert_name = _describe(quantizer, "quantizer"), _describe(hubert, "hubert")
    quantizer, hubert, codec = load_models(quantizer, hubert, codec, device=device, progress=progress, fast=fast)
    with explain_out_of_memory(f"cloning {source} ({len(samples) / rate:.0f} s)", str(hubert.device)):
        semantic = semantic_tokens(samples, rate, quantizer, hubert)
        fine = codec.encode(resample(samples, rate, CODEC_SAMPLE_RATE))
    metadata = {
        "tool": f"hubert-quant {__version__}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "source_sha256": digest,
        "start": start,
        "end": end,
        "quantizer": quantizer_name,
        "quantizer_version": quantizer.config.version,
        "hubert": hubert_name,
        "fast": fast,
    }
    return make_prompt(semantic, fine, metadata)


def clone_file(
    audio: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False, **options
) -> Path:
    """Clone ``audio`` and save the prompt to ``out``; returns the path written."""
    return save_speaker(clone_voice(audio, **options), out, overwrite=overwrite)


def read_speech(
    audio: AudioInput, *, sample_rate: int | None = None, start: float | None = None, end: float | None = None
) -> tuple[np.ndarray, int, str, str]:
    """Read and check a recording: (samples (n,), rate, a name for messages, sha256 of the source).

    Raises :class:`~hubert_quant.errors.AudioError` for unusable input, before any model loads.
    """
    samples, rate, source, digest = _read_input(audio, sample_rate, start, end)
    check_speech(samples, rate, source=source)
    return samples, rate, source, digest


def load_models(
    quantizer=None, hubert=None, codec=None, *, device: str = "auto", progress=None, with_codec=True, fast=False
):
    """(quantizer, hubert, codec or None): names and paths become loaded models; loaded ones pass through.

    Files are found (or downloaded) first, so a missing model fails fast, before torch is imported.
    """
    from . import models
    from .errors import DownloadError, ModelNotFoundError

    wanted = {"quantizer": quantizer, "hubert": hubert, "codec": codec if with_codec else False}
    resolvers = {"quantizer": models.resolve_quantizer, "hubert": models.resolve_hubert, "codec": models.resolve_codec}
    found, missing = {}, []
    for kind, source in wanted.items():
        if source is False or not (source is None or isinstance(source, (str, os.PathLike))):
            found[kind] = source  # not wanted, or already a loaded model
            continue
        try:
            found[kind] = resolvers[kind](source, progress=progress)
        except (ModelNotFoundError, DownloadError) as e:
            # Files deleted (or a cache moved) while the program runs: what is loaded keeps working.
            found[kind] = models.remembered(kind, source, device, fast)
            if found[kind] is None:
                missing.append(e)
    if len(missing) == 1:
        raise missing[0]
    if missing:  # every missing model in one message, not one per run
        kind = DownloadError if any(isinstance(e, DownloadError) for e in missing) else ModelNotFoundError
        raise kind(f"{len(missing)} models are missing. " + " ".join(f"({i}) {e}" for i, e in enumerate(missing, 1)))
    device = models.resolve_device(device)
    loaders = {"quantizer": lambda p: models.load_quantizer(p, device=device, fast=fast),
               "hubert": lambda p: models.load_hubert(p, device=device, fast=fast),
               "codec": lambda p: models.load_codec(p, device=device)}
    for kind, value in found.items():
        if isinstance(value, os.PathLike):
            found[kind] = loaders[kind](value)
            models.remember(kind, wanted[kind], device, fast, found[kind])
    quantizer, hubert, codec = found["quantizer"], found["hubert"], found["codec"]
    if quantizer.config.input_size != hubert.width:
        raise CheckpointError(
            f"the quantizer expects {quantizer.config.input_size}-wide features but HuBERT gives "
            f"{hubert.width}-wide ones; use a matching pair."
        )
    return quantizer, hubert, codec or None


def semantic_tokens(samples: np.ndarray, rate: int, quantizer, hubert) -> np.ndarray:
    """Bark semantic tokens of mono ``samples`` (n,) at ``rate``: int64 array (S,), about 50 per second."""
    features = hubert.features(resample(samples, rate, HUBERT_SAMPLE_RATE))
    return quantizer.tokens(features).cpu().numpy()


def _read_input(audio: AudioInput, sample_rate, start, end) -> tuple[np.ndarray, int, str, str]:
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise ValueError("sample_rate is required when audio is an array")
        samples = np.asarray(audio, dtype=np.float32)
        if samples.ndim == 2:  # (channels, n) or (n, channels) -> mono: the shorter axis is the channels
            samples = samples.mean(axis=0 if samples.shape[0] <= samples.shape[1] else 1)
        if start is not None or end is not None:
            seconds = len(samples) / sample_rate
            for name, value in (("start", start), ("end", end)):
                if value is not None and not (np.isfinite(value) and value >= 0):
                    raise AudioError(f"input audio: {name} must be a finite number of seconds >= 0, got {value}")
            first = int(round(min(start or 0, seconds) * sample_rate))
            samples = samples[first : None if end is None else int(round(min(end, seconds) * sample_rate))]
        return samples, int(sample_rate), "input audio", hashlib.sha256(samples.tobytes()).hexdigest()
    path = Path(audio)
    samples, rate = load_audio(path, start=start, end=end)
    # Only the name: speaker files get shared, and full paths would leak the user's folders.
    return samples, rate, path.name, _sha256(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(model, kind: str) -> str:
    if model is None:
        from .hubert import DEFAULT_HUBERT
        from .models import DEFAULT_QUANTIZER

        return DEFAULT_QUANTIZER if kind == "quantizer" else DEFAULT_HUBERT
    if isinstance(model, (str, os.PathLike)):
        return Path(model).name if Path(model).exists() else str(model)
    return type(model).__name__
