"""install.py's decisions, without running pip for real (the test command itself runs it)."""

import importlib.util

import pytest
from conftest import ROOT


@pytest.fixture
def install():
    spec = importlib.util.spec_from_file_location("install", ROOT / "install.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_detects_the_working_pair_it_runs_with(install):
    import torch
    import torchaudio

    assert install.working_torch_pair() == (torch.__version__.split("+")[0], torchaudio.__version__.split("+")[0])


@pytest.mark.slow
def test_working_pair_is_left_alone_and_pinned(install, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(install, "working_torch_pair", lambda: ("2.5.1", "2.5.1"))

    def fake_pip(*args):
        calls.append(args)
        if "-c" in args:
            pins = open(args[args.index("-c") + 1]).read()
            calls.append(pins)
        return 0

    monkeypatch.setattr(install, "pip", fake_pip)
    monkeypatch.setattr(install, "speaker_model_installed", lambda: False)
    assert install.main(["--dev"]) == 0
    assert ("install", "--no-deps", install.SPEAKER_MODEL) in calls  # its weights only: nothing it depends on
    assert not any(install.TORCH_PAIR[0] in " ".join(map(str, c)) for c in calls)  # torch not reinstalled
    assert "torch==2.5.1\ntorchaudio==2.5.1\n" in calls
    assert calls[0][-1].endswith("[dev]")
    assert "leaving them alone" in capsys.readouterr().out


@pytest.mark.slow
def test_missing_pair_installs_the_pinned_one(install, monkeypatch):
    answers = iter([None, ("2.11.0", "2.11.0")])
    monkeypatch.setattr(install, "working_torch_pair", lambda: next(answers))
    calls = []
    monkeypatch.setattr(install, "pip", lambda *args: calls.append(args) or 0)
    assert install.main([]) == 0
    assert calls[0] == ("install", *install.TORCH_PAIR)


def test_pip_failure_is_one_clear_message(install, monkeypatch, capsys):
    monkeypatch.setattr(install, "working_torch_pair", lambda: None)
    monkeypatch.setattr(install, "pip", lambda *args: 1)
    assert install.main([]) == 1
    err = capsys.readouterr().err
    assert "install failed: pip could not install torch==2.11.0 torchaudio==2.11.0" in err
    assert "Traceback" not in err


def test_tts_webuis_distribution_builds_the_same_code_with_the_same_dependencies():
    """tts_webui_extension/pyproject.toml builds everything under the name TTS-WebUI manages us by: its
    packages, package data, scripts and dependencies are the main distribution's plus the host's entry."""
    try:
        import tomllib
    except ImportError:  # Python 3.10 (audio-webui's stack): pip's own copy of the same parser
        from pip._vendor import tomli as tomllib

    main = tomllib.loads((ROOT / "pyproject.toml").read_text())
    host = tomllib.loads((ROOT / "tts_webui_extension" / "pyproject.toml").read_text())
    assert host["project"]["name"] == "tts_webui_extension.hubert_quant"
    assert host["project"]["dependencies"] == main["project"]["dependencies"]
    assert host["project"]["scripts"] == main["project"]["scripts"]
    assert host["tool"]["setuptools"]["packages"] == [*main["tool"]["setuptools"]["packages"],
                                                      "tts_webui_extension.hubert_quant"]
    assert host["tool"]["setuptools"]["package-data"] == main["tool"]["setuptools"]["package-data"]
    assert host["tool"]["setuptools"]["dynamic"] == main["tool"]["setuptools"]["dynamic"]
