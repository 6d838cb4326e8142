"""The input budget (hubert_quant/audio.py): every audio file is sized from its header and refused
over the limits before decoding, decoded in blocks (downmixed and resampled per block), never
opened when it is not a regular file; and it is the only code that opens audio."""

from __future__ import annotations

import ast
import os
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, run_cli, speech_like
from test_architecture import MODULES

from hubert_quant import audio
from hubert_quant.audio import AudioLimits, BlockResampler, audio_info, load_audio, resample
from hubert_quant.errors import AudioError

GROWTH_MB = 200  # what decoding may add to a process's peak, whatever the file


def wav_header(rate: int, channels: int, data_bytes: int, bits: int = 16) -> bytes:
    """A PCM wav header declaring ``data_bytes`` of samples (the truth is up to the caller)."""
    block = channels * bits // 8
    riff = min(0xFFFFFFFF, 36 + data_bytes)
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate,
            rate * block, block, bits) + b"data" + struct.pack("<I", min(0xFFFFFFFF, data_bytes)))


def sparse_wav(path: Path, rate: int, channels: int, size: int) -> Path:
    """A wav of ``size`` bytes whose samples are a hole (no disk used): an honest, huge header."""
    with open(path, "wb") as f:
        f.write(wav_header(rate, channels, size - 44))
        f.truncate(size)
    return path


def constant_flac(path: Path, rate: int, channels: int, seconds: int, total: int | None = None) -> Path:
    """A FLAC of a constant signal: tiny on disk, huge decoded; STREAMINFO's length set to ``total``."""
    with sf.SoundFile(path, "w", rate, channels, subtype="PCM_16", format="FLAC") as f:
        block = np.full((rate, channels), 0.25, dtype=np.float32)
        for _ in range(seconds):
            f.write(block)
    if total is not None:
        data = bytearray(path.read_bytes())
        field = int.from_bytes(data[18:26], "big")  # STREAMINFO: the low 36 bits are the total samples
        data[18:26] = ((field & ~((1 << 36) - 1)) | total).to_bytes(8, "big")
        path.write_bytes(bytes(data))
    return path


# ---- the header is checked first, against limits, in every front end -------------------------------


@pytest.mark.parametrize("rate, channels, seconds, limits, named", [
    (96_000, 1, 1.0, AudioLimits(max_rate=48_000), "max_rate"),
    (8_000, 8, 1.0, AudioLimits(max_channels=6), "max_channels"),
    (8_000, 40, 0.5, AudioLimits(), "max_channels"),
    (16_000, 1, 3.0, AudioLimits(max_hours=2 / 3600), "max_hours"),
    (11_025, 2, 4.0, AudioLimits(max_hours=3 / 3600), "max_hours"),
])
def test_a_header_over_a_limit_is_refused_before_decoding(tmp_path, monkeypatch, rate, channels, seconds, limits,
                                                           named):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros((int(rate * seconds), channels), np.float32) + 0.1, rate)
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: pytest.fail("decoded before the header was checked"))
    for call in (lambda: audio_info(path, limits), lambda: load_audio(path, limits=limits),
                 lambda: load_audio(path, rate=16_000, limits=limits)):
        with pytest.raises(AudioError, match=rf"limits=AudioLimits\({named}=N\)") as e:
            call()
        assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_the_defaults_admit_real_recordings():
    """Several hours, every common rate up to 384 kHz, and multichannel recordings."""
    limits = audio.DEFAULT_LIMITS
    assert limits.max_hours >= 4 and limits.max_rate >= 384_000 and limits.max_channels >= 16


def test_a_sparse_2_gb_wav_is_refused_from_its_header(tmp_path):
    path = sparse_wav(tmp_path / "sparse.wav", 8_000, 1, 2 * 10**9)  # 34.7 hours of 16-bit samples
    with pytest.raises(AudioError, match=r"header says 34\.7 hours.*6-hour limit.*max_hours"):
        load_audio(path)


@pytest.mark.parametrize("declared", [0x7FFF0000, 0xFFFFFFFF, 10**9])
def test_a_wav_header_claiming_more_than_the_file_holds_gives_what_it_holds(tmp_path, declared):
    x = speech_like(1.0, 16_000)
    path = tmp_path / "liar.wav"
    path.write_bytes(wav_header(16_000, 1, declared) + (x * 32767).astype("<i2").tobytes())
    samples, rate = load_audio(path)
    assert rate == 16_000 and len(samples) == 16_000


def test_a_flac_declaring_2386_hours_is_refused_and_one_declaring_fewer_frames_stops_there(tmp_path):
    huge = constant_flac(tmp_path / "huge.flac", 8_000, 2, 3, total=(1 << 36) - 1)
    with pytest.raises(AudioError, match="header says 2386.1 hours"):
        load_audio(huge)
    short = constant_flac(tmp_path / "short.flac", 8_000, 2, 3, total=1000)
    assert len(load_audio(short)[0]) == 1000


def test_data_past_the_limit_is_not_decoded_when_the_header_cannot_tell(tmp_path, monkeypatch):
    """A length the header does not know (a stream) is checked while decoding: reading stops at the limit."""
    path = tmp_path / "x.wav"
    sf.write(path, np.full(16_000 * 5, 0.1, np.float32), 16_000)
    monkeypatch.setattr(audio, "UNKNOWN_FRAMES", 1)  # as libsndfile says of a stream of unknown length
    monkeypatch.setattr(audio, "BLOCK_VALUES", 4096)
    with pytest.raises(AudioError, match="holds more than.*max_hours"):
        load_audio(path, limits=AudioLimits(max_hours=2 / 3600))
    assert len(load_audio(path, limits=AudioLimits(max_hours=6 / 3600))[0]) == 16_000 * 5


# ---- what is not a regular file is named, never opened ---------------------------------------------


def _not_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "folder.wav").mkdir()
    os.mkfifo(tmp_path / "pipe.wav")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock.wav"))
    links = {"link-to-folder.wav": tmp_path / "folder.wav", "link-to-pipe.wav": tmp_path / "pipe.wav",
             "link-to-zero.wav": Path("/dev/zero")}
    for name, target in links.items():
        (tmp_path / name).symlink_to(target)
    return {
        "folder": (tmp_path / "folder.wav", "is a folder"),
        "fifo": (tmp_path / "pipe.wav", "named pipe"),
        "socket": (tmp_path / "sock.wav", "socket"),
        "/dev/zero": (Path("/dev/zero"), "is a device"),
        "/dev/null": (Path("/dev/null"), "is a device"),
        "link to a folder": (tmp_path / "link-to-folder.wav", "is a folder"),
        "link to a fifo": (tmp_path / "link-to-pipe.wav", "named pipe"),
        "link to /dev/zero": (tmp_path / "link-to-zero.wav", "is a device"),
        "missing": (tmp_path / "missing.wav", "no such file"),
        "dangling link": (tmp_path / "dangling.wav", "no such file"),
    }


def test_folders_fifos_devices_and_sockets_are_named_not_opened(tmp_path):
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    for what, (path, words) in _not_files(tmp_path).items():
        for call in (audio_info, load_audio, lambda p: audio.ends_loud(p, 0, 1)):
            with pytest.raises(AudioError, match=words) as e:
                call(path)
            assert "\n" not in str(e.value), what


def test_a_path_swapped_for_a_fifo_after_the_check_does_not_hang(tmp_path, monkeypatch):
    """The open itself refuses what is not a regular file (O_NONBLOCK, then fstat): no race window."""
    os.mkfifo(tmp_path / "pipe.wav")
    monkeypatch.setattr(audio, "check_file", lambda path: Path(path))  # as if the swap came after it
    with pytest.raises(AudioError, match="named pipe"):
        load_audio(tmp_path / "pipe.wav")


def test_the_command_line_names_what_the_input_is(tmp_path):
    _not_files(tmp_path)
    for path, words in [(tmp_path / "folder.wav", "is a folder"), (tmp_path / "pipe.wav", "named pipe"),
                        (Path("/dev/zero"), "is a device")]:
        result = run_cli("clone", str(path), "--out", str(tmp_path / "out.npz"), "--device", "cpu")
        assert result.returncode == 1
        assert words in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# ---- decoding in blocks equals decoding whole --------------------------------------------------------


@pytest.mark.parametrize("rate", [8_000, 11_025, 22_050, 44_100, 48_000, 96_000, 192_000])
@pytest.mark.parametrize("target", [16_000, 24_000])
def test_block_resampling_equals_a_whole_resample(rate, target):
    import torch
    import torchaudio.functional as AF

    x = np.random.default_rng(rate).standard_normal(rate * 2 + 77).astype(np.float32)
    whole = AF.resample(torch.from_numpy(x), rate, target).numpy()
    for block in (999, 8192, 10**6):
        resampler = BlockResampler(rate, target)
        pieces = [resampler.push(x[i : i + block]) for i in range(0, len(x), block)] + [resampler.finish()]
        np.testing.assert_allclose(np.concatenate(pieces), whole, atol=2e-6, rtol=0)


@pytest.mark.parametrize("rate, channels", [(8_000, 1), (22_050, 2), (44_100, 6), (48_000, 2), (96_000, 8)])
def test_a_file_decoded_in_blocks_equals_the_whole_file_decoded(tmp_path, monkeypatch, rate, channels):
    x = np.stack([speech_like(3.0, rate, seed=c) * (0.5 + 0.1 * c) for c in range(channels)], axis=1)
    path = tmp_path / "x.flac"
    sf.write(path, x, rate, subtype="PCM_24")
    whole = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1)
    monkeypatch.setattr(audio, "BLOCK_VALUES", 5000)  # many blocks, edges everywhere
    native, got_rate = load_audio(path)
    assert got_rate == rate
    np.testing.assert_array_equal(native, whole)
    np.testing.assert_allclose(load_audio(path, rate=16_000)[0], resample(whole, rate, 16_000).numpy(), atol=2e-6)
    part = load_audio(path, start=0.5, end=2.0, rate=24_000)[0]
    first, last = round(0.5 * rate), round(2.0 * rate)
    np.testing.assert_allclose(part, resample(whole[first:last], rate, 24_000).numpy(), atol=2e-6)


@pytest.mark.parametrize("rate, target", [(100, 16_000), (1_000, 16_000), (8_000, 48_000), (192_000, 16_000)])
def test_no_block_given_out_is_larger_than_a_block_read_however_far_it_is_resampled(tmp_path, rate, target):
    """A few KB of FLAC at 100 Hz hold hours, and each sample becomes 160 at 16 kHz: the blocks read shrink
    so that each block given out stays near BLOCK_VALUES (one 2M-sample block once gave out 320M)."""
    path = tmp_path / "low.flac"
    sf.write(path, np.full(max(3 * audio.BLOCK_VALUES * rate // target, 5 * rate), 0.1, np.float32), rate,
             subtype="PCM_16")
    sizes = [len(block) for block in audio.read_blocks(path, rate=target)]
    assert len(sizes) >= 3 and max(sizes) <= audio.BLOCK_VALUES * 1.01, sizes[:5]


def test_an_odd_rate_does_not_need_a_huge_filter():
    """44101 Hz to 16 kHz has no common factor: torchaudio's filter would be 2.8 GB. It is read as 44100 Hz."""
    assert audio.resampling_rate(44_101, 16_000) == 44_100
    assert audio.resampling_rate(44_100, 16_000) == 44_100
    out = resample(np.ones(44_101, np.float32), 44_101, 16_000)
    assert abs(len(out) - 16_000) <= 1


# ---- memory: measured in a fresh process -------------------------------------------------------------


def peak_growth_mb(code: str, tmp_path: Path) -> float:
    """How far ``code`` raises a fresh process's peak resident size above where its imports left it."""
    script = textwrap.dedent(f"""
        import resource, sys
        import numpy, torch, torchaudio.functional, soundfile
        import hubert_quant.audio, hubert_quant.segment, hubert_quant.waveform
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        {code}
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) / 1024)
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    return float(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def big_flac(tmp_path_factory) -> Path:
    """2 minutes at 192 kHz, 8 channels: 200 KB on disk, 737 MB as float32 samples."""
    return constant_flac(tmp_path_factory.mktemp("flac") / "big.flac", 192_000, 8, 120)


@pytest.mark.parametrize("what, code", [
    ("16 kHz decode", "hubert_quant.audio.load_audio('big.flac', rate=16000)"),
    ("native decode", "hubert_quant.audio.load_audio('big.flac')"),
    ("clip hint's end check", "hubert_quant.audio.ends_loud('big.flac', 0, 1e9)"),
    ("waveform", "hubert_quant.waveform.file_envelope('big.flac')"),
    ("analysis reading", "hubert_quant.segment.read_16k('big.flac')"),
])
def test_decoding_memory_depends_on_the_block_not_the_file(big_flac, tmp_path, what, code):
    (tmp_path / "big.flac").symlink_to(big_flac)
    assert peak_growth_mb(code, tmp_path) < GROWTH_MB, what


# ---- the limits in each front end ---------------------------------------------------------------------


@pytest.fixture
def stereo_96k(tmp_path) -> Path:
    path = tmp_path / "take.wav"
    sf.write(path, np.stack([speech_like(2.0, 96_000)] * 2, axis=1), 96_000)
    return path


def test_the_api_refuses_with_its_keyword(stereo_96k):
    from hubert_quant import clone_voice

    with pytest.raises(AudioError, match=r"96000 Hz is over the 48000 Hz limit.*limits=AudioLimits\(max_rate=N\)"):
        clone_voice(stereo_96k, limits=AudioLimits(max_rate=48_000), device="cpu")
    with pytest.raises(AudioError, match="max_channels"):
        clone_voice(stereo_96k, segment="auto", limits=AudioLimits(max_channels=1), device="cpu")


@pytest.mark.parametrize("args, option", [
    (["--max-audio-rate", "48000"], "--max-audio-rate N"),
    (["--max-audio-channels", "1"], "--max-audio-channels N"),
    (["--max-audio-hours", "0.0003"], "--max-audio-hours N"),
    (["--max-audio-hours", "0.0003", "--auto"], "--max-audio-hours N"),
])
def test_the_command_line_refuses_in_one_line_naming_its_option(stereo_96k, tmp_path, args, option):
    result = run_cli("clone", str(stereo_96k), "--out", str(tmp_path / "out.npz"), "--device", "cpu", *args)
    assert result.returncode == 1
    assert option in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("args, option", [(["--max-audio-rate", "48000"], "--max-audio-rate N"),
                                          (["--max-audio-hours", "0.0003"], "--max-audio-hours N")])
def test_say_refuses_a_reference_recording_in_one_line_naming_its_option(stereo_96k, tmp_path, args, option):
    """say --reference reads its recording through the same budget, before Bark loads."""
    (tmp_path / "t.txt").write_text("Hello there. " * 30, encoding="utf-8")
    result = run_cli("say", "--text-file", str(tmp_path / "t.txt"), "--takes", "2", "--reference", str(stereo_96k),
                     "--out", str(tmp_path / "out.wav"), "--device", "cpu", *args)
    assert result.returncode == 1 and "loading Bark" not in result.stderr
    assert option in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_the_app_refuses_with_the_apps_option(stereo_96k, tmp_path):
    import gradio as gr

    from hubert_quant import ui
    from hubert_quant.ui.common import APP_LIMIT

    settings = ui.Settings(speakers_dir=tmp_path / "speakers", device="cpu",
                           audio_limits=AudioLimits(max_channels=1, raise_with=APP_LIMIT))
    with pytest.raises(gr.Error, match="hubert-quant ui --max-audio-channels N") as e:
        ui.do_pick(str(stereo_96k), settings=settings, progress=lambda *a, **k: None)
    assert str(stereo_96k.parent) not in str(e.value)
    hint = ui.clip_hint(str(stereo_96k), 0, 0, settings)
    assert "--max-audio-channels" in hint and str(stereo_96k.parent) not in hint
    assert ui.clip_picture(str(stereo_96k), 0, 0, settings=settings) is None
    assert "max-audio-hours" in ui.Settings().audio_limits.how_to_raise("max_hours")


# ---- a long recording is not cloned whole ---------------------------------------------------------------


def test_a_long_recording_without_a_part_is_refused_before_models_load(tmp_path, monkeypatch):
    from hubert_quant import clone_voice, models

    path = tmp_path / "talk.wav"
    with sf.SoundFile(path, "w", 8_000, 1, subtype="PCM_16") as f:
        for _ in range(11):
            f.write(speech_like(60.0, 8_000))
    monkeypatch.setattr(models.load, "load_hubert", lambda *a, **k: pytest.fail("model loaded for a refused input"))
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **k: pytest.fail("decoded a part that is refused"))
    with pytest.raises(AudioError, match=r"11 minutes is too long to clone whole.*--auto.*--start/--end"):
        clone_voice(path, device="cpu")
    with pytest.raises(AudioError, match="too long to clone whole"):
        clone_voice(path, start=10, device="cpu")
    with pytest.raises(AudioError, match="too long to clone whole"):
        clone_voice(np.zeros(8_000 * 601, np.float32) + 0.1, sample_rate=8_000, device="cpu")


def test_a_part_of_a_long_recording_is_cloned(tiny_models, tmp_path):
    from hubert_quant import clone_voice

    path = tmp_path / "talk.wav"
    with sf.SoundFile(path, "w", 8_000, 1, subtype="PCM_16") as f:
        for _ in range(11):
            f.write(speech_like(60.0, 8_000))
    prompt = clone_voice(path, start=300, end=303, **tiny_models)
    assert abs(prompt.duration - 3.0) < 0.05


# ---- one way in -------------------------------------------------------------------------------------------


READERS = {"read", "info", "SoundFile", "blocks", "load"}  # soundfile's and torchaudio's ways to open audio


def test_only_audio_py_opens_audio_files():
    """Nothing else calls soundfile's or torchaudio's readers (writing a wav is files' business)."""
    allowed = {"hubert_quant.audio",
               "hubert_quant.training.sources"}  # decode_audio: moving onto audio.load_audio(data=...) (h4)
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                   for a in node.names if a.name in ("soundfile", "torchaudio")}
        aliases |= {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and (node.module or "").startswith(("soundfile", "torchaudio")) for a in node.names
                    if a.name in READERS}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in READERS and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases:
                found.append(f"{name}: {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Name) and node.id in READERS and node.id in aliases:
                found.append(f"{name}: {node.id}")
    assert not [f for f in found if f.split(":")[0] not in allowed], found


def test_masking_reads_at_hubert_rate_and_refuses_a_long_recording_from_its_header(tmp_path, monkeypatch):
    """mask_voice decoded the whole file at its own rate (3 min at 384 kHz: +528 MB; 6 hours: ~60 GB)."""
    from hubert_quant.bark.mask import mask_voice
    from hubert_quant.clone import read_speech

    flac = constant_flac(tmp_path / "high.flac", 384_000, 1, 20)
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("rate"))
        raise RuntimeError("read no further")

    with monkeypatch.context() as patch:
        patch.setattr("hubert_quant.clone.load_audio", spy)
        with pytest.raises(RuntimeError, match="read no further"):
            mask_voice(flac)
    assert seen == [16_000]  # asked at HuBERT's rate, not the file's 384 kHz
    samples, rate, _, _ = read_speech(constant_flac(tmp_path / "loud.flac", 384_000, 1, 3, total=None), rate=16_000)
    assert rate == 16_000 and len(samples) == 3 * 16_000
    long = sparse_wav(tmp_path / "long.wav", 8_000, 1, 8_000 * 2 * 660)  # 11 minutes, nothing decoded
    with pytest.raises(AudioError, match="11 minutes is more than this takes at once"):
        mask_voice(long)
