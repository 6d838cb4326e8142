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


# Measured (docs/performance.md): bfloat16 fast mode took 0.59x the plain pipeline's time on a 2-core
# Xeon with AVX512-BF16 and 0.65x on a 16-core one with AMX, but 1.7x on a Xeon without either
# (emulated bfloat16) and 1.05 to 1.13x on an NVIDIA H200 (a clone there is launch-bound; autocast
# only adds casts).
_SLOW_ON_GPU = ("on a GPU it was measured slower than exact mode (1.05 to 1.13x on an NVIDIA H200): "
                "a clone there waits on many small steps, and bfloat16 only adds conversions")
_SLOW_ON_THIS_CPU = ("this CPU has no bfloat16 instructions (AVX512-BF16 or AMX), and without them "
                     "fast mode was measured 1.7x slower than exact mode")


def bfloat16_is_slow(device) -> str:
    """Why fast mode (bfloat16) would be slower than exact mode on ``device``, or "" where it pays
    (or where nothing was measured: CPUs other than x86, Apple's GPUs)."""
    kind = getattr(device, "type", str(device).split(":")[0])
    if kind == "cuda":
        return _SLOW_ON_GPU
    if kind == "cpu" and _cpu_bfloat16() is False:
        return _SLOW_ON_THIS_CPU
    return ""


def trains_in_bfloat16(device) -> bool:
    """Whether training on ``device`` runs in bfloat16 autocast: on a GPU, and on an x86 CPU with
    AVX512-BF16 or AMX, where the output layers' matrix products run twice as fast (measured 1.5x
    per step on a 2-core AMD EPYC; docs/training.md). Weights, Adam's state and the loss stay fp32."""
    kind = getattr(device, "type", str(device).split(":")[0])
    return kind == "cuda" or (kind == "cpu" and _cpu_bfloat16() is True)


def _cpu_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool | None:
    """Whether this x86 CPU runs bfloat16 natively (AVX512-BF16 or AMX); None when unknown."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686", "x86"):
        return None
    import torch

    probes = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(callable(probe) for probe in probes):  # torch >= 2.3 asks the CPU itself
        return any(probe() for probe in probes)
    try:  # older torch (audio-webui pins 2.1): the flags Linux reports
        with open(cpuinfo, encoding="ascii", errors="replace") as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), None)
    except OSError:
        return None
    return None if flags is None else bool({"avx512_bf16", "amx_bf16"} & set(flags))
