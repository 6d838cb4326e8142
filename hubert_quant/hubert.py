"""HuBERT-base layer-9 features, the input of the quantizer.

Features are ``hidden_states[9]`` of transformers' ``HubertModel`` (index 0 is the
embedding output), computed on raw 16 kHz samples without normalisation, as the original
fairseq ``output_layer=9`` pipeline does. Layers after the 9th cannot change that output,
so they are dropped at load time.

Start-up: importing transformers' model code takes seconds, more than a 10 s clone. So the
first time a HuBERT folder is loaded (exact mode), its truncated model is also traced into a
TorchScript copy with transformers' own operations, checked to give bit-identical features on
inputs of other lengths, and kept in ``~/.cache/hubert-quant/traced/``; later processes load
that copy with torch alone. A copy that is missing, stale, not the user's own or unreadable is
simply not used (``HUBERT_QUANT_TRACE=0`` turns the copies off).

Long recordings run in overlapping windows: attention memory grows with the square of the
length (a 10-minute file in one pass needs tens of GB), so each window keeps
``window_seconds`` of frames and sees ``context_seconds`` more on either side. Windows
start on frame boundaries, so frame ``i`` of a window is exactly frame ``lo + i`` of the
file, and inputs up to ``window_seconds + 2 * context_seconds`` run in a single pass.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from . import noise
from .constants import ENV_TRACE, HUBERT_REPO, HUBERT_SAMPLE_RATE, env
from .device import autocast_type
from .errors import CheckpointError, ModelNotFoundError

FEATURE_LAYER = 9


@dataclass(frozen=True)
class Framing:
    """How the convolutional front end turns samples into frames."""

    hop: int  # samples between frames (product of the conv strides): 320 for HuBERT-base
    receptive_field: int  # samples seen by one frame: 400 for HuBERT-base

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` input samples (0 if shorter than one frame)."""
        if n_samples < self.receptive_field:
            return 0
        return (n_samples - self.receptive_field) // self.hop + 1

    @classmethod
    def from_config(cls, config) -> Framing:
        hop, field = 1, 1
        for kernel, stride in zip(config.conv_kernel, config.conv_stride, strict=True):
            field += (kernel - 1) * hop
            hop *= stride
        return cls(hop=hop, receptive_field=field)


class HubertEncoder:
    """A loaded HuBERT model that turns 16 kHz audio into layer-9 features."""

    def __init__(
        self,
        model,
        *,
        layer: int = FEATURE_LAYER,
        window_seconds: float = 30.0,
        context_seconds: float = 2.0,
        fast: bool = False,
        config=None,
    ):
        config = config or model.config
        if config.num_hidden_layers < layer:
            raise CheckpointError(
                f"HuBERT model has {config.num_hidden_layers} transformer layers; "
                f"layer {layer} features need at least {layer}."
            )
        self.framing = Framing.from_config(config)
        self.layer = layer
        self.width: int = config.hidden_size
        # With pre-norm ("stable layer norm") models the encoder normalises after its
        # last layer, so truncation would change layer 9's output: keep all layers there.
        self._truncated = not config.do_stable_layer_norm
        if self._truncated and not _is_traced(model):  # a traced copy was truncated before tracing
            model.encoder.layers = model.encoder.layers[:layer]
        self.model = model.eval()
        self.fast = fast  # bfloat16 autocast: faster where the hardware has it, features differ slightly
        frame_rate = HUBERT_SAMPLE_RATE / self.framing.hop
        self.window_frames = max(1, math.ceil(window_seconds * frame_rate))
        self.context_frames = max(0, math.ceil(context_seconds * frame_rate))

    @classmethod
    def load(cls, source: str | os.PathLike, *, device: str = "cpu", fast: bool = False, **kwargs) -> HubertEncoder:
        """Load from a ``save_pretrained`` folder (find or download one with :mod:`hubert_quant.models`).

        In exact mode the fast-start copy is used when there is one (see the module's docstring),
        and made when there is not.
        """
        copy = None if fast else TracedCopy.of(source, device)
        if copy is not None and (traced := copy.load()) is not None:
            return cls(traced, config=copy.config, **kwargs)
        encoder = cls(cls._load_transformers(source).to(device), fast=fast, **kwargs)
        if copy is not None and encoder._truncated:
            copy.save(encoder)
        return encoder

    @staticmethod
    def _load_transformers(source):
        """transformers' ``HubertModel`` from ``source``, with our errors."""
        import pickle

        from safetensors import SafetensorError
        from transformers import HubertModel

        try:
            _check_weights(source)
            # Unused-weight notices and a per-tensor loading bar confuse users; our own
            # progress reporting covers loading.
            with noise.quiet(transformers=True):
                model = HubertModel.from_pretrained(str(source))
        except CheckpointError as e:
            raise CheckpointError(f"HuBERT {str(source)!r}: refused to load pytorch_model.bin: {e}") from e
        except (pickle.UnpicklingError, OSError) as e:
            if not _caused_by(e, pickle.UnpicklingError):  # transformers < 4.47 wraps it in an OSError
                raise ModelNotFoundError(
                    f"HuBERT model {str(source)!r} is not available: {_first_line(e)}. Pass a folder saved with "
                    f"save_pretrained, or a Hub id such as {HUBERT_REPO!r} (see `hubert-quant models`)."
                ) from e
            raise CheckpointError(
                f"HuBERT {str(source)!r}: refused to load pytorch_model.bin: it holds Python objects other than "
                "tensors, which could run code. Use a copy with model.safetensors instead."
            ) from e
        except (ValueError, RuntimeError, SafetensorError) as e:
            raise CheckpointError(
                f"HuBERT model {str(source)!r} could not be loaded: {_first_line(e)}. If it was downloaded, "
                f"delete it (`hubert-quant models remove \"HuBERT base\"`) and download it again."
            ) from e
        return model

    @property
    def device(self):
        return next(self.model.parameters()).device

    def features(self, samples, *, on_window=None):
        """Layer-9 features of mono 16 kHz ``samples``.

        samples: Tensor, shape (n_samples,), float32
        on_window: called as ``on_window(done, total)`` after each window (progress on long input)
        returns: Tensor, shape (n_frames, width), on the model's device
        """
        import torch

        total = self.framing.n_frames(samples.shape[-1])
        if total == 0:
            raise ValueError(f"need at least {self.framing.receptive_field} samples for one HuBERT frame")
        samples = samples.to(self.device, torch.float32)
        on_window = on_window or (lambda done, total: None)
        if total <= self.window_frames + 2 * self.context_frames:
            on_window(0, 1)
            out = self._forward(samples)
            on_window(1, 1)
            return out
        out = torch.empty(total, self.width, device=self.device)
        hop, field = self.framing.hop, self.framing.receptive_field
        starts = range(0, total, self.window_frames)
        on_window(0, len(starts))
        for done, first in enumerate(starts, 1):
            last = min(first + self.window_frames, total)
            lo = max(0, first - self.context_frames)
            hi = min(total, last + self.context_frames)
            window = self._forward(samples[lo * hop : (hi - 1) * hop + field])
            out[first:last] = window[first - lo : last - lo]
            on_window(done, len(starts))
        return out

    def _forward(self, samples):
        """samples (n,) -> features (n_frames, width) for a single pass."""
        import torch

        autocast = torch.autocast(autocast_type(samples.device), dtype=torch.bfloat16, enabled=self.fast)
        with torch.inference_mode(), autocast:
            if self._truncated:  # a traced copy returns a dict; transformers' output is one too
                return self.model(samples[None])["last_hidden_state"][0].float()
            return self.model(samples[None], output_hidden_states=True).hidden_states[self.layer][0].float()


class TracedCopy:
    """The fast-start copy of one HuBERT folder on one device: a TorchScript file and its stamp."""

    VERSION = 1  # bump when what is traced changes

    def __init__(self, folder: Path, device: str, config: SimpleNamespace, stamp: dict):
        self.folder, self.device, self.config, self.stamp = folder, device, config, stamp
        name = hashlib.sha256(f"{folder.resolve()}|{device}".encode()).hexdigest()[:24]
        self.path = traced_dir() / f"{name}.ts"
        self.stamp_path = self.path.with_suffix(".json")

    @classmethod
    def of(cls, source: str | os.PathLike, device: str) -> TracedCopy | None:
        """The copy for ``source`` on ``device``, or None where copies are not made."""
        folder = Path(source)
        weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).is_file()), None)
        off = env(ENV_TRACE, "1") == "0"
        if off or weights is None or not (folder / "config.json").is_file():
            return None
        config_text = (folder / "config.json").read_text(encoding="utf-8", errors="replace")
        try:
            config = _config(json.loads(config_text))
        except (ValueError, TypeError, AttributeError):
            return None  # transformers' loader says what is wrong with it
        if config.do_stable_layer_norm:
            return None
        import torch

        blob = weights.resolve()  # in the Hugging Face cache: a blob named by its hash
        info = blob.stat()
        stamp = {"version": cls.VERSION, "torch": torch.__version__, "device": device, "weights": str(blob),
                 "size": info.st_size, "mtime_ns": info.st_mtime_ns, "inode": info.st_ino,
                 "config": hashlib.sha256(config_text.encode()).hexdigest()}
        return cls(folder, device, config, stamp)

    def load(self):
        """The traced model, or None (no copy, a stale one, or one not safely the user's own)."""
        try:
            if json.loads(self.stamp_path.read_text()) != self.stamp or not _private(self.path):
                return None
            import torch

            with noise.quiet(FutureWarning):  # torch 2.9+ calls jit.load deprecated; every CLI clone showed it
                return torch.jit.load(str(self.path), map_location=self.device).eval()
        except Exception:  # noqa: BLE001 - any problem with a copy means: load the usual way
            return None

    def save(self, encoder: HubertEncoder) -> bool:
        """Trace ``encoder``'s model, keep it only if it gives bit-identical features; True if kept."""
        import torch

        from .files import atomic_write, atomic_write_bytes

        try:
            generator = torch.Generator().manual_seed(0)
            example, *checks = (torch.randn(1, n, generator=generator).to(encoder.device)
                                for n in (80 + 320 * 150, 21_937, 47_313))
            # TorchScript's deprecation and tracer notes; transformers' loss_type note (tracing reads every attribute)
            with torch.inference_mode(), noise.quiet(transformers=True):
                traced = torch.jit.trace(encoder.model, example, check_trace=False, strict=False)
                if not all(torch.equal(traced(x)["last_hidden_state"], encoder.model(x).last_hidden_state)
                           for x in checks):
                    return False
            traced_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self.path, lambda f: torch.jit.save(traced, f), overwrite=True)
            atomic_write_bytes(self.stamp_path, json.dumps(self.stamp).encode(), overwrite=True)
            return True
        except Exception as e:  # noqa: BLE001 - a copy is an optimisation: never a reason to fail a clone
            print(f"note: no fast-start copy of HuBERT was kept ({type(e).__name__}: {e})", file=sys.stderr)
            return False


def traced_dir() -> Path:
    """Where fast-start copies of HuBERT are kept: ``$XDG_CACHE_HOME/hubert-quant/traced``."""
    from .models.hub import own_cache_dir

    return own_cache_dir() / "traced"


def _private(path: Path) -> bool:
    """A TorchScript file holds a program: load only one that is this user's and nobody else can change."""
    info = path.stat()
    owner_ok = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    folder = path.parent.stat()
    return owner_ok and not (info.st_mode & 0o022) and not (folder.st_mode & 0o022)


def _config(values: dict) -> SimpleNamespace:
    """What HubertEncoder reads of a HuBERT ``config.json``, with transformers' defaults."""
    defaults = {"conv_kernel": [10, 3, 3, 3, 3, 2, 2], "conv_stride": [5, 2, 2, 2, 2, 2, 2], "hidden_size": 768,
                "num_hidden_layers": 12, "do_stable_layer_norm": False}
    return SimpleNamespace(**{key: values.get(key, default) for key, default in defaults.items()})


def _is_traced(model) -> bool:
    return type(model).__module__.startswith("torch.jit")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _caused_by(error: BaseException, kind: type) -> bool:
    """Whether ``error`` or an exception it was raised from is a ``kind``."""
    while error is not None:
        if isinstance(error, kind):
            return True
        error = error.__cause__ or error.__context__
    return False


def _check_weights(source) -> None:
    """Every pickle of weights in a folder (``pytorch_model.bin`` or its shards) passes the checkpoint
    guard first, safetensors beside them or not: torch 2.1 would run a TorchScript archive even under
    ``weights_only``."""
    from .torch_compat import checkpoint

    folder = Path(str(source))
    if folder.is_dir():  # every pickle transformers might read: one file, or shards (pytorch_model-0000N-of-...)
        for weights in sorted(folder.glob("pytorch_model*.bin")):
            checkpoint(weights)
