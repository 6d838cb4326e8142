"""Voice masking: re-speak a recording through Bark.

    recording --HuBERT + quantizer--> semantic (S,) --split at pauses--> pieces
              --Bark coarse + fine + EnCodec, each piece--> audio, joined with short crossfades

Without a speaker Bark picks a random voice (the first piece's voice is then carried into
the following ones); with a speaker prompt, the words come out in that voice. Pieces are at
most 14 s, which Bark's context handles well, so recordings of any length can be masked.

Every check on the input (audio, speaker, text, options) runs before a model is loaded.
"""

from __future__ import annotations

import numpy as np

from ..constants import BARK_SAMPLE_RATE, HUBERT_HOP, HUBERT_SAMPLE_RATE, SEMANTIC_RATE_HZ
from ..errors import explain_out_of_memory
from ..speaker import make_prompt
from .adapter import BarkOptions
from .speak import Stages, resolve_speaker

MAX_PIECE_SECONDS = 14.0
MIN_PIECE_SECONDS = 6.0  # cuts are searched for between these lengths
CROSSFADE_SECONDS = 0.01


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
    limits=None,
) -> np.ndarray:
    """Re-speak ``audio`` through Bark: the same words and timing, in a random voice or ``speaker``'s.

    audio: a path, or mono samples (n,) with ``sample_rate``.
    limits: what a recording file may be (:class:`hubert_quant.audio.AudioLimits`; None: the defaults).
    speaker: None (random voice), an ``.npz`` path, a Bark preset name, or a prompt.
    returns: float32 samples (m,) at 24 kHz, about as long as the input.
    """
    from .. import models
    from ..clone import MAX_WHOLE_SECONDS, read_speech, semantic_tokens
    from ..constants import HUBERT_SAMPLE_RATE
    from ..models.load import load_found, model_lookups, wanted_models
    from .adapter import load_stages, semantic_to_audio, stage_lookups

    options = options or BarkOptions()
    stages = stages or (lambda *_: None)
    # At HuBERT's rate, never the file's own (up to 384 kHz), and at most what Bark re-speaks in one go.
    samples, rate, _, _ = read_speech(audio, sample_rate=sample_rate, start=start, end=end, limits=limits,
                                      rate=HUBERT_SAMPLE_RATE, max_seconds=MAX_WHOLE_SECONDS)
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


def split_at_pauses(energy: np.ndarray, *, max_seconds: float = MAX_PIECE_SECONDS,
                    min_seconds: float = MIN_PIECE_SECONDS) -> list[tuple[int, int]]:
    """Split S tokens into pieces of at most ``max_seconds``, cutting at the quietest 100 ms
    between ``min_seconds`` and ``max_seconds`` into each piece.

    energy: (S,) loudness of each token's 20 ms of input.
    returns: [(first, last), ...] token ranges covering 0..S.
    """
    rate = 1 / (HUBERT_HOP / HUBERT_SAMPLE_RATE)
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
    overlap = int(crossfade_seconds * BARK_SAMPLE_RATE)
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
    hop = rate * HUBERT_HOP / HUBERT_SAMPLE_RATE
    edges = np.minimum((np.arange(n_tokens + 1) * hop).astype(int), samples.size)
    squares = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    counts = np.maximum(np.diff(edges), 1)
    return np.sqrt((squares[edges[1:]] - squares[edges[:-1]]) / counts)


def expected_seconds(n_tokens: int) -> float:
    """How long Bark's audio for ``n_tokens`` semantic tokens is."""
    return n_tokens / SEMANTIC_RATE_HZ
