import numpy as np
import pytest
import soundfile as sf
from conftest import speech_like

from hubert_quant import clone_file, clone_voice, load_speaker, models
from hubert_quant.codec import Codec
from hubert_quant.errors import AudioError, CheckpointError
from hubert_quant.hubert import HubertEncoder
from hubert_quant.quantizer import Quantizer
from hubert_quant.speaker import ratio_ok


@pytest.mark.parametrize("quantizer", ["quantizer-v0.pth", "quantizer-v1.pth"])
def test_clone_gives_a_valid_prompt(tiny, tiny_models, voice_wav, quantizer):
    prompt = clone_voice(voice_wav, **{**tiny_models, "quantizer": str(tiny / quantizer)})
    assert ratio_ok(len(prompt.semantic), prompt.fine.shape[1])
    assert abs(prompt.duration - 3.5) < 0.05  # nothing lost beyond ratio trimming
    assert prompt.metadata["quantizer"] == quantizer and prompt.metadata["source"] == "voice.wav"
    assert len(prompt.metadata["source_sha256"]) == 64


def test_same_input_gives_identical_output(tiny_models, voice_wav, tmp_path):
    first = clone_file(voice_wav, tmp_path / "a.npz", **tiny_models)
    models.clear_cache()  # the second run loads everything again
    second = clone_file(voice_wav, tmp_path / "b.npz", **tiny_models)
    a, b = load_speaker(first), load_speaker(second)
    np.testing.assert_array_equal(a.semantic, b.semantic)
    np.testing.assert_array_equal(a.fine, b.fine)


def test_many_files_load_each_model_once(tiny_models, tmp_path, monkeypatch):
    models.clear_cache()
    calls = {"hubert": 0, "quantizer": 0, "codec": 0}

    def counting(kind, loader):
        def wrapped(*args, **kwargs):
            calls[kind] += 1
            return loader(*args, **kwargs)

        return classmethod(lambda cls, *a, **k: wrapped(*a, **k))

    monkeypatch.setattr(HubertEncoder, "load", counting("hubert", HubertEncoder.load))
    monkeypatch.setattr(Quantizer, "load", counting("quantizer", Quantizer.load))
    monkeypatch.setattr(Codec, "load", counting("codec", Codec.load))
    for i in range(4):
        sf.write(tmp_path / f"{i}.wav", speech_like(1.5 + i, 16_000, seed=i), 16_000)
        clone_file(tmp_path / f"{i}.wav", tmp_path / f"{i}.npz", **tiny_models)
    assert calls == {"hubert": 1, "quantizer": 1, "codec": 1}


def test_array_input_equals_file_input(tiny_models, tmp_path):
    x = speech_like(2.5, 16_000)
    sf.write(tmp_path / "x.wav", x, 16_000, subtype="FLOAT")
    from_file = clone_voice(tmp_path / "x.wav", **tiny_models)
    from_array = clone_voice(x, sample_rate=16_000, **tiny_models)
    np.testing.assert_array_equal(from_file.semantic, from_array.semantic)
    np.testing.assert_array_equal(from_file.fine, from_array.fine)


def test_start_end_select_part_of_the_file(tiny_models, voice_wav):
    prompt = clone_voice(voice_wav, start=0.5, end=2.5, **tiny_models)
    assert abs(prompt.duration - 2.0) < 0.05
    assert (prompt.metadata["start"], prompt.metadata["end"]) == (0.5, 2.5)


def test_feature_width_mismatch_is_explained(tiny, tiny_models, voice_wav):
    with pytest.raises(CheckpointError, match="expects 768-wide features but HuBERT gives 32-wide"):
        clone_voice(voice_wav, **{**tiny_models, "quantizer": str(tiny / "quantizer-v0-old.pth")})


def test_bad_audio_fails_before_models_load(tmp_path, monkeypatch):
    monkeypatch.setattr(models.load, "load_hubert", lambda *a, **k: pytest.fail("model loaded for bad input"))
    sf.write(tmp_path / "quiet.wav", np.zeros(48_000, np.float32), 16_000)
    with pytest.raises(AudioError, match="silent"):
        clone_voice(tmp_path / "quiet.wav", device="cpu")
