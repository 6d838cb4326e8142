"""The app under concurrent load, and what it exposes to the network.

The standalone app's HTTP surface (Gradio 4+ routes, gradio_client 1+): these run in the
standalone stack; inside a host, the host's own server is what is exposed.
"""

import hashlib
import json
import os
import subprocess
import sys

import gradio as gr
import httpx
import numpy as np
import pytest
import soundfile as sf
from conftest import speech_like

from hubert_quant import library, ui

pytestmark = pytest.mark.standalone

CLIENTS, CLONES_EACH = 8, 10

LOAD = r"""
import hashlib, json, sys, threading
from gradio_client import Client, handle_file
url, folder, clients, each = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
results, errors = [], []
def user(i):
    client = Client(url, verbose=False)
    wav = f"{folder}/user{i}.wav"
    for j in range(each):
        try:
            path, status = client.predict(handle_file(wav), 0, 0, "Large English", f"u{i}-{j}", True, api_name="/clone")
            results.append({"user": i, "name": f"u{i}-{j}", "path": path, "status": status})
        except Exception as e:
            errors.append(f"{i}-{j}: {e}")
threads = [threading.Thread(target=user, args=(i,)) for i in range(clients)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps({"results": results, "errors": errors}))
"""


@pytest.fixture
def app(tiny, tmp_path):
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", device="cpu", quantizer=str(tiny / "quantizer-v1.pth"),
                           hubert=str(tiny / "hubert"), codec=str(tiny / "encodec_24khz.th"),
                           outputs_dir=tmp_path / "outputs", max_upload_mb=1)
    blocks, url = ui.launch(settings, block=False)
    yield url, settings
    blocks.close()


def rss_mb() -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS:")) / 1024


@pytest.mark.slow
def test_eight_clients_ten_clones_each_nothing_mixed_up(app, tmp_path):
    url, settings = app
    digests = {}
    for i in range(CLIENTS):
        sf.write(tmp_path / f"user{i}.wav", speech_like(2.0 + 0.1 * i, 16_000, seed=100 + i), 16_000)
        digests[i] = hashlib.sha256((tmp_path / f"user{i}.wav").read_bytes()).hexdigest()
    before = rss_mb()
    run = subprocess.run([sys.executable, "-c", LOAD, url, str(tmp_path), str(CLIENTS), str(CLONES_EACH)],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["errors"] == [] and len(report["results"]) == CLIENTS * CLONES_EACH
    speakers = {s.name: s for s in library.list_speakers(settings.speakers_dir)}
    assert len(speakers) == CLIENTS * CLONES_EACH
    for result in report["results"]:
        with np.load(settings.speakers_dir / f"{result['name']}.npz") as npz:
            meta = json.loads(bytes(npz["hubert_quant_metadata"]).decode())
        assert meta["source_sha256"] == digests[result["user"]], result  # each user got their own voice
        assert f"Saved **{result['name']}**" in result["status"]
    assert rss_mb() - before < 1_000  # 80 clones later, memory has not grown without bound
    assert httpx.get(url, timeout=30).status_code == 200  # and the app still answers


def test_listens_on_loopback_only_by_default(app):
    url, _ = app
    assert url.startswith("http://127.0.0.1:")


def test_the_start_line_names_our_options_not_gradios(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gr.Blocks, "block_thread", lambda self: None)  # return instead of serving forever
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", device="cpu", outputs_dir=tmp_path / "outputs")
    app, url = ui.launch(settings, block=True)
    try:
        out = capsys.readouterr()
        assert f"hubert-quant app on {url}" in out.err and "--listen or --share" in out.err
        assert "share=True" not in out.out + out.err
    finally:
        app.close()


def test_listen_flag_warns(monkeypatch, capsys, tmp_path):
    from hubert_quant import cli

    seen = {}
    monkeypatch.setattr(ui, "launch", lambda settings, **kw: seen.update(kw))
    assert cli.main(["ui", "--listen", "--speakers-dir", str(tmp_path)]) == 0
    assert seen["listen"] is True
    assert "warning: the app will be reachable from other machines" in capsys.readouterr().err


def test_uploads_over_the_limit_are_refused(app, tmp_path):
    url, _ = app
    big = tmp_path / "big.wav"
    sf.write(big, np.zeros(1_000_000, np.float32), 16_000, subtype="FLOAT")  # 4 MB, limit 1 MB
    with open(big, "rb") as f:
        answer = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.wav", f, "audio/wav")}, timeout=60)
    assert answer.status_code in (400, 413)
    between = tmp_path / "between.bin"
    between.write_bytes(b"\0" * 1_020_000)  # over 1 MB, under 1 MiB: the limit is in MB everywhere
    with open(between, "rb") as f:
        answer = httpx.post(f"{url}gradio_api/upload", files={"files": ("between.wav", f, "audio/wav")}, timeout=60)
    assert answer.status_code in (400, 413)


def test_many_files_each_under_the_limit_are_refused_as_one_request_over_it(app):
    url, _ = app  # limit: 1 MB a file, and so about that per request
    one = [("files", (f"part{i}.wav", b"\0" * 600_000, "audio/wav")) for i in range(1)]
    assert httpx.post(f"{url}gradio_api/upload", files=one, timeout=60).status_code == 200
    many = [("files", (f"part{i}.wav", b"\0" * 600_000, "audio/wav")) for i in range(5)]  # 3 MB in all
    answer = httpx.post(f"{url}gradio_api/upload", files=many, timeout=60)
    assert answer.status_code == 413 and "--max-upload-mb" in answer.json()["detail"]

    def chunks():  # the same files sent without a Content-Length: counted as they arrive
        for i in range(5):
            yield (f'--b\r\nContent-Disposition: form-data; name="files"; filename="part{i}.wav"\r\n'
                   "Content-Type: audio/wav\r\n\r\n").encode()
            yield from [b"\0" * 100_000] * 6
            yield b"\r\n"
        yield b"--b--\r\n"

    streamed = httpx.post(f"{url}gradio_api/upload", content=chunks(), timeout=60,
                          headers={"content-type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413


def test_files_outside_the_apps_folders_are_not_served(app):
    url, settings = app
    for path in ("/etc/passwd", os.path.abspath(__file__), f"{settings.speakers_dir}/../../../etc/passwd"):
        answer = httpx.get(f"{url}gradio_api/file={path}", timeout=30)
        assert answer.status_code in (403, 404), path


def test_uploads_are_deleted_once_they_age_out(tmp_path):
    import time

    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "outputs", upload_max_age_s=1)
    blocks, url = ui.launch(settings, block=False)
    try:
        answer = httpx.post(f"{url}gradio_api/upload", files={"files": ("a.wav", b"RIFF" + b"\0" * 1000, "audio/wav")},
                            timeout=30)
        uploaded = answer.json()[0]
        assert os.path.isfile(uploaded)
        deadline = time.time() + 60  # the sweep runs every second here; a minute is plenty on a loaded machine
        while os.path.exists(uploaded) and time.time() < deadline:
            time.sleep(0.5)
        assert not os.path.exists(uploaded)
    finally:
        blocks.close()


def test_the_library_folder_itself_is_not_served(app):
    """Speakers reach the page as copies; a file someone put in the library is not served by its path."""
    url, settings = app
    for name in ("secret.txt", "Alice.npz", ".hubert-quant.lock"):
        (settings.speakers_dir / name).write_bytes(b"not for visitors")
        answer = httpx.get(f"{url}gradio_api/file={settings.speakers_dir / name}", timeout=30)
        assert answer.status_code in (403, 404), name
