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
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import numpy as np

from .audio import AudioLimits, audio_info, check_speech, load_audio, resample
from .constants import CODEC_SAMPLE_RATE, DEFAULT_QUANTIZER, HUBERT_REPO, HUBERT_SAMPLE_RATE
from .device import bfloat16_is_slow, resolve_device
from .errors import AudioError, explain_out_of_memory
from .files import file_digest
from .models.load import find_models, load_found, wanted_models
from .speaker import SpeakerPrompt, make_prompt, save_speaker

AudioInput = str | os.PathLike | np.ndarray
MAX_WHOLE_SECONDS = 600.0  # a part longer than this is not cloned whole: Bark reads only a prompt's last ~7 s
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
    limits: AudioLimits | None = None,
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
    fast: bfloat16 HuBERT and quantizer: faster on CPUs with bfloat16 instructions (AVX512-BF16 or
        AMX), but tokens may differ from the exact pipeline (see docs/performance.md). Where it was
        measured slower (a GPU, an x86 CPU without them) exact mode is used, with a note on stderr.
    stages: called as ``stages(what, done, total)`` while decoding, for each HuBERT and EnCodec
        window, and around the quantizer (what a progress bar shows on long recordings).
    limits: what a recording file may be (:class:`~hubert_quant.audio.AudioLimits`; default: its
        defaults); a file is decoded in blocks, so memory follows the part cloned, not the file.

    A part longer than ``MAX_WHOLE_SECONDS`` (10 minutes) is refused without ``segment="auto"``:
    Bark reads only the last seconds of a prompt, and HuBERT over hours would take the machine.
    """
    if segment not in (None, "auto"):
        raise ValueError(f"segment must be 'auto' or None, not {segment!r}")
    stages = stages or _quiet
    if not isinstance(audio, np.ndarray):  # the file's kind, header and length, before any work starts
        _refuse_long_part(Path(audio), start, end, limits, whole=segment is None)
    stages("decoding", 0, 1)
    if segment == "auto" and not isinstance(audio, np.ndarray):
        return _clone_best_part(Path(audio), start, end, limits, quantizer, hubert, codec, device, progress, fast,
                                stages)
    if not isinstance(audio, np.ndarray):  # read at the models' rates, in blocks: no full-rate copy
        path = Path(audio)
        wav16, _ = load_audio(path, start=start, end=end, rate=HUBERT_SAMPLE_RATE, limits=limits)
        check_speech(wav16, HUBERT_SAMPLE_RATE, source=path.name)
        wav24, _ = load_audio(path, start=start, end=end, rate=CODEC_SAMPLE_RATE, limits=limits)
        stages("decoding", 1, 1)
        wanted = wanted_models(quantizer, hubert, codec, with_codec=True)
        found = find_models(wanted, device=device, progress=progress, fast=fast)
        metadata = {"source": path.name, "source_sha256": file_digest(path), "start": start, "end": end}
        return _clone(wav16, wav24, metadata, wanted, found, device=device, fast=fast, stages=stages)
    samples, rate, source, digest = read_speech(audio, sample_rate=sample_rate, start=start, end=end)
    if segment is None and len(samples) / rate > MAX_WHOLE_SECONDS:
        raise AudioError(_too_long_whole(source, len(samples) / rate))
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
    return _clone(*_rates(samples, rate), metadata, wanted, found, device=device, fast=fast, stages=stages)


def _clone_best_part(path: Path, start, end, limits, quantizer, hubert, codec, device, progress, fast,
                     stages: Stages) -> SpeakerPrompt:
    """clone_voice(path, segment="auto"): the recording is analysed at 16 kHz (decoded in blocks),
    then only the part picked is read again, at the models' rates."""
    from .segment import analyse, read_16k

    wav16, clipping = read_16k(path, start=start, end=end, limits=limits)
    check_speech(wav16, HUBERT_SAMPLE_RATE, source=path.name)
    stages("decoding", 1, 1)
    wanted = wanted_models(quantizer, hubert, codec, with_codec=True)
    found = find_models(wanted, device=device, progress=progress, fast=fast)
    try:
        analysis = analyse(wav16, HUBERT_SAMPLE_RATE, clipping=clipping,
                           progress=lambda done, total: stages("finding speech", done, total))
    finally:
        del wav16  # the whole recording is not needed any more: only the part picked is read again
    picked = find_segment(None, HUBERT_SAMPLE_RATE, path.name, analysis=analysis)
    offset = start or 0.0
    first, last = offset + picked.start, offset + picked.end
    metadata = {"source": path.name, "source_sha256": file_digest(path), "start": round(first, 3),
                "end": round(last, 3), "segment": {"picked": "auto", **picked.as_metadata()}}
    part16, _ = load_audio(path, start=first, end=last, rate=HUBERT_SAMPLE_RATE, limits=limits)
    part24, _ = load_audio(path, start=first, end=last, rate=CODEC_SAMPLE_RATE, limits=limits)
    return _clone(part16, part24, metadata, wanted, found, device=device, fast=fast, stages=stages)


def _part_seconds(duration: float, start: float | None, end: float | None) -> float:
    first, last = max(0.0, start or 0.0), duration if end is None else min(float(end), duration)
    return max(0.0, last - first)


def _refuse_long_part(path: Path, start, end, limits, *, whole: bool = True) -> None:
    """Refuse, from the header and before decoding, a file over ``limits`` or (``whole``) a part
    too long to clone whole."""
    seconds = _part_seconds(audio_info(path, limits).duration, start, end)
    if whole and seconds > MAX_WHOLE_SECONDS:
        raise AudioError(_too_long_whole(path.name, seconds))


def _too_long_whole(source: str, seconds: float) -> str:
    return (f"{source}: {seconds / 60:.0f} minutes is too long to clone whole (at most {MAX_WHOLE_SECONDS / 60:.0f}; "
            "Bark uses only the last seconds of a prompt): clone its best part (--auto, the app's Pick the best "
            "part, segment='auto') or choose 5 to 15 s of it (--start/--end, Start/End).")


def _rates(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Mono ``samples`` (n,) at ``rate`` as (16 kHz (a,), 24 kHz (b,)): what HuBERT and EnCodec take."""
    return resample(samples, rate, HUBERT_SAMPLE_RATE).numpy(), resample(samples, rate, CODEC_SAMPLE_RATE).numpy()


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
    limits: AudioLimits | None = None,
) -> SpeakerPrompt:
    """One speaker prompt from several recordings of the same person.

    Each clip gives its best part (:func:`hubert_quant.segment.best_segment`, sized so that all
    fit one prompt), or the ``(start, end)`` given for it in ``ranges`` (None: pick it). The parts
    are joined with short pauses, weakest first and best last (Bark continues from the end), at
    most 15 s in all: with many clips the weakest are left out. The metadata names every part's
    source, range and place in the prompt, and any clip left out. Each clip is read in blocks
    (see :func:`clone_voice`); a clip whose part is picked is measured at 16 kHz as it is read,
    and only its part is kept.
    """
    from dataclasses import replace

    from . import segment as seg

    if not clips:
        raise ValueError("give at least one recording")
    ranges = list(ranges) if ranges is not None else [None] * len(clips)
    if len(ranges) != len(clips):
        raise ValueError(f"{len(clips)} clips but {len(ranges)} ranges")
    stages = stages or _quiet
    read = []  # per clip: (samples or None, rate, source, digest, the analysis of a clip to pick from)
    for k, (clip, chosen) in enumerate(zip(clips, ranges, strict=True)):
        stages("decoding", k, len(clips))
        path = Path(clip)
        if chosen is None:  # measured now, at 16 kHz; the recording itself is not kept
            wav16, clipping = seg.read_16k(path, limits=limits)
            check_speech(wav16, HUBERT_SAMPLE_RATE, source=path.name)
            what = f"finding speech ({k + 1}/{len(clips)})"
            analysis = seg.analyse(wav16, HUBERT_SAMPLE_RATE, clipping=clipping,
                                   progress=lambda done, total, what=what: stages(what, done, total))
            del wav16
            read.append((None, HUBERT_SAMPLE_RATE, path.name, file_digest(path), analysis))
        else:
            _refuse_long_part(path, *chosen, limits)
            # At EnCodec's rate (what it is joined at), never the file's own: up to 384 kHz for 10 minutes.
            read.append((*read_speech(path, start=chosen[0], end=chosen[1], limits=limits, rate=CODEC_SAMPLE_RATE),
                         None))
    stages("decoding", len(clips), len(clips))
    wanted = wanted_models(quantizer, hubert, codec, with_codec=True)
    found = find_models(wanted, device=device, progress=progress, fast=fast)
    shortest, longest = seg.part_lengths(len(clips))
    parts, picked = [], []  # (24 kHz samples, the part of them to join); each part in its recording
    for (samples, rate, source, _, analysis), clip in zip(read, clips, strict=True):
        if analysis is not None:
            part = find_segment(None, rate, source, analysis=analysis, shortest=shortest, longest=longest)
            piece, _ = load_audio(clip, start=part.start, end=part.end, rate=CODEC_SAMPLE_RATE, limits=limits)
            parts.append((piece, replace(part, start=0.0, end=part.duration)))
        else:  # the user's own choice: kept as it is, and scored only to place it
            try:
                part = seg.assess(samples, rate)
            except AudioError as e:
                raise AudioError(f"{source}: {e}") from e
            parts.append((resample(samples, rate, CODEC_SAMPLE_RATE).numpy(), part))
        picked.append(part)
    joined, order, left_out = seg.join_parts(parts, CODEC_SAMPLE_RATE)
    described, at = [], 0.0
    for k in order:
        (_, _, source, digest, _), chosen, part = read[k], ranges[k], picked[k]
        offset = (chosen or (None, None))[0] or 0.0
        described.append({"source": source, "source_sha256": digest, "start": round(offset + part.start, 3),
                          "end": round(offset + part.end, 3), "at": round(at, 3), "score": round(part.score, 1),
                          "picked": "auto" if chosen is None else "given", "problems": list(part.problems)})
        at += part.duration + seg.JOIN_PAUSE
    metadata = {"source": f"{len(order)} clips", "parts": described,
                "left_out": [{"source": read[k][2], "why": "the prompt holds 15 s at most; its part was the "
                              f"weakest (score {picked[k].score:.0f})"} for k in left_out]}
    return _clone(*_rates(joined, CODEC_SAMPLE_RATE), metadata, wanted, found, device=device, fast=fast,
                  stages=stages)


def find_segment(samples: np.ndarray | None, rate: int, source: str, *, stages: Stages | None = None,
                 what: str = "finding speech", analysis=None, **lengths):
    """The best part of ``samples`` (see :func:`hubert_quant.segment.best_segment`; or of the
    recording ``analysis`` measured), the VAD's pass reported to ``stages`` as ``what``; a
    recording without speech is named by ``source``."""
    from .segment import best_segment

    stages = stages or _quiet
    try:
        return best_segment(samples, rate, progress=lambda done, total: stages(what, done, total),
                            analysis=analysis, **lengths)
    except AudioError as e:
        raise AudioError(f"{source}: {e}") from e


def cut(samples: np.ndarray, rate: int, part) -> np.ndarray:
    """``samples`` (n,) from ``part.start`` to ``part.end`` seconds."""
    return samples[int(round(part.start * rate)) : int(round(part.end * rate))]


def _clone(wav16: np.ndarray, wav24: np.ndarray, metadata: dict, wanted: dict, found: dict, *, device: str,
           fast: bool, stages: Stages) -> SpeakerPrompt:
    """Load the found models and turn one recording, mono at 16 kHz (a,) and 24 kHz (b,), into a
    prompt carrying ``metadata``."""
    import torch

    from . import __version__

    quantizer_name, hubert_name = _describe(wanted["quantizer"], "quantizer"), _describe(wanted["hubert"], "hubert")
    fast = fast and _fast_pays(device)
    quantizer, hubert, codec = load_found(wanted, found, device=device, fast=fast)
    seconds = len(wav16) / HUBERT_SAMPLE_RATE
    with explain_out_of_memory(f"cloning {metadata['source']} ({seconds:.0f} s)", str(hubert.device)):
        semantic = semantic_tokens(wav16, HUBERT_SAMPLE_RATE, quantizer, hubert, stages=stages)
        fine = codec.encode(torch.from_numpy(np.ascontiguousarray(wav24, dtype=np.float32)),
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


_noted_slow_fast: set[str] = set()


def _fast_pays(device: str) -> bool:
    """False (and one note per device and process) where bfloat16 was measured slower than exact mode."""
    device = resolve_device(device)
    why = bfloat16_is_slow(device)
    if why and device not in _noted_slow_fast:
        _noted_slow_fast.add(device)
        print(f"note: fast mode is not used on {device}: {why}. Cloning in exact mode.", file=sys.stderr)
    return not why


def clone_file(
    audio: str | os.PathLike, out: str | os.PathLike, *, overwrite: bool = False, **options
) -> Path:
    """Clone ``audio`` and save the prompt to ``out``; returns the path written."""
    return save_speaker(clone_voice(audio, **options), out, overwrite=overwrite)


def read_speech(
    audio: AudioInput, *, sample_rate: int | None = None, start: float | None = None, end: float | None = None,
    limits: AudioLimits | None = None, rate: int | None = None, max_seconds: float | None = None,
) -> tuple[np.ndarray, int, str, str]:
    """Read and check a recording: (samples (n,), rate, a name for messages, sha256 of the source).

    A file is checked against ``limits`` from its header (and its part against ``max_seconds``), then
    decoded in blocks at ``rate`` (None: its own rate, which may be 384 kHz: ask for the rate you use).
    Raises :class:`~hubert_quant.errors.AudioError` for unusable input, before any model loads.
    """
    if max_seconds is not None and not isinstance(audio, np.ndarray):
        seconds = _part_seconds(audio_info(Path(audio), limits).duration, start, end)
        if seconds > max_seconds:
            raise AudioError(f"{Path(audio).name}: {seconds / 60:.0f} minutes is more than this takes at once (at "
                             f"most {max_seconds / 60:.0f}); choose a part of it (--start/--end, Start/End).")
    samples, rate, source, digest = _read_input(audio, sample_rate, start, end, limits, rate)
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


def _read_input(audio: AudioInput, sample_rate, start, end, limits=None, rate=None) -> tuple[np.ndarray, int, str, str]:
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
    samples, rate = load_audio(path, start=start, end=end, limits=limits, rate=rate)
    # Only the name: speaker files get shared, and full paths would leak the user's folders.
    return samples, rate, path.name, file_digest(path)


def _describe(model, kind: str) -> str:
    if model is None:
        return DEFAULT_QUANTIZER if kind == "quantizer" else HUBERT_REPO  # the Hub id, as metadata always said
    if isinstance(model, (str, os.PathLike)):
        return Path(model).name if Path(model).exists() else str(model)
    return type(model).__name__
