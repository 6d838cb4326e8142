"""Which torch device to run on, and the per-device details every model shares: the autocast
device type, seeding every generator, and the one message for a GPU that is not there.

torch and numpy are imported inside the functions: importing this module needs only the standard library.
"""

from __future__ import annotations

NO_CUDA = "device 'cuda' was asked for but PyTorch sees no CUDA GPU; use --device cpu"
NO_MPS = "device 'mps' was asked for but it is not available here; use --device cpu"


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu; other names are checked, not guessed."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(NO_CUDA)
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError(NO_MPS)
    return device


def autocast_type(device) -> str:
    """The device type ``torch.autocast`` takes for tensors on ``device`` (a torch.device or its
    type): cuda and cpu as they are; anything else (mps) autocasts as cpu would."""
    kind = getattr(device, "type", str(device).split(":")[0])
    return kind if kind in ("cpu", "cuda") else "cpu"


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (every device's) with ``seed`` mod 2**32."""
    import random

    import numpy as np
    import torch

    value = seed % 2**32
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)
