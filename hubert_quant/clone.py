"""Cloning: a recording -> a Bark speaker prompt.

    samples --resample 16 kHz--> HuBERT layer 9 --> quantizer --> semantic tokens (S,)
            --resample 24 kHz--> EnCodec 6 kbps ----------------> codes (8, C)

The models come from :mod:`hubert_quant.models`, so repeated calls reuse them. The recording
is checked first (bad input is refused before any model is looked for); then every model is
found, and all missing ones are named in one message, before any of them loads or runs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np

from .audio import check_speech, load_audio, resample
from .constants import CODEC_SAMPLE_RATE, DEFAULT_QUANTIZER, HUBERT_REPO, HUBERT_SAMPLE_RATE
from .errors import AudioError, explain_out_of_memory
from .files import file_digest
from .models.load import find_models, load_found, wanted_models
from .speaker import SpeakerPrompt, make_prompt, save_speaker

AudioInput = str | os.PathLike | np.ndarray
Stages = Callable[[str, int, int], None]
"""Called as ``stages(what, done, total)`` as work goes on (e.g. "HuBERT features", 3, 20)."""


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
    segment: Literal["auto"] | None = None,
    progress=None,
    fast: bool = False,
    stages: Stages | None = None,
) -> SpeakerPrompt:
    """Clone the voice in ``audio`` into a Bark speaker prompt.

    audio: a file path, or mono float samples of shape (n_samples,) with ``sample_rate``.
    quantizer / hubert / codec: a name or path (see :mod:`hubert_quant.models`; ``None``
        means the default model), or an already loaded model.
    start / end: seconds; clone only that part of the recording.
    segment: ``"auto"`` clones only the best 5-15 s of speech in it (inside start/end), found
        by :func:`hubert_quant.segment.best_segment`; the metadata says which part and why.
    progress: called as ``progress(file, bytes_done, bytes_total)`` while missing models
        download (default: tqdm bars on stderr).
    fast: bfloat16 HuBERT and quantizer: faster on hardware with bfloat16 support, but
        tokens may differ from the exact pipeline (see docs/performance.md).
    stages: called as ``stages(what, done, total)`` while decoding, for each HuBERT and EnCodec
        window, and around the quantizer (what a progress bar shows on long recordings).
    """
    if segment not in (None, "auto"):
        raise ValueError(f"segment must be 'auto' or None, not {segment!r}")
    stages = stages or _quiet
    stages("decoding", 0, 1)
    samples, rate, source, digest = read_speech(audio, sample_rate=sample_rate, start=start, end=end)
    stages("decoding", 1, 1)
    wanted = wanted_models(quantizer, hubert, codec, with_codec=True)
    found = find_models(wanted, device=device, progress=progress, fast=fast)
    metadata = {"source": source, "source_sha256": digest, "start": start, "end": end}
    if segment == "auto":
        picked = find_segment(samples, rate, source, stages=stages)
        samples = cut(samples, rate, picked)
        offset = start or 0.0
        metadata.update(start=round(offset + picked.start, 3), end=round(offset + picked.end, 3),
                        segment={"picked": "auto", **picked.as_metadata()})
    return _clone(samples, rate, metadata, wanted, found, device=device, fast=fast, stages=stages)


def clone_speaker(
    clips: Sequence[str | os.PathLike],
    *,
    ranges: Sequence[tuple[float | None, float | None] | None] | None = None,
    quantizer=None,
    hubert=None,
    codec=None,
    device: str = "auto",
    progress=None,
    fast: bool = False,
    stages: Stages | None = None,
) -> SpeakerPrompt:
    """One speaker prompt from several recordings of the same person.

    Each clip gives its best part (:func:`hubert_quant.segment.best_segment`, sized so that all
    fit one prompt), or the ``(start, end)`` given for it in ``ranges`` (None: pick it). The parts
    are joined with short pauses, weakest first and best last (Bark continues from the end), at
    most 15 s in all: with many clips the weakest are left out. The metadata names every part's
    source, range and place in the prompt, and any clip left out.
    """
    from . import segment as seg

    if not clips:
        raise ValueError("give at least one recording")
    ranges = list(ranges) if ranges is not None else [None] * len(clips)
    if len(ranges) != len(clips):
        raise ValueError(f"{len(clips)} clips but {len(ranges)} ranges")
    stages = stages or _quiet
    read = []
    for k, (clip, chosen) in enumerate(zip(clips, ranges, strict=True)):
        stages("decoding", k, len(clips))
        first, last = chosen or (None, None)
        read.append(read_speech(clip, start=first, end=last))
    stages("decoding", len(clips), len(clips))
    wanted = wanted_models(quantizer, hubert, codec, with_codec=True)
    found = find_models(wanted, device=device, progress=progress, fast=fast)
    shortest, longest = seg.part_lengths(len(clips))
    parts = []
    for k, ((samples, rate, source, _), chosen) in enumerate(zip(read, ranges, strict=True)):
        if chosen is None:
            part = find_segment(samples, rate, source, stages=stages, shortest=shortest, longest=longest,
                                what=f"finding speech ({k + 1}/{len(clips)})")
        else:  # the user's own choice: kept as it is, and scored only to place it
            try:
                part = seg.assess(samples, rate)
            except AudioError as e:
                raise AudioError(f"{source}: {e}") from e
        parts.append((resample(samples, rate, CODEC_SAMPLE_RATE).numpy(), part))
    joined, order, left_out = seg.join_parts(parts, CODEC_SAMPLE_RATE)
    described, at = [], 0.0
    for k in order:
        (_, _, source, digest), chosen, part = read[k], ranges[k], parts[k][1]
        offset = (chosen or (None, None))[0] or 0.0
        described.append({"source": source, "source_sha256": digest, "start": round(offset + part.start, 3),
                          "end": round(offset + part.end, 3), "at": round(at, 3), "score": round(part.score, 1),
                          "picked": "auto" if chosen is None else "given", "problems": list(part.problems)})
        at += part.duration + seg.JOIN_PAUSE
    metadata = {"source": f"{len(order)} clips", "parts": described,
                "left_out": [{"source": read[k][2], "why": "the prompt holds 15 s at most; its part was the "
                              f"weakest (score {parts[k][1].score:.0f})"} for k in left_out]}
    return _clone(joined, CODEC_SAMPLE_RATE, metadata, wanted, found, device=device, fast=fast, stages=stages)


def find_segment(samples: np.ndarray, rate: int, source: str, *, stages: Stages | None = None,
                 what: str = "finding speech", **lengths):
    """The best part of ``samples`` (see :func:`hubert_quant.segment.best_segment`), the VAD's pass
    reported to ``stages`` as ``what``; a recording without speech is named by ``source``."""
    from .segment import best_segment

    stages = stages or _quiet
    try:
        return best_segment(samples, rate, progress=lambda done, total: stages(what, done, total), **lengths)
    except AudioError as e:
        raise AudioError(f"{source}: {e}") from e


def cut(samples: np.ndarray, rate: int, part) -> np.ndarray:
    """``samples`` (n,) from ``part.start`` to ``part.end`` seconds."""
    return samples[int(round(part.start * rate)) : int(round(part.end * rate))]


def _clone(samples: np.ndarray, rate: int, metadata: dict, wanted: dict, found: dict, *, device: str, fast: bool,
           stages: Stages) -> SpeakerPrompt:
    """Load the found models and turn mono ``samples`` (n,) into a prompt carrying ``metadata``."""
    from . import __version__

    quantizer_name, hubert_name = _describe(wanted["quantizer"], "quantizer"), _describe(wanted["hubert"], "hubert")
    quantizer, hubert, codec = load_found(wanted, found, device=device, fast=fast)
    with explain_out_of_memory(f"cloning {metadata['source']} ({len(samples) / rate:.0f} s)", str(hubert.device)):
        semantic = semantic_tokens(samples, rate, quantizer, hubert, stages=stages)
        fine = codec.encode(resample(samples, rate, CODEC_SAMPLE_RATE),
                            on_window=lambda done, total: stages("EnCodec", done, total))
    metadata = {
        "tool": f"hubert-quant {__version__}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **metadata,
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


def semantic_tokens(samples: np.ndarray, rate: int, quantizer, hubert, *, stages: Stages | None = None) -> np.ndarray:
    """Bark semantic tokens of mono ``samples`` (n,) at ``rate``: int64 array (S,), about 50 per second."""
    stages = stages or _quiet
    features = hubert.features(resample(samples, rate, HUBERT_SAMPLE_RATE),
                               on_window=lambda done, total: stages("HuBERT features", done, total))
    stages("quantizer", 0, 1)
    tokens = quantizer.tokens(features).cpu().numpy()
    stages("quantizer", 1, 1)
    return tokens


def _quiet(what: str, done: int, total: int) -> None:
    pass


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
    return samples, rate, path.name, file_digest(path)


def _describe(model, kind: str) -> str:
    if model is None:
        return DEFAULT_QUANTIZER if kind == "quantizer" else HUBERT_REPO  # the Hub id, as metadata always said
    if isinstance(model, (str, os.PathLike)):
        return Path(model).name if Path(model).exists() else str(model)
    return type(model).__name__
