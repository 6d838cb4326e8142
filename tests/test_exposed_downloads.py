"""An exposed front end fetches nothing: the download policy (``models.hub``) is asked by every
request that would leave this machine, and a refusal never reaches the network.

Checked three ways: every catalogue model through the store, every low-level way to download,
and a real ``hubert-quant ui --listen`` driven over HTTP by a client in another process, with a
fake Hub on 127.0.0.1 that records every request it gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import soundfile as sf
from conftest import ROOT, fake_hub_cache, free_port, speech_like
from fakehub import FakeHub, serve_tiny
from test_hub import GERMAN

from hubert_quant import models
from hubert_quant.errors import ModelNotFoundError
from hubert_quant.models import catalogue, hub

REASON = "this app is reachable from other machines"


@pytest.fixture
def refused():
    hub.set_download_policy(lambda: REASON)
    yield
    hub.set_download_policy(None)


@pytest.mark.parametrize("name", [entry.name for entry in catalogue.entries()])
def test_no_catalogue_model_is_fetched_while_refused(fake_hub, refused, name):
    entry = catalogue.find(name)
    with pytest.raises(ModelNotFoundError) as caught:
        models.ensure(entry)
    text = str(caught.value)
    assert REASON in text and "hubert-quant models download" in text and name in text
    assert models.missing_summary(caught.value)  # the page names it like any other missing model
    assert fake_hub.requests == []


@pytest.mark.parametrize("fetch", [
    lambda server: hub.fetch_hub_file(*GERMAN),
    lambda server: hub.fetch_hub_file_to(*GERMAN, hub.cache_dir() / "to.pth"),
    lambda server: hub.download_url(f"{server.url}/cdn/anything", hub.cache_dir() / "x.bin"),
    lambda server: models.download("German"),
    lambda server: models.load_quantizer("German", device="cpu"),
    lambda server: models.resolve_hubert("someone/another-hubert"),
    lambda server: models.resolve_codec(),
], ids=["hub-file", "hub-file-to", "url", "download", "load", "hubert-id", "codec"])
def test_every_way_to_download_asks_the_policy_first(fake_hub, refused, fetch):
    with pytest.raises(ModelNotFoundError, match=REASON):
        fetch(fake_hub)
    assert fake_hub.requests == []


def test_the_policy_is_asked_at_each_download_not_once(fake_hub, tiny):
    exposed = {"now": True}
    hub.set_download_policy(lambda: REASON if exposed["now"] else None)
    try:
        with pytest.raises(ModelNotFoundError):
            models.download("German")
        assert fake_hub.requests == []
        exposed["now"] = False  # the host stopped listening on other addresses
        assert models.download("German").read_bytes() == (tiny / "quantizer-v0.pth").read_bytes()
    finally:
        hub.set_download_policy(None)


def test_a_model_already_here_is_used_while_refused(fake_hub, refused, tiny):
    hub.set_download_policy(None)
    path = models.download("German")
    fake_hub.requests.clear()
    hub.set_download_policy(lambda: REASON)
    assert models.ensure(catalogue.find("German")) == path
    assert fake_hub.requests == []


# ---- the app over HTTP, as a visitor -----------------------------------------------------------

CLIENT = r"""
import json, sys
from gradio_client import Client, handle_file
url, wav = sys.argv[1], sys.argv[2]
client = Client(url, verbose=False)
out = {}
def attempt(key, **call):
    try:
        out[key] = {"ok": str(client.predict(**call))}
    except Exception as e:
        out[key] = {"error": str(e)}
attempt("german", audio=handle_file(wav), start=0, end=0, quantizer="German", name="g", consent=True,
        extra=[], api_name="/clone")
attempt("english", audio=handle_file(wav), start=0, end=0, quantizer="Large English", name="e", consent=True,
        extra=[], api_name="/clone")
attempt("mask_small", audio=handle_file(wav), mode="random voice", speaker=None, upload=None, seed=1,
        coarse_temp=0.7, fine_temp=0.5, small=True, api_name="/mask")
print(json.dumps(out))
"""


def serve_app(tmp_path, tiny, server, *flags):
    """``hubert-quant ui --listen`` on a free port, with the tiny default models already on disk and
    every other one served by ``server``; returns (process, url)."""
    env = {**os.environ, **fake_hub_cache(tiny, tmp_path / "models"), **serve_tiny(server, tiny),
           "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    for stage in ("text", "coarse", "fine"):  # Bark's small models are not here: a download away
        (tmp_path / "models" / "xdg" / "suno" / "bark_v0" / f"{stage}.pt").unlink(missing_ok=True)
    port, log = free_port(), tmp_path / f"app-{len(flags)}.log"
    with open(log, "w") as err:
        app = subprocess.Popen([sys.executable, "-m", "hubert_quant", "ui", "--listen", "--port", str(port),
                                "--device", "cpu", "--speakers-dir", str(tmp_path / "speakers"), *flags],
                               stderr=err, env=env, cwd=tmp_path)
    deadline = time.time() + 180
    while "Ctrl+C stops it" not in log.read_text() and time.time() < deadline and app.poll() is None:
        time.sleep(0.5)
    assert "Ctrl+C stops it" in log.read_text(), log.read_text()
    return app, f"http://127.0.0.1:{port}/"


def visit(url: str, wav) -> dict:
    run = subprocess.run([sys.executable, "-c", CLIENT, url, str(wav)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def clone_tab_quantizers(url: str) -> list[str]:
    import httpx

    config = httpx.get(f"{url}config", timeout=30).json()
    boxes = [c["props"] for c in config["components"] if c["props"].get("label") == "Quantizer (language)"]
    return [choice[1] if isinstance(choice, list) else choice for choice in boxes[0]["choices"]]


@pytest.mark.standalone
@pytest.mark.slow
def test_a_visitor_of_an_exposed_app_starts_no_download(tiny, tmp_path):
    wav = tmp_path / "voice.wav"
    sf.write(wav, speech_like(3.0, 16_000), 16_000)
    with FakeHub() as server:
        app, url = serve_app(tmp_path, tiny, server)
        try:
            assert clone_tab_quantizers(url) == ["Large English"]  # only what is here is offered
            seen = visit(url, wav)
        finally:
            app.terminate()
            app.wait(timeout=60)
        assert server.requests == [], server.requests
    # German is not offered, so Gradio refuses it as a choice before our event runs; Bark's small
    # models are one tick away, so our policy is what refuses them.
    assert "German" in seen["german"]["error"], seen
    assert REASON in seen["mask_small"]["error"], seen
    assert "Saved" in seen["english"]["ok"]  # what is here still works for visitors
    error = seen["mask_small"]["error"]  # the page names the models and who can fetch them, no server folder
    assert "Bark coarse small" in error and "ask whoever runs it" in error and str(tmp_path) not in error


@pytest.mark.standalone
@pytest.mark.slow
def test_allow_remote_model_changes_keeps_its_meaning(tiny, tmp_path):
    wav = tmp_path / "voice.wav"
    sf.write(wav, speech_like(3.0, 16_000), 16_000)
    with FakeHub() as server:
        app, url = serve_app(tmp_path, tiny, server, "--allow-remote-model-changes")
        try:
            assert "German" in clone_tab_quantizers(url)
            seen = visit(url, wav)
        finally:
            app.terminate()
            app.wait(timeout=60)
        assert any(GERMAN[1] in path for _, path, _ in server.requests)
    assert "Saved" in seen["german"]["ok"], seen


@pytest.mark.parametrize("host", ["audio-webui", "tts-webui"])
def test_an_exposed_host_fetches_nothing_and_a_local_one_does(fake_hub, host, monkeypatch, tmp_path):
    """Each adapter installs the policy with its own exposure check, asked at each download from the
    sockets this process listens on (here: one opened on every address after the tabs were built)."""
    import socket

    from hubert_quant.hosts import audio_webui, tts_webui

    if host == "audio-webui":
        monkeypatch.setattr(audio_webui, "HOST_ROOT", tmp_path)
        audio_webui.on_init()
    else:
        monkeypatch.chdir(tmp_path)
        import gradio as gr

        with gr.Blocks():
            tts_webui.extension__tts_generation_webui()
    assert models.download_refusal() is None  # built while local
    listening = socket.create_server(("0.0.0.0", 0))
    try:
        with pytest.raises(ModelNotFoundError, match="listens on 0.0.0.0"):
            models.download("German")
    finally:
        listening.close()
    assert fake_hub.requests == []
    assert models.download("German").is_file()


NETWORK = ("urllib.request", "http.client", "httpx", "requests", "socket", "huggingface_hub", "aiohttp")


def test_only_the_hub_module_reaches_the_network():
    """The policy guards every download because models.hub is the only module that can start one."""
    import ast

    from test_architecture import MODULES, _runtime_imports

    reaching = {}
    for name, path in MODULES.items():
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            hits = [t for t in targets if t in (*NETWORK, "urllib") or t.startswith(tuple(f"{n}." for n in NETWORK))]
            if hits:
                reaching.setdefault(name, set()).update(hits)
    assert set(reaching) == {"hubert_quant.models.hub"}, reaching
    assert "urllib.request" in reaching["hubert_quant.models.hub"]  # the checker sees what it should
