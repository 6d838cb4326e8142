"""Awkward inputs and injected faults: each either works or fails with a readable error.

Nothing is lost (no partial file becomes visible, nothing the user made is replaced) and
nothing from a file is executed. Long property runs use HYPOTHESIS_PROFILE=long.
"""

import hashlib
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, run_cli, speech_like
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubert_quant import clone_voice, library, save_speaker
from hubert_quant.cli.common import one_line
from hubert_quant.errors import HubertQuantError, OutOfMemory, SpeakerFileError
from hubert_quant.speaker import load_speaker, make_prompt

settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def awkward_files(folder):
    """name -> path of files that tools get fed in practice."""
    x = speech_like(3.0, 16_000)
    files = {}

    def wav(name, data, rate, **kw):
        files[name] = folder / f"{name}.wav"
        sf.write(files[name], data, rate, **kw)

    (folder / "zero.wav").write_bytes(b"")
    files["zero-length"] = folder / "zero.wav"
    wav("header-only", np.zeros(0, np.float32), 16_000)
    wav("full", x, 16_000)
    data = files["full"].read_bytes()
    (folder / "truncated.wav").write_bytes(data[: len(data) // 3])
    files["truncated"] = folder / "truncated.wav"
    (folder / "text.wav").write_text("this is not audio\n")
    files["text named .wav"] = folder / "text.wav"
    np.savez(folder / "npz.npz", a=np.zeros(3))
    (folder / "npz.wav").write_bytes((folder / "npz.npz").read_bytes())
    files["npz named .wav"] = folder / "npz.wav"
    wav("8-bit", x, 16_000, subtype="PCM_U8")
    wav("24-bit", x, 16_000, subtype="PCM_24")
    wav("float32", x, 16_000, subtype="FLOAT")
    for channels in (1, 2, 6, 8):
        wav(f"{channels}-channels", np.stack([x * (0.5 + c / 16) for c in range(channels)], axis=1), 16_000)
    for rate in (8_000, 11_025, 44_100, 96_000, 192_000):
        wav(f"{rate}-Hz", speech_like(3.0, rate), rate)
    nan = x.copy()
    nan[100] = np.nan
    wav("nan", nan, 16_000, subtype="FLOAT")
    inf = x.copy()
    inf[5] = np.inf
    wav("inf", inf, 16_000, subtype="FLOAT")
    wav("silence", np.zeros(48_000, np.float32), 16_000)
    wav("dc-offset", np.clip(x + 0.4, -1, 1), 16_000)
    wav("clipped", np.clip(x * 20, -1, 1), 16_000)
    wav("too-short", x[:8_000], 16_000)
    return files


WORKS = {"full", "8-bit", "24-bit", "float32", "1-channels", "2-channels", "6-channels", "8-channels", "8000-Hz",
         "11025-Hz", "44100-Hz", "96000-Hz", "192000-Hz", "dc-offset", "clipped"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return awkward_files(tmp_path_factory.mktemp("awkward"))


@pytest.mark.slow
def test_every_awkward_file_clones_or_is_explained(corpus, tiny_models):
    for name, path in corpus.items():
        if name in WORKS:
            prompt = clone_voice(path, **tiny_models)
            assert prompt.semantic.size > 0 and prompt.fine.shape[0] == 8, name
        else:
            with pytest.raises(HubertQuantError) as caught:
                clone_voice(path, **tiny_models)
            assert str(path.name) in str(caught.value) or "input audio" in str(caught.value), name


def test_cli_failures_are_one_line_without_a_traceback(corpus, tiny, tmp_path):
    bad = [p for name, p in corpus.items() if name not in WORKS]
    result = run_cli("clone", *map(str, bad), "--out", str(tmp_path / "out"), "--device", "cpu",
                     "--hubert", str(tiny / "hubert"), "--quantizer", str(tiny / "quantizer-v1.pth"),
                     "--codec", str(tiny / "encodec_24khz.th"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(bad) + 1  # one per file, then the summary
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.npz"))


@pytest.mark.slow
def test_a_very_long_file_is_only_read_where_asked(tmp_path, tiny_models):
    path = tmp_path / "podcast.wav"
    with sf.SoundFile(path, "w", samplerate=8_000, channels=1, subtype="PCM_16") as f:
        for minute in range(60):  # an hour, written a minute at a time
            f.write(speech_like(60.0, 8_000, seed=minute))
    prompt = clone_voice(path, start=1800.0, end=1805.0, **tiny_models)
    assert 4.5 < prompt.duration <= 5.0


@given(seconds=st.floats(0.0, 3.0), rate=st.sampled_from([8_000, 16_000, 22_050, 48_000]),
       gain=st.floats(0.0, 4.0), bad=st.sampled_from([None, np.nan, np.inf, -np.inf]), seed=st.integers(0, 99))
def test_any_array_clones_or_is_explained(tiny_models, seconds, rate, gain, bad, seed):
    n = int(round(seconds * rate))
    samples = speech_like(seconds, rate, seed=seed) * gain if n > 0 else np.zeros(0, np.float32)
    if bad is not None and samples.size:
        samples[samples.size // 2] = bad
    try:
        prompt = clone_voice(samples, sample_rate=rate, **tiny_models)
    except HubertQuantError:
        return
    assert np.isfinite(samples).all() and prompt.semantic.size > 0


array_strategy = st.one_of(
    st.builds(lambda n, hi: np.random.default_rng(n).integers(-5, hi, size=n), st.integers(0, 300),
              st.integers(1, 20_000)),
    st.builds(lambda n: np.random.default_rng(n).random(n), st.integers(0, 50)),
    st.builds(lambda r, c: np.zeros((r, c), np.int64), st.integers(0, 9), st.integers(0, 300)),
)


@given(semantic=array_strategy, fine=array_strategy, keys=st.sets(st.sampled_from(
    ["semantic_prompt", "coarse_prompt", "fine_prompt", "other"]), min_size=0, max_size=4))
def test_any_npz_loads_valid_or_is_refused(tmp_path_factory, semantic, fine, keys):
    path = tmp_path_factory.mktemp("npz") / "x.npz"
    arrays = {"semantic_prompt": semantic, "fine_prompt": fine, "coarse_prompt": fine[:2] if fine.ndim == 2 else fine,
              "other": np.zeros(2)}
    np.savez(path, **{k: v for k, v in arrays.items() if k in keys})
    try:
        prompt = load_speaker(path)
    except SpeakerFileError:
        return
    assert prompt.fine.shape[0] == 8 and round(prompt.fine.shape[1] / prompt.semantic.size, 1) == 1.5


def test_huge_array_is_refused_with_bounded_memory(tmp_path):
    import resource
    import zipfile

    with zipfile.ZipFile(tmp_path / "huge.npz", "w", zipfile.ZIP_DEFLATED) as z, \
            z.open("semantic_prompt.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False, "shape": (50_000_000,)})
        block = bytes(8_000_000)
        for _ in range(50):  # 400 MB of zeros, streamed: a few MB on disk
            f.write(block)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(SpeakerFileError, match="far too large"):
        load_speaker(tmp_path / "huge.npz")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KB: not unpacked


# ---- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), PermissionError(13, "Permission denied")])
def test_disk_full_or_permission_denied_while_saving_loses_nothing(tmp_path, monkeypatch, tiny_models, error):
    prompt = clone_voice(speech_like(3.0, 16_000), sample_rate=16_000, **tiny_models)
    target = tmp_path / "me.npz"
    target.write_bytes(b"the user's older file")
    import hubert_quant.files as files

    def failing_fsync(fd):
        raise error

    monkeypatch.setattr(files.os, "fsync", failing_fsync)
    with pytest.raises(OSError) as caught:
        save_speaker(prompt, target, overwrite=True)
    # One line that names the file, says why and what to do, and that nothing was changed.
    message = one_line(caught.value)
    assert str(target) in message and error.strerror in message and "Nothing was changed" in message
    assert ("free some space" if error.errno == 28 else "write elsewhere") in message
    assert target.read_bytes() == b"the user's older file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.npz"]  # no temporary file left


KILLED_MID_WRITE = r"""
import os, signal, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from hubert_quant import speaker
from hubert_quant.speaker import make_prompt, save_speaker
real = np.savez
def dying_savez(f, **arrays):
    f.write(b"PK\x03\x04 half of a zip")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
speaker.np.savez = dying_savez
fine = np.zeros((8, 150), np.int64)
save_speaker(make_prompt(np.zeros(100, np.int64), fine), sys.argv[2])
"""


def test_killed_mid_write_leaves_no_visible_speaker(tmp_path):
    result = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(ROOT), str(tmp_path / "me.npz")])
    assert result.returncode == -signal.SIGKILL
    assert not (tmp_path / "me.npz").exists()
    assert library.list_speakers(tmp_path) == []  # the hidden .part file is never listed...
    [leftover] = tmp_path.glob(".me.npz.*.part")
    os.utime(leftover, (time.time() - 120,) * 2)  # ...and a while later, with its writer gone,
    save_speaker(make_prompt(np.zeros(100, np.int64), np.zeros((8, 150), np.int64)), tmp_path / "other.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.npz"]  # the next write removes it


TERMINATED_MID_WRITE = r"""
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from hubert_quant import cli, speaker
def slow_savez(f, **arrays):
    f.write(b"PK\x03\x04 half of a zip")
    f.flush()
    time.sleep(60)
speaker.np.savez = slow_savez
sys.exit(cli.main(["clone", sys.argv[2], "--out", sys.argv[3], *sys.argv[4:]]))
"""


@pytest.mark.slow
def test_a_terminated_clone_says_so_and_leaves_no_part_file(tmp_path, tiny, voice_wav):
    out = tmp_path / "out"
    models = ["--hubert", str(tiny / "hubert"), "--quantizer", str(tiny / "quantizer-v1.pth"),
              "--codec", str(tiny / "encodec_24khz.th"), "--device", "cpu"]
    process = subprocess.Popen([sys.executable, "-c", TERMINATED_MID_WRITE, str(ROOT), str(voice_wav),
                                str(out / "me.npz"), *models], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(out.glob(".me.npz.*.part")) and time.time() < deadline:
        time.sleep(0.1)
    process.terminate()
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "interrupted; nothing half-written was left" in err
    assert list(out.iterdir()) == []


def test_a_part_file_being_written_by_a_live_process_is_left_alone(tmp_path):
    from hubert_quant.files import remove_stale_parts

    live = tmp_path / f".me.npz.{os.getpid()}-abc123.part"
    foreign = tmp_path / ".notes.txt.part"  # not one of ours: no pid in the name
    for path in (live, foreign):
        path.write_bytes(b"in progress")
        os.utime(path, (time.time() - 3600,) * 2)
    assert remove_stale_parts(tmp_path) == []
    assert live.exists() and foreign.exists()


@pytest.mark.parametrize(("device", "message", "advice"), [
    ("cuda", "CUDA out of memory. Tried to allocate 20.00 GiB", "--device cpu"),
    ("cpu", "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to "
            "allocate 25769803776 bytes. Error code 12 (Cannot allocate memory)", "shorter part"),
])
def test_out_of_memory_is_explained(device, message, advice):
    from hubert_quant.errors import explain_out_of_memory

    with pytest.raises(OutOfMemory, match=f"{device} ran out of memory while cloning input audio.*{advice}"):
        with explain_out_of_memory("cloning input audio", device):
            raise RuntimeError(message)
    with pytest.raises(RuntimeError, match="something else"), explain_out_of_memory("x", "cpu"):
        raise RuntimeError("something else")


def test_a_valid_quantizer_that_does_not_fit_in_memory_is_not_called_unreadable(monkeypatch, tiny):
    import torch

    from hubert_quant.quantizer import Quantizer

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(torch, "load", no_memory)
    with pytest.raises(OutOfMemory, match="ran out of memory while loading the quantizer quantizer-v1.pth"):
        Quantizer.load(tiny / "quantizer-v1.pth")


def test_out_of_memory_in_the_pipeline_is_explained(monkeypatch, tiny_models):
    from hubert_quant.hubert import HubertEncoder

    def oom(self, samples, **options):
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(HubertEncoder, "features", oom)
    with pytest.raises(OutOfMemory, match="ran out of memory while cloning input audio"):
        clone_voice(speech_like(3.0, 16_000), sample_rate=16_000, **tiny_models)


def test_cache_deleted_while_running(tiny, tmp_path, monkeypatch):
    """Loaded models keep working; a model that was never loaded gives the offline message."""
    import shutil

    import huggingface_hub.constants as hf_constants
    from conftest import fake_hub_cache

    from hubert_quant import models

    env = fake_hub_cache(tiny, tmp_path / "cache")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", env["HF_HUB_CACHE"])
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("TORCH_HOME", env["TORCH_HOME"])
    first = clone_voice(speech_like(3.0, 16_000), sample_rate=16_000, device="cpu")
    shutil.rmtree(tmp_path / "cache")
    again = clone_voice(speech_like(3.0, 16_000), sample_rate=16_000, device="cpu")
    assert (first.semantic == again.semantic).all()
    with pytest.raises(HubertQuantError, match="(?s)A model is missing: HF_HUB_OFFLINE is set.*models download German"):
        models.load_quantizer("German", device="cpu")
    models.clear_cache()


@pytest.mark.parametrize("cut", [1, 4_096, 65_536, 299_999, 700_000])
def test_download_cut_anywhere_resumes_and_never_loads_a_partial_file(tiny, tmp_path, monkeypatch, cut):
    import huggingface_hub.constants as hf_constants
    from fakehub import FakeHub, serve_tiny

    from hubert_quant import models
    from hubert_quant.errors import DownloadError

    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    expected = (tiny / "quantizer-v0.pth").read_bytes()
    with FakeHub() as server:
        serve_tiny(server, tiny)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        server.break_after, server.stop_on_break = cut, True
        try:
            models.download("German")
        except DownloadError:
            pass
    with FakeHub() as again:
        serve_tiny(again, tiny)
        monkeypatch.setenv("HF_ENDPOINT", again.url)
        path = models.download("German")
    assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(expected).digest()
