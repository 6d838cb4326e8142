"""Uploads are uploads: every file input of ours accepts only files in its Gradio's upload folder.

Gradio 3.49 (audio-webui's) takes a file value's ``name`` from the request as it is: a server path is
copied into the upload folder and a URL is fetched, before any code of ours runs. So the guard
(``gradio_compat.uploads_only``) sits in each input's preprocess. These tests build every tab and attack
each file input with variants; they run in audio-webui's stack (CI's second pass) where that matters,
and check in the standalone stack that Gradio 4+ refuses the same by itself, over HTTP.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import gradio as gr
import pytest

from hubert_quant import ui
from hubert_quant.ui import gradio_compat as compat

SECRET = "a server file the visitor must not get"


def our_file_inputs(settings: ui.Settings) -> list:
    with gr.Blocks() as blocks:
        for build in (ui.clone_tab, ui.mask_tab, ui.speakers_tab, ui.models_tab):
            build(settings)
    inputs = [b for b in blocks.blocks.values() if isinstance(b, (gr.Audio, gr.File)) and b.interactive is not False]
    assert len(inputs) >= 6  # Clone (recording, microphone in 3.x, more clips), mask (2), import, .pth
    return inputs


def attacks(upload_folder: Path, secret: Path) -> dict[str, str]:
    """File values a request can name instead of an upload, each reaching ``secret`` some way."""
    link = upload_folder / "planted" / "voice.wav"  # inside the folder, pointing out of it
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(secret)
    sibling = upload_folder.with_name(upload_folder.name + "-evil")  # shares the folder's name as a prefix
    sibling.mkdir(exist_ok=True)
    (sibling / "voice.wav").write_text(SECRET)
    return {
        "absolute": str(secret),
        "dot-dot": str(upload_folder / ".." / secret.parent.name / secret.name),
        "relative": os.path.relpath(secret),
        "link inside": str(link),
        "prefix sibling": str(sibling / "voice.wav"),
        "the folder itself": str(upload_folder),
        "http URL": "http://127.0.0.1:9/voice.wav",
        "file URL": f"file://{secret}",
    }


@pytest.mark.skipif(not compat.LEGACY, reason="Gradio 3.x only: 4+ checks the upload folder itself (test below)")
def test_every_file_input_refuses_every_server_path_and_url_before_gradio_reads_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # its own upload folder, planted freely
    secret = tmp_path / "outside" / "secret.wav"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "out")
    for component in our_file_inputs(settings):
        folder = Path(component.DEFAULT_TEMP_DIR)
        before = set(folder.rglob("*")) if folder.exists() else set()
        for how, name in attacks(folder, secret).items():
            value = {"name": name, "data": None, "is_file": True, "size": 10}
            with pytest.raises(gr.Error, match="not uploaded from this page"):
                component.preprocess([value] if component.get_config().get("file_count") == "multiple" else value)
            copied = {p for p in set(folder.rglob("*")) - before if p.is_file() and not p.is_symlink()}
            assert not any(p.read_bytes() == SECRET.encode() for p in copied), (component.label, how)


@pytest.mark.skipif(not compat.LEGACY, reason="Gradio 3.x only")
def test_a_real_upload_still_goes_through(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "out")
    component = next(c for c in our_file_inputs(settings) if isinstance(c, gr.File))
    uploaded = Path(component.DEFAULT_TEMP_DIR) / "abc123" / "speaker.npz"
    uploaded.parent.mkdir(parents=True, exist_ok=True)
    uploaded.write_bytes(b"PK")
    value = {"name": str(uploaded), "data": None, "is_file": True, "size": 2}
    assert compat.path_of(component.preprocess(value)).endswith("speaker.npz")


@pytest.mark.standalone
@pytest.mark.skipif(compat.LEGACY, reason="the standalone app runs Gradio 4+")
def test_over_http_a_server_path_or_a_url_for_every_file_input_of_ours_is_refused(tmp_path):
    """The standalone app (Gradio 4+): each event with a file input, called with a server path and a URL."""
    import json

    import httpx

    secret = tmp_path / "secret.wav"
    secret.write_text(SECRET)
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "out")
    app, url = ui.launch(settings, block=False)
    app.show_error = True  # Gradio's own refusals are hidden from pages otherwise: this test reads them
    try:
        config = httpx.get(url + "config", timeout=30).json()
        file_ids = {c["id"] for c in config["components"] if c["type"] in ("audio", "file")
                    and c["props"].get("interactive") is not False}
        called = 0
        # A server path: Gradio refuses it itself. A URL (a public address: Gradio fetches those, any size,
        # into its cache before preprocess; nothing here reaches 1.2.3.4, and the guard asks nothing of it): ours.
        attacks = {str(secret): "not uploaded by a user", "http://1.2.3.4:9/voice.wav": "not uploaded from this page"}
        for index, dep in enumerate(config["dependencies"]):
            if not set(dep["inputs"]) & file_ids:
                continue
            for value, refusal in attacks.items():
                data = [{"path": value, "meta": {"_type": "gradio.FileData"}} if i in file_ids else None
                        for i in dep["inputs"]]
                answer = post_and_wait(httpx, url, dep.get("id", index), data)
                assert answer["msg"] == "process_completed" and not answer.get("success"), answer
                assert refusal in str(answer["output"].get("error")), answer  # refused, not failed later
                assert SECRET not in json.dumps(answer)
            called += 1
        assert called >= 5, called
        assert not any(p.read_bytes() == SECRET.encode() for p in Path(tempfile.gettempdir(), "gradio").rglob("*")
                       if p.is_file() and p.stat().st_size == len(SECRET))
    finally:
        app.close()


def post_and_wait(httpx, url: str, fn_index: int, data: list, headers: dict | None = None) -> dict:
    """One call through the queue as a browser makes it (with ``headers`` on its request); the final message."""
    import json
    import uuid

    session = uuid.uuid4().hex
    joined = httpx.post(url + "gradio_api/queue/join", json={"data": data, "fn_index": fn_index,
                                                           "session_hash": session, "event_data": None},
                        headers=headers or {}, timeout=30)
    assert joined.status_code == 200, joined.text
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, timeout=120) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the call never completed")


@pytest.mark.standalone
@pytest.mark.skipif(compat.LEGACY, reason="the standalone app runs Gradio 4+")
def test_over_http_a_model_change_through_a_forwarder_is_refused_and_a_direct_one_is_not(tmp_path, monkeypatch):
    """The request check must see Gradio's real Request (injected by the handler's annotation), not None."""
    import httpx

    from hubert_quant.models import paths

    monkeypatch.setattr(paths, "bark_dir", lambda: tmp_path / "bark")
    checkpoint = tmp_path / "bark" / "text_2.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights")
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "out")
    app, url = ui.launch(settings, block=False)
    app.show_error = True
    try:
        config = httpx.get(url + "config", timeout=30).json()
        remove = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "do_remove")
        for headers in ({"X-Forwarded-For": "10.0.0.7"}, {"Host": "10.33.0.1:18080"}):
            answer = post_and_wait(httpx, url, remove, ["Bark text"], headers=headers)
            assert "Models cannot be changed from this page" in str(answer["output"].get("error")), (headers, answer)
        assert checkpoint.is_file()
        answer = post_and_wait(httpx, url, remove, ["Bark text"])  # from this machine's browser: the question
        assert answer.get("success") and "Remove it anyway?" in str(answer["output"]["data"]), answer
    finally:
        app.close()
