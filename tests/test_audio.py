import numpy as np
import pytest
import soundfile as sf
from conftest import speech_like

from hubert_quant.audio import MIN_SECONDS, check_speech, load_audio, resample
from hubert_quant.errors import AudioError


@pytest.mark.parametrize("sample_rate", [8_000, 16_000, 44_100, 48_000])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_wav_any_rate_channels_depth_loads_as_mono_float(tmp_path, sample_rate, channels, subtype):
    x = speech_like(1.5, sample_rate)
    data = np.stack([x] * channels, axis=1) if channels > 1 else x
    path = tmp_path / "in.wav"
    sf.write(path, data, sample_rate, subtype=subtype)

    samples, rate = load_audio(path)

    assert rate == sample_rate
    assert samples.dtype == np.float32 and samples.ndim == 1 and samples.size == x.size
    assert np.abs(samples - x).max() < 1e-3  # 16-bit quantisation is the only loss


def test_stereo_is_averaged(tmp_path):
    left, right = speech_like(1.5, 16_000), speech_like(1.5, 16_000, seed=1)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16_000, subtype="FLOAT")
    samples, _ = load_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(samples, (left + right) / 2, atol=1e-6)


@pytest.mark.parametrize(
    "ext,fmt,subtype", [("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"), ("mp3", "MP3", None)]
)
def test_compressed_formats_decode(tmp_path, ext, fmt, subtype):
    x = speech_like(2.0, 44_100)
    path = tmp_path / f"in.{ext}"
    sf.write(path, x, 44_100, format=fmt, subtype=subtype)
    samples, rate = load_audio(path)
    assert rate == 44_100
    assert abs(samples.size - x.size) < 0.1 * x.size  # mp3 pads a little
    assert np.abs(samples).max() > 0.1


def test_trim_reads_only_the_range(tmp_path):
    x = speech_like(4.0, 16_000)
    sf.write(tmp_path / "a.wav", x, 16_000, subtype="FLOAT")
    samples, _ = load_audio(tmp_path / "a.wav", start=1.0, end=2.5)
    np.testing.assert_array_equal(samples, x[16_000:40_000])
    tail, _ = load_audio(tmp_path / "a.wav", start=3.0)
    np.testing.assert_array_equal(tail, x[48_000:])


@pytest.mark.parametrize(
    "start,end,match", [(5.0, None, "past the end"), (2.0, 1.0, "must be after start"), (-1.0, None, ">= 0")]
)
def test_bad_trim_range_is_explained(tmp_path, start, end, match):
    sf.write(tmp_path / "a.wav", speech_like(4.0, 16_000), 16_000)
    with pytest.raises(AudioError, match=match):
        load_audio(tmp_path / "a.wav", start=start, end=end)


def test_unreadable_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio")
    with pytest.raises(AudioError, match=r"notes\.wav: cannot decode.*wav, flac, ogg or mp3"):
        load_audio(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16_000)
    with pytest.raises(AudioError, match="contains no audio"):
        load_audio(tmp_path / "empty.wav")


def test_silent_audio():
    with pytest.raises(AudioError, match="silent"):
        check_speech(np.zeros(32_000, np.float32), 16_000)


def test_too_short_says_the_minimum():
    with pytest.raises(AudioError, match=rf"0\.50 s long; at least {MIN_SECONDS:.1f} s"):
        check_speech(speech_like(0.5, 16_000), 16_000)


def test_nan_samples():
    x = speech_like(2.0, 16_000)
    x[100] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        check_speech(x, 16_000)


def test_speech_passes():
    check_speech(speech_like(2.0, 16_000), 16_000)


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_resample_lengths(rate):
    x = speech_like(2.0, rate)
    assert resample(x, rate, 16_000).shape[0] == 32_000
    assert resample(x, rate, 24_000).shape[0] == 48_000
