"""The HuBERT quantizer: layer-9 features -> Bark semantic tokens.

Architecture and file format follow the original "custom tokenizer" exactly (state_dict
keys ``lstm.*``, ``intermediate.*`` for version 1, ``fc.*``), so checkpoints move freely
between this project and every tool that reads the original format:

- version 0: LSTM(input, hidden, 2 layers) -> Linear(hidden -> output)
- version 1: LSTM(input, hidden, 2 layers) -> Linear(hidden -> 4096) -> Linear(4096 -> output)

The original ends with LogSoftmax; a token is the argmax, which the softmax's per-row
shift does not move, so it is skipped here (see :meth:`Quantizer.tokens` for the one
rounding case where it could, and how that is handled).

A "new" checkpoint holds a zip entry ``<folder>/.info`` with the sizes as JSON, where
``<folder>`` is torch's top folder in the zip (the file's stem when it was saved); an "old"
one has none and is version 0 with the default sizes.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .device import autocast_type
from .errors import CheckpointError, ModelNotFoundError, explain_out_of_memory
from .files import atomic_write_bytes
from .torch_compat import add_record, checkpoint, load_tensors

MAX_SIZE = 65_536  # no quantizer layer is wider (Bark's vocabulary is 10 000, HuBERT-large 1024)
MAX_INFO_CHARS = 4096
INTERMEDIATE_SIZE = 4096  # fixed in the original version-1 architecture, not stored in .info
VERSIONS = (0, 1)


@dataclass(frozen=True)
class QuantizerConfig:
    """Sizes of a quantizer: the content of the ``.info`` entry."""

    input_size: int = 768  # HuBERT-base width
    hidden_size: int = 1024  # LSTM width
    output_size: int = 10_000  # Bark's semantic vocabulary
    version: int = 0  # 0: one Linear after the LSTM; 1: two

    def __post_init__(self):
        for name in ("input_size", "hidden_size", "output_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            if value > MAX_SIZE:
                raise ValueError(f"{name} is {value:,}, beyond any quantizer (at most {MAX_SIZE:,})")
        if self.version not in VERSIONS:
            raise ValueError(f"version must be one of {VERSIONS}, got {self.version!r}")

    def parameter_count(self) -> int:
        """How many weights a quantizer of these sizes has (two LSTM layers, then one or two Linear)."""
        i, h, o = self.input_size, self.hidden_size, self.output_size
        lstm = 4 * h * (i + h + 2) + 4 * h * (h + h + 2)
        head = h * INTERMEDIATE_SIZE + INTERMEDIATE_SIZE + INTERMEDIATE_SIZE * o + o if self.version == 1 else h * o + o
        return lstm + head

    @classmethod
    def from_info(cls, text: str) -> QuantizerConfig:
        if len(text) > MAX_INFO_CHARS:
            raise ValueError(f"{len(text):,} characters, where the sizes take well under {MAX_INFO_CHARS}")
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        known = {k: data[k] for k in ("input_size", "hidden_size", "output_size", "version") if k in data}
        return cls(**known)


CHUNK_FRAMES = 2048  # output-layer chunk: 2048 x 10000 logits = 82 MB
# Long inputs: the LSTM runs over windows of WINDOW_FRAMES (30 s), each after CONTEXT_FRAMES (10 s)
# of the frames before it to settle its state, up to WINDOWS_PER_BATCH side by side. One step then
# reads the 16 MB recurrent weights once for every window instead of once per frame: the one pass is
# bound by that reading, 1,000 steps for 10 s. Inputs up to WINDOW_FRAMES + CONTEXT_FRAMES (40 s)
# are one pass, as before.
WINDOW_FRAMES = 1500
CONTEXT_FRAMES = 500
# Each batch costs one window's number of steps, so the windows are shared out evenly over the fewest
# batches: 20 windows (10 minutes) as 10 + 10 took 11 to 12 s on 2 cores, as 8 + 8 + 4 15 to 16 s, as 20 10.8 s.
WINDOWS_PER_BATCH = 10  # layer 1's gates for a batch: 10 x 2000 x 4096 float32 = 328 MB


def _margin(logits: torch.Tensor) -> torch.Tensor:
    top = logits.topk(2, dim=-1).values
    return top[:, 0] - top[:, 1]


class Quantizer(nn.Module):
    """LSTM quantizer of the original architecture (see module docstring)."""

    def __init__(self, config: QuantizerConfig = QuantizerConfig(), *, fast: bool = False):
        super().__init__()
        self.config = config
        self.fast = fast
        self.lstm = nn.LSTM(config.input_size, config.hidden_size, 2, batch_first=True)
        width = config.hidden_size
        if config.version == 1:
            self.intermediate = nn.Linear(config.hidden_size, INTERMEDIATE_SIZE)
            width = INTERMEDIATE_SIZE
        self.fc = nn.Linear(width, config.output_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Logits, without the original's LogSoftmax.

        features: Tensor, shape (n_frames, input_size) or (batch, n_frames, input_size); a
            batch padded at the end gives each sequence exactly its unpadded logits (the LSTM
            only runs forward in time, so padding comes after every real frame).
        returns: Tensor, shape (..., n_frames, output_size)
        """
        x, _ = self.lstm(features)
        return self._head(x)

    @torch.inference_mode()
    def tokens(self, features: torch.Tensor) -> torch.Tensor:
        """Semantic tokens, identical to ``argmax(LogSoftmax(original(features)))``.

        features: Tensor, shape (n_frames, input_size)
        returns: LongTensor, shape (n_frames,)

        The LSTM runs over the whole sequence up to 40 s, and over 30 s windows side by side
        beyond (each after 10 s of the frames before it: see :meth:`hidden`); the output layers
        run on chunks of frames, so a 10-minute input never holds its (n_frames, 10000) logits
        at once. With ``self.fast`` the LSTM (about 70% of the time: each step streams its
        16 MB recurrent weights) runs in bfloat16, so tokens may differ from the exact ones.
        """
        if features.ndim != 2 or features.shape[-1] != self.config.input_size:
            raise ValueError(
                f"quantizer expects features of shape (n_frames, {self.config.input_size}), "
                f"got {tuple(features.shape)}"
            )
        features = features.to(self.fc.weight.device, self.fc.weight.dtype)
        with torch.autocast(autocast_type(features.device), dtype=torch.bfloat16, enabled=self.fast):
            hidden = self.hidden(features)
        hidden = hidden.to(self.fc.weight.dtype)
        tokens = torch.empty(hidden.shape[0], dtype=torch.long, device=hidden.device)
        for first in range(0, hidden.shape[0], CHUNK_FRAMES):
            tokens[first : first + CHUNK_FRAMES] = self._exact_tokens(hidden[first : first + CHUNK_FRAMES])
        return tokens

    def hidden(self, features: torch.Tensor) -> torch.Tensor:
        """The LSTM's output for one sequence, in windows side by side when it is long.

        features: Tensor, shape (n_frames, input_size)
        returns: Tensor, shape (n_frames, hidden_size)

        Up to ``WINDOW_FRAMES + CONTEXT_FRAMES`` frames this is one pass. Beyond, frame ``i``
        comes from a pass that starts at most ``WINDOW_FRAMES + CONTEXT_FRAMES`` frames before
        it, not at frame 0: an LSTM's state forgets, so the outputs agree with one pass up to
        rounding (measured in docs/performance.md), and the windows of a batch are padded at
        their end, which a forward LSTM never sees before a real frame.
        """
        total = features.shape[0]
        if total <= WINDOW_FRAMES + CONTEXT_FRAMES:
            return self.lstm(features)[0]
        out = features.new_empty((total, self.config.hidden_size))
        starts = list(range(0, total, WINDOW_FRAMES))
        batches = -(-len(starts) // WINDOWS_PER_BATCH)
        for group in range(batches):
            spans = [(max(0, first - CONTEXT_FRAMES), first, min(first + WINDOW_FRAMES, total))
                     for first in starts[group::batches]]
            longest = max(last - lo for lo, _, last in spans)
            batch = features.new_zeros((len(spans), longest, features.shape[1]))
            for row, (lo, _, last) in enumerate(spans):
                batch[row, : last - lo] = features[lo:last]
            hidden, _ = self.lstm(batch)
            for row, (lo, first, last) in enumerate(spans):
                out[first:last] = hidden[row, first - lo : last - lo]
        return out

    def _head(self, hidden: torch.Tensor) -> torch.Tensor:
        """LSTM output (n, hidden) -> logits (n, output_size)."""
        return self.fc(self.intermediate(hidden) if self.config.version == 1 else hidden)

    def _exact_tokens(self, hidden: torch.Tensor) -> torch.Tensor:
        logits = self._head(hidden)
        tokens = logits.argmax(-1)
        # LogSoftmax subtracts one number per row; rounding can make two nearly equal
        # logits equal, and argmax then picks the lower index. Only rows whose top two
        # logits are within a few ulps can flip, so redo just those the original way.
        close = _margin(logits) <= 1e-5 * logits.amax(-1).abs().clamp_min(1.0)
        if close.any():
            tokens[close] = torch.log_softmax(logits[close], dim=-1).argmax(-1)
        return tokens

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the new format (state_dict + ``<folder>/.info``), atomically."""
        path = Path(path)
        state = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        with tempfile.TemporaryDirectory() as scratch:
            # torch names the zip's top folder after the file it writes, and reads only
            # entries under that folder; saving under the final name gives the original's
            # exact layout: <stem>/data.pkl ... <stem>/.info.
            staged = Path(scratch) / path.name
            torch.save(state, staged)
            add_record(staged, ".info", json.dumps(asdict(self.config)).encode())
            return atomic_write_bytes(path, staged.read_bytes(), overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "cpu", fast: bool = False) -> Quantizer:
        """Read an old or new checkpoint. Only tensors are unpickled (``weights_only=True``).

        fast: a bfloat16 LSTM (see :meth:`tokens`); off by default, as tokens may differ.
        """
        path = Path(path)
        config = read_config(path)
        try:
            # A valid file that does not fit in memory is not "unreadable": say it ran out of memory.
            with explain_out_of_memory(f"loading the quantizer {path.name}", "cpu"):
                state = load_tensors(path)
        except CheckpointError:
            raise  # the guard's own one line: the file, what, what to do
        except pickle.UnpicklingError as e:
            raise CheckpointError(
                f"{path}: refused to load: the file contains Python objects other than tensors, "
                "which could run code. Only plain state_dict checkpoints are accepted; "
                "get the file from a source you trust."
            ) from e
        except (RuntimeError, EOFError, OSError, ValueError) as e:
            raise CheckpointError(f"{path}: not a readable torch checkpoint ({e}). Download it again.") from e
        # The sizes come from the file: check the weights against a model without storage ("meta")
        # first, so a small file declaring huge sizes never gets the memory they would take.
        # The same storage-less model then takes the file's tensors as they are: no random
        # initialisation of weights that are replaced at once (half a second at full size).
        with torch.device("meta"):
            model = cls(config, fast=fast)
        _check_state_dict(path, state, model)
        model.load_state_dict(state, assign=True)
        return model.eval().to(device)


def read_config(path: Path) -> QuantizerConfig:
    """Sizes from the ``.info`` record, after the checkpoint guard (nothing is unpickled)."""
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: quantizer checkpoint not found.")
    found = checkpoint(path, kind="quantizer checkpoint")
    size = found.sizes.get(".info")
    if size is not None and size > MAX_INFO_CHARS:
        raise CheckpointError(f"{path}: its .info entry is {size:,} bytes, "
                              "far more than quantizer sizes take; the file is damaged or not a quantizer.")
    try:
        text = found.small[".info"].decode("utf-8") if size is not None else None
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path}: its .info entry is not text ({e}); the file is damaged or not a quantizer."
                              ) from e
    if text is None:
        return QuantizerConfig()
    try:
        return QuantizerConfig.from_info(text)
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: its .info entry is not valid quantizer sizes ({e}).") from e


def _check_state_dict(path: Path, state: object, model: Quantizer) -> None:
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a state_dict of tensors, found {type(state).__name__}.")
    expected = model.state_dict()
    labelled = f"labelled version {model.config.version}"
    if model.config.version == 0 and any(k.startswith("intermediate.") for k in state):
        raise CheckpointError(f"{path}: has an 'intermediate' layer (version 1) but is {labelled}.")
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"{path}: parameters do not match a quantizer {labelled} "
            f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})."
        )
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise CheckpointError(
                f"{path}: {key} has shape {tuple(state[key].shape)} but the sizes "
                f"{asdict(model.config)} need {tuple(tensor.shape)}."
            )
