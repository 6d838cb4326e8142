import pytest
import torch
from conftest import speech_like
from transformers import HubertModel

from hubert_quant.errors import CheckpointError, ModelNotFoundError
from hubert_quant.hubert import Framing, HubertEncoder


@pytest.fixture(scope="module")
def full_model(tiny):
    """The tiny model with all 10 layers, as transformers loads it."""
    return HubertModel.from_pretrained(tiny / "hubert").eval()


def reference_features(model, samples):
    with torch.inference_mode():
        return model(samples[None], output_hidden_states=True).hidden_states[9][0]


@pytest.mark.parametrize("seconds", [0.03, 1.0, 2.37, 6.0])
def test_features_are_hidden_state_9(tiny, full_model, seconds):
    encoder = HubertEncoder.load(tiny / "hubert")
    samples = torch.from_numpy(speech_like(seconds, 16_000))
    features = encoder.features(samples)
    expected = reference_features(full_model, samples)
    assert features.shape == expected.shape == (encoder.framing.n_frames(samples.numel()), 32)
    assert torch.equal(features, expected)


def test_only_nine_layers_are_run(tiny):
    assert len(list(HubertEncoder.load(tiny / "hubert").model.encoder.layers.children())) == 9


def test_framing_matches_hubert_base_front_end(full_model):
    framing = Framing.from_config(full_model.config)
    assert (framing.hop, framing.receptive_field) == (320, 400)
    assert [framing.n_frames(n) for n in (399, 400, 719, 720, 16_000)] == [0, 1, 1, 2, 49]


def test_windows_line_up_with_a_single_pass(tiny, full_model):
    """With context covering the whole input every window sees what a single pass sees,
    so any misalignment of windows shows as a difference."""
    samples = torch.from_numpy(speech_like(3.1, 16_000))
    encoder = HubertEncoder(HubertModel.from_pretrained(tiny / "hubert"), window_seconds=0.3, context_seconds=100)
    encoder.context_frames = 0  # first: plain back-to-back windows still give every frame once
    assert encoder.features(samples).shape == reference_features(full_model, samples).shape
    encoder.context_frames = 1000
    assert torch.equal(encoder.features(samples), reference_features(full_model, samples))


def test_long_input_runs_in_bounded_windows(tiny, full_model, monkeypatch):
    encoder = HubertEncoder(HubertModel.from_pretrained(tiny / "hubert"), window_seconds=1.0, context_seconds=0.5)
    lengths = []
    forward = encoder._forward
    monkeypatch.setattr(encoder, "_forward", lambda s: lengths.append(s.numel()) or forward(s))
    samples = torch.from_numpy(speech_like(7.3, 16_000))
    features = encoder.features(samples)
    single = reference_features(full_model, samples)
    assert features.shape == single.shape
    assert len(lengths) == 8 and max(lengths) <= (100 - 1) * 320 + 400  # 1 s kept + 2 x 0.5 s context
    # Frames away from window edges see nearly the same context as in one pass.
    agreement = torch.nn.functional.cosine_similarity(features, single, dim=-1)
    assert agreement.mean() > 0.9


def test_missing_model_is_explained(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not available.*save_pretrained"):
        HubertEncoder.load(tmp_path / "nothing-here")


def test_pickled_code_in_pytorch_model_bin_is_refused_not_run(tiny, tmp_path):
    import os
    import shutil

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'ran'}",))

    shutil.copy(tiny / "hubert" / "config.json", tmp_path / "config.json")
    torch.save({"x": Payload()}, tmp_path / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="refused to load pytorch_model.bin.*could run code"):
        HubertEncoder.load(tmp_path)
    assert not (tmp_path / "ran").exists()


def test_truncated_safetensors_is_a_clear_error(tiny, tmp_path):
    import shutil

    shutil.copytree(tiny / "hubert", tmp_path / "h")
    data = (tmp_path / "h" / "model.safetensors").read_bytes()
    (tmp_path / "h" / "model.safetensors").write_bytes(data[:5000])
    with pytest.raises(CheckpointError, match="could not be loaded.*download it again"):
        HubertEncoder.load(tmp_path / "h")


# ---- the fast-start copy ------------------------------------------------------------------------------


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from hubert_quant.hubert import traced_dir

    return traced_dir()


def test_the_first_load_keeps_a_traced_copy_that_gives_identical_features(tiny, full_model, own_cache):
    first = HubertEncoder.load(tiny / "hubert")
    assert type(first.model).__name__ == "HubertModel" and len(list(own_cache.glob("*.ts"))) == 1
    again = HubertEncoder.load(tiny / "hubert")
    assert type(again.model).__module__.startswith("torch.jit")  # the copy, not transformers
    for seconds in (0.05, 1.0, 2.37, 13.1, 40.0):  # 40 s: windows, with short ones at the end
        samples = torch.from_numpy(speech_like(seconds, 16_000, seed=int(seconds * 10)))
        assert torch.equal(again.features(samples), first.features(samples)), seconds
        if seconds < 30:
            assert torch.equal(again.features(samples), reference_features(full_model, samples))


def test_a_copy_that_is_stale_writable_by_others_or_damaged_is_not_used(tiny, tmp_path, own_cache):
    import json
    import os
    import shutil

    folder = tmp_path / "hubert"
    shutil.copytree(tiny / "hubert", folder)
    HubertEncoder.load(folder)
    [copy] = own_cache.glob("*.ts")
    os.chmod(copy, 0o666)  # anyone could have changed it
    assert type(HubertEncoder.load(folder).model).__name__ == "HubertModel"
    os.chmod(copy, 0o644)
    assert type(HubertEncoder.load(folder).model).__module__.startswith("torch.jit")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "layer_norm_eps": 1e-4}))  # the model changed
    assert type(HubertEncoder.load(folder).model).__name__ == "HubertModel"  # stale: made again
    copy.write_bytes(b"PK\x03\x04 not a TorchScript archive")
    assert type(HubertEncoder.load(folder).model).__name__ == "HubertModel"  # damaged: the usual way


ONE_SHOT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from hubert_quant import clone_voice
prompt = clone_voice(sys.argv[2], hubert=sys.argv[3], quantizer=sys.argv[4], codec=sys.argv[5], device="cpu")
# transformers' model code (seconds to import); torch 2.1's onnx helpers import the light top package itself.
print(json.dumps({"transformers": "transformers.modeling_utils" in sys.modules, "semantic": prompt.semantic.tolist()}))
"""


@pytest.mark.slow
def test_a_later_process_clones_without_importing_transformers_and_gives_the_same_tokens(tiny, tmp_path):
    import json
    import os
    import subprocess
    import sys

    import soundfile as sf
    from conftest import ROOT

    wav = tmp_path / "voice.wav"
    sf.write(wav, speech_like(4.0, 22_050), 22_050)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    args = [sys.executable, "-c", ONE_SHOT, str(ROOT), str(wav), str(tiny / "hubert"), str(tiny / "quantizer-v1.pth"),
            str(tiny / "encodec_24khz.th")]
    runs = [json.loads(subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout)
            for _ in range(2)]
    assert runs[0]["transformers"] and not runs[1]["transformers"]
    assert runs[0]["semantic"] == runs[1]["semantic"]
