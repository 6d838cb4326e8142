import huggingface_hub.constants
import pytest
from conftest import fake_hub_cache

from hubert_quant import models
from hubert_quant.errors import ModelNotFoundError


def test_catalogue_has_the_nine_quantizers():
    entries = models.catalogue()
    assert len(entries) == 9
    large = models.find_quantizer("large english")
    assert (large.repo, large.file, large.quant_version, large.dlfilename) == (
        "GitMylo/bark-voice-cloning", "quantifier_V1_hubert_base_ls960_23.pth", 1, "tokenizer_large.pth")


@pytest.mark.parametrize("name", ["German", "GERMAN", "german-HuBERT-quantizer_14_epoch.pth", "tokenizer_ger.pth"])
def test_names_match_case_insensitively(name):
    assert models.find_quantizer(name).repo == "CountFloyd/bark-voice-cloning-german-HuBERT-quantizer"


def test_unknown_name_lists_known_ones():
    with pytest.raises(ModelNotFoundError, match="neither a file nor a known name.*Large English.*Italian"):
        models.resolve_quantizer("Klingon")


def test_missing_download_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="hf download GitMylo/bark-voice-cloning quantifier_V1"):
        models.resolve_quantizer(None)


def test_cached_download_is_found(tiny, tmp_path, monkeypatch):
    # huggingface_hub reads HF_HUB_CACHE once, at import; a process started with it set
    # (see test_readme) sees the same as this.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", fake_hub_cache(tiny, tmp_path)["HF_HUB_CACHE"])
    path = models.resolve_quantizer("Large English")
    assert path.name == "quantifier_V1_hubert_base_ls960_23.pth" and path.is_file()


def test_local_path_wins(tiny):
    assert models.resolve_quantizer(tiny / "quantizer-v0.pth") == tiny / "quantizer-v0.pth"


def test_device_names_are_checked():
    assert models.resolve_device("cpu") == "cpu"
    assert models.resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        models.resolve_device("tpu")


def test_a_replaced_file_is_loaded_afresh(tiny, tmp_path):
    import os
    import shutil

    path = tmp_path / "q.pth"
    shutil.copy(tiny / "quantizer-v0.pth", path)
    first = models.load_quantizer(path, device="cpu")
    assert models.load_quantizer(path, device="cpu") is first
    shutil.copy(tiny / "quantizer-v1.pth", path)
    os.utime(path, ns=(1, 1))
    assert models.load_quantizer(path, device="cpu").config.version == 1
