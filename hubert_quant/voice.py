"""How alike two voices sound: a trained speaker encoder, and the similarity of its embeddings.

The encoder is GE2E (Wan et al., 2018) as trained for Resemblyzer: 40 mel bands -> a 3-layer LSTM
-> 256 numbers, ReLU, unit length. Its weights come inside the ``resemblyzer`` wheel from PyPI
(Apache-2.0), installed without its dependencies (librosa, webrtcvad: nothing here needs them, and
they would move the hosts' pins); nothing is downloaded when it runs. Its own code is not imported: the
mel spectrogram and the silence trimming are ours, on torchaudio and numpy.

    audio --16 kHz, level up to -30 dBFS, long silences cut--> mel (F, 40)
          --1.6 s windows, 1.3 per second--> encoder --> (W, 256) --mean, unit length--> embedding (256,)
    similarity(a, b) = cosine of the two embeddings: 0 (unlike) to 1 (the same); the embeddings are
    never negative, so neither is the cosine.

Measured on espeak-ng voices and sox-changed copies (scripts/voice_eval.py, docs/voice.md): what it
tells apart and what it does not.
"""

from __future__ import annotations

import functools
import os
from importlib import metadata
from pathlib import Path

import numpy as np

from .constants import HUBERT_SAMPLE_RATE
from .errors import ModelNotFoundError
from .resampling import resample

RATE = HUBERT_SAMPLE_RATE  # 16 kHz, as the encoder was trained
N_MELS, N_FFT, HOP = 40, 400, 160  # 25 ms windows every 10 ms
WINDOW_FRAMES = 160  # 1.6 s of mel frames per encoder window
WINDOWS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75  # a last window less full than this is dropped (when there are others)
MAX_WINDOWS = 256  # windows of one clip at most, evenly spread (about 2.5 minutes' worth): bounded work
TARGET_DBFS = -30.0
SAME_VOICE = 0.75  # clips of a few seconds in one voice score above this (docs/voice.md)
PACKAGE, VERSION = "resemblyzer", "0.1.4"
INSTALL = f"python -m pip install --no-deps {PACKAGE}=={VERSION}"
# The one file accepted as the encoder's weights: Resemblyzer 0.1.4's pretrained.pt. It is torch's
# pre-1.6 format, which the archive guard cannot read; its digest stands in for that check.
WEIGHTS_SHA256 = "39373b86598fa3da9fcddee6142382efe09777e8d37dc9c0561f41f0070f134e"
WHEEL_SHA256 = "8f12eb2f1a9982d32e8db7856de754709b59c93a77bcf0ff536584b619a9dd1f"  # Resemblyzer-0.1.4-py3-none-any


def weights_path() -> Path:
    """Where the installed ``resemblyzer`` package keeps the encoder's weights (its code is not imported)."""
    missing = (f"comparing voices needs the speaker-similarity model, which comes in the {PACKAGE} package: "
               f"install it with `{INSTALL}` (no other package is needed or changed), or run install.py again")
    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise ModelNotFoundError(missing) from None
    path = Path(str(dist.locate_file(f"{PACKAGE}/pretrained.pt")))
    if not path.is_file():
        raise ModelNotFoundError(f"{missing}; {path} is missing")
    return path


def available() -> bool:
    """Whether the speaker-similarity model is installed here."""
    try:
        weights_path()
    except ModelNotFoundError:
        return False
    return True


def usable() -> bool:
    """Whether the model is installed and loads (damaged or replaced weights: False, so that its uses fall
    back to judging without it, as when it is not installed; ``compare`` says why)."""
    from .errors import CheckpointError

    if not available():
        return False
    try:
        encoder()
    except CheckpointError:
        return False
    return True


def _encoder_class():
    import torch
    from torch import nn

    class VoiceEncoder(nn.Module):
        """mels (W, 160, 40) -> embeddings (W, 256), each of unit length."""

        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(N_MELS, 256, 3, batch_first=True)
            self.linear = nn.Linear(256, 256)

        def forward(self, mels):
            _, (hidden, _) = self.lstm(mels)
            raw = torch.relu(self.linear(hidden[-1]))
            return raw / torch.linalg.vector_norm(raw, dim=1, keepdim=True).clamp_min(1e-12)

    return VoiceEncoder


@functools.lru_cache(maxsize=1)
def encoder():
    """The encoder with its weights, on the CPU (small: 1.4 M weights), loaded once per process."""
    from .torch_compat import load_known_tensors

    path = weights_path()
    state = load_known_tensors(path, WEIGHTS_SHA256, what=f"the speaker-similarity model ({PACKAGE} {VERSION})",
                               fix=f"install it again: {INSTALL.replace('--no-deps', '--no-deps --force-reinstall')}")
    model = _encoder_class()()
    weights = state.get("model_state") if isinstance(state, dict) else None
    model.load_state_dict({k: v for k, v in (weights or {}).items() if not k.startswith("similarity_")})
    return model.eval()


@functools.lru_cache(maxsize=1)
def _mel_basis():
    import torchaudio

    # Slaney's mel scale and area normalisation: the filters the encoder was trained with (librosa's).
    return torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, 0.0, RATE / 2, N_MELS, RATE, norm="slaney",
                                                 mel_scale="slaney")


def mel(wave16k: np.ndarray, windows: list[slice] | None = None) -> np.ndarray:
    """Power mel spectrogram (F, 40) of 16 kHz audio (n,): hann windows of 400 samples every 160, centred.
    windows: only these ranges of frames, stacked (W, 160, 40): the spectrum of the rest is never made, so a
    long clip costs what its chosen windows cost."""
    import torch

    padded = np.pad(np.asarray(wave16k, dtype=np.float32), N_FFT // 2, mode="reflect")  # as center=True pads
    whole = windows is None
    if whole:
        windows = [slice(0, 1 + (padded.size - N_FFT) // HOP)]
    out = []
    for w in windows:
        x = torch.from_numpy(np.ascontiguousarray(padded[w.start * HOP:(w.stop - 1) * HOP + N_FFT]))
        spec = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), center=False,
                          return_complex=True).abs() ** 2  # (201, frames)
        out.append((spec.T @ _mel_basis()).numpy())
    return out[0] if whole else np.stack(out)


def prepare(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono audio (n,) at ``rate`` -> 16 kHz, raised to -30 dBFS if quieter, long silences cut (m,)."""
    wave = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != RATE:
        wave = np.asarray(resample(wave, rate, RATE), dtype=np.float32)
    rms = float(np.sqrt(np.mean(wave.astype(np.float64) ** 2))) if wave.size else 0.0
    if rms > 0:
        gain = 10 ** ((TARGET_DBFS - 20 * np.log10(rms)) / 20)
        wave = wave * np.float32(max(1.0, gain))
    return _cut_long_silences(wave)


def _cut_long_silences(wave: np.ndarray, window: int = 480, keep: int = 6) -> np.ndarray:
    """Drop the 30 ms windows more than ``keep`` windows away from any that is within 40 dB of the
    loudest (pauses say nothing of a voice, and long ones dilute it)."""
    n = wave.size // window
    if n < 2 * keep:
        return wave
    frames = wave[: n * window].reshape(n, window)  # a view: no copy of a long recording
    db = 10 * np.log10(np.maximum(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / window, 1e-20))
    voiced = db > db.max() - 40
    near = np.convolve(voiced.astype(np.int32), np.ones(2 * keep + 1, dtype=np.int32), mode="same") > 0
    return frames[near].reshape(-1) if near.any() else wave


def _windows(n_samples: int) -> list[slice]:
    """The mel-frame ranges of the 1.6 s windows over ``n_samples`` (at least one)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round(RATE / WINDOWS_PER_SECOND / HOP))
    starts = range(0, max(1, n_frames - WINDOW_FRAMES + step + 1), step)
    windows = [slice(s, s + WINDOW_FRAMES) for s in starts]
    coverage = (n_samples - windows[-1].start * HOP) / (WINDOW_FRAMES * HOP)
    return windows[:-1] if coverage < MIN_COVERAGE and len(windows) > 1 else windows


def embed(samples: np.ndarray, rate: int) -> np.ndarray:
    """The voice of mono audio (n,) at ``rate``, as a unit vector (256,) float32."""
    return embed_many([samples], rate)[0]


def embed_many(clips: list[np.ndarray], rate: int, *, batch: int = 256, max_windows: int | None = None) -> np.ndarray:
    """The voices of several clips (each (n,) at ``rate``) -> (len(clips), 256): their windows are run
    through the encoder together, ``batch`` at a time (one pass per clip would cost 3x on many short ones).
    max_windows: use at most this many windows of each clip, evenly spread (cost bounded per clip)."""
    import torch

    mels, owner = [], []
    for k, samples in enumerate(clips):
        wave = prepare(samples, rate)
        windows = _windows(wave.size)
        if len(windows) > (max_windows or MAX_WINDOWS):
            windows = [windows[round(i)] for i in np.linspace(0, len(windows) - 1, max_windows or MAX_WINDOWS)]
        wave = np.pad(wave, (0, max(0, windows[-1].stop * HOP - wave.size)))
        mels += list(mel(wave, windows))  # each (160, 40)
        owner += [k] * len(windows)
    parts = np.empty((len(mels), 256), np.float32)
    with torch.no_grad():
        for first in range(0, len(mels), batch):
            parts[first:first + batch] = encoder()(torch.from_numpy(np.stack(mels[first:first + batch]))).numpy()
    sums = np.zeros((len(clips), 256), np.float64)
    np.add.at(sums, np.array(owner), parts)
    return (sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def main_voice(embeddings: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The voice most of ``embeddings`` (E, 256) share, weighted by ``weights`` (E,) (say, seconds):
    the one most like the others, then the mean of those close to it (a second voice does not pull it)."""
    alike = embeddings @ embeddings.T
    centre = embeddings[int(np.argmax(alike @ weights))]
    near = embeddings @ centre >= SAME_VOICE
    mean = (weights[near, None] * embeddings[near]).sum(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two embeddings (256,): about 0.8 and up for one voice (see docs/voice.md)."""
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-12))


def judge_against(reference: np.ndarray, rate: int, *more: tuple[np.ndarray, int]):
    """A take judge (see :mod:`hubert_quant.bark.takes`): a take (n,) at 24 kHz -> its voice's similarity
    to ``reference``'s (mono (n,) at ``rate``), embedded once here. Each of ``more`` (samples, rate) is a
    further reference of the same voice; the score is then the mean similarity to all of them."""
    from .constants import BARK_SAMPLE_RATE

    wanted = [embed(reference, rate)] + [embed(samples, r) for samples, r in more]

    def judge(take: np.ndarray) -> float:
        heard = embed(take, BARK_SAMPLE_RATE)
        return float(np.mean([similarity(w, heard) for w in wanted]))

    return judge


def audio_files_similarity(reference: str | os.PathLike, others: list) -> list[float]:
    """Similarity of each audio file in ``others`` to ``reference``'s voice (files read by :mod:`.audio`)."""
    from .audio import load_audio

    wanted = embed(*load_audio(reference, rate=RATE))
    return [similarity(wanted, embed(*load_audio(path, rate=RATE))) for path in others]


def voice_match(wav16k: np.ndarray, stretches) -> tuple[float, ...]:
    """Each speech stretch's ((start, end) seconds) voice against the main voice, the one most stretches
    share: a second speaker is caught whatever their pitch. NaN for a stretch under 1 s (too short to
    tell); empty where the model is not installed (or does not load)."""
    if not usable():
        return ()
    long_enough = [k for k, (s, e) in enumerate(stretches) if e - s >= 1.0]
    match = [float("nan")] * len(stretches)
    if len(long_enough) < 2:
        return tuple(match)
    # Two windows (3.2 s) a stretch at most: a two-hour recording costs seconds, not a minute.
    embedded = embed_many([wav16k[int(stretches[k][0] * RATE):int(stretches[k][1] * RATE)] for k in long_enough],
                          RATE, max_windows=2)
    main = main_voice(embedded, np.array([stretches[k][1] - stretches[k][0] for k in long_enough]))
    for k, e in zip(long_enough, embedded, strict=True):
        match[k] = similarity(main, e)
    return tuple(match)
