"""The quantizer against an independent copy of the original architecture and reader."""

import pickle
import shutil
import zipfile

import pytest
import torch
from fixtures import plain_pipeline as plain

from hubert_quant.errors import CheckpointError
from hubert_quant.quantizer import Quantizer, QuantizerConfig

OriginalTokenizer, original_load = plain.OriginalTokenizer, plain.original_load


@pytest.mark.parametrize("name,version,width", [("quantizer-v0.pth", 0, 32), ("quantizer-v1.pth", 1, 32),
                                                 ("quantizer-v0-old.pth", 0, 768)])
def test_tokens_match_original_architecture(tiny, name, version, width):
    ours = Quantizer.load(tiny / name)
    reference = original_load(tiny / name).eval()
    assert ours.config.version == version and ours.config.input_size == width
    torch.manual_seed(1)
    for n_frames in (1, 7, 50, 333):
        features = torch.randn(n_frames, width)
        with torch.no_grad():
            expected = reference.get_token(features)
        assert torch.equal(ours.tokens(features), expected)


def test_old_format_is_version_0_with_default_sizes(tiny):
    model = Quantizer.load(tiny / "quantizer-v0-old.pth")
    assert model.config == QuantizerConfig(768, 1024, 10_000, 0)


def test_near_tie_resolves_like_log_softmax():
    """Two logits one ulp apart become equal after LogSoftmax's shift; the original then picks the lower index."""
    model = Quantizer(QuantizerConfig(input_size=4, hidden_size=4, output_size=16, version=0))
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.fill_(-30.0)
        high = torch.tensor(0.3)
        model.fc.bias[9] = high
        model.fc.bias[2] = torch.nextafter(high, torch.tensor(-1.0))
    logits = model(torch.zeros(1, 4))
    assert logits.argmax(-1).item() == 9  # raw argmax sees the difference ...
    expected = torch.log_softmax(logits, -1).argmax(-1).item()
    assert expected == 2  # the rounding case is really exercised here
    assert model.tokens(torch.zeros(1, 4)).item() == expected  # ... the original may not


def test_save_roundtrip_and_original_reader(tiny, tmp_path):
    model = Quantizer.load(tiny / "quantizer-v1.pth")
    path = model.save(tmp_path / "mine.pth")
    with zipfile.ZipFile(path) as archive:  # the original's layout: everything under the file's stem
        assert "mine/.info" in archive.namelist() and "mine/data.pkl" in archive.namelist()
    again = Quantizer.load(path)
    assert again.config == model.config
    for key, value in model.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)
    # Files get renamed after saving: the .info entry is found by suffix, not by name.
    renamed = tmp_path / "renamed-quantizer.pth"
    shutil.move(path, renamed)
    assert Quantizer.load(renamed).config.version == 1
    reference = original_load(renamed).eval()
    features = torch.randn(40, 32)
    with torch.no_grad():
        assert torch.equal(reference.get_token(features), again.tokens(features))


def test_save_refuses_to_overwrite(tiny, tmp_path):
    model = Quantizer.load(tiny / "quantizer-v0.pth")
    target = tmp_path / "q.pth"
    target.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="--force"):
        model.save(target)
    assert target.read_bytes() == b"mine"
    model.save(target, overwrite=True)
    assert Quantizer.load(target).config.version == 0


class _Payload:
    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pickled_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = _Payload()
    payload.marker = str(marker)
    state = dict(Quantizer(QuantizerConfig(4, 4, 16, 0)).state_dict())
    state["fc.bias"] = payload
    path = tmp_path / "evil.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="refused.*could run code"):
        Quantizer.load(path)
    assert not marker.exists()


def test_truncated_checkpoint(tiny, tmp_path):
    data = (tiny / "quantizer-v0.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pth: not a quantizer checkpoint.*Download it again"):
        Quantizer.load(tmp_path / "cut.pth")


def _with_info(tmp_path, source, info: str, name="edited.pth"):
    path = tmp_path / name
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename.endswith("/.info"):
                content = info.encode()
            dst.writestr(item, content)
    return path


@pytest.mark.parametrize("info,match", [
    ("{not json", "not valid quantizer sizes"),
    ('{"input_size": 32, "hidden_size": 16, "output_size": 10000, "version": 7}', "version must be one of"),
    ('{"input_size": -3, "hidden_size": 16, "output_size": 10000, "version": 0}', "positive integer"),
])
def test_bad_info_json(tiny, tmp_path, info, match):
    with pytest.raises(CheckpointError, match=match):
        Quantizer.load(_with_info(tmp_path, tiny / "quantizer-v0.pth", info))


def test_sizes_that_do_not_match_the_weights(tiny, tmp_path):
    info = '{"input_size": 32, "hidden_size": 64, "output_size": 10000, "version": 0}'
    with pytest.raises(CheckpointError, match=r"lstm\.weight_ih_l0 has shape \(64, 32\).*need \(256, 32\)"):
        Quantizer.load(_with_info(tmp_path, tiny / "quantizer-v0.pth", info))


def test_version_1_labelled_version_0(tiny, tmp_path):
    info = '{"input_size": 32, "hidden_size": 16, "output_size": 10000, "version": 0}'
    with pytest.raises(CheckpointError, match="'intermediate' layer .*labelled version 0"):
        Quantizer.load(_with_info(tmp_path, tiny / "quantizer-v1.pth", info))


def test_not_a_state_dict(tmp_path):
    torch.save([torch.zeros(3)], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="expected a state_dict"):
        Quantizer.load(tmp_path / "list.pth")


def test_pickle_module_is_not_a_loophole(tmp_path):
    """A plain pickle (not a torch zip) is refused before anything is unpickled."""
    (tmp_path / "raw.pth").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(CheckpointError):
        Quantizer.load(tmp_path / "raw.pth")


@pytest.fixture
def small_windows(monkeypatch):
    """Windows of 50 frames after 20 of context, 3 side by side, on a tiny LSTM that records its calls."""
    import hubert_quant.quantizer as module

    monkeypatch.setattr(module, "WINDOW_FRAMES", 50)
    monkeypatch.setattr(module, "CONTEXT_FRAMES", 20)
    monkeypatch.setattr(module, "WINDOWS_PER_BATCH", 3)
    torch.manual_seed(3)
    model = Quantizer(QuantizerConfig(input_size=8, hidden_size=16, output_size=40, version=1)).eval()
    calls = []
    model.lstm.register_forward_hook(lambda _module, args, _out: calls.append(tuple(args[0].shape)))
    return model, calls


@pytest.mark.parametrize("n_frames", [71, 150, 437, 451])
def test_long_input_runs_in_windows_side_by_side(small_windows, n_frames):
    model, calls = small_windows
    features = torch.randn(n_frames, 8)
    with torch.no_grad():
        hidden = model.hidden(features)
        one_pass = model.lstm(features)[0]
        # Each window alone, from its context's first frame: what the batch must give, padding and all.
        for first in range(0, n_frames, 50):
            lo, last = max(0, first - 20), min(first + 50, n_frames)
            alone = model.lstm(features[lo:last])[0][first - lo :]
            torch.testing.assert_close(hidden[first:last], alone, rtol=1e-5, atol=1e-6)
    windows = -(-n_frames // 50)
    batched = calls[: -(-windows // 3)]
    assert sum(shape[0] for shape in batched) == windows  # every window once ...
    assert all(shape[0] <= 3 and shape[1] <= 70 for shape in batched)  # ... at most 3 at a time: memory is bounded
    # ... shared out evenly: each batch costs as many steps as its longest window, so 10 windows go as 3, 3, 2, 2
    assert max(shape[0] for shape in batched) - min(shape[0] for shape in batched) <= 1
    # After 20 frames of context this LSTM's state has nearly forgotten where it started (a window
    # stitched one frame off would be off by a whole frame's output, around 0.1).
    torch.testing.assert_close(hidden, one_pass, rtol=0, atol=1e-3)


def test_input_up_to_window_and_context_is_one_pass(small_windows):
    model, calls = small_windows
    reference = OriginalTokenizer(16, 8, 40, version=1)
    reference.load_state_dict(model.state_dict())
    features = torch.randn(70, 8)
    with torch.no_grad():
        expected = reference.eval().get_token(features)
    assert torch.equal(model.tokens(features), expected)  # the original's tokens, exactly
    assert calls == [(70, 8)]  # one unbatched pass
