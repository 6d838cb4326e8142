"""Fast mode only where bfloat16 was measured faster than exact mode (device.bfloat16_is_slow)."""

import platform

import numpy as np
import pytest
import torch

from hubert_quant import clone, device, models
from hubert_quant.clone import clone_voice


@pytest.mark.parametrize("where", ["cuda", "cuda:1", "CUDA:0".lower()])
def test_gpus_are_refused_fast_mode(where):
    assert "GPU" in device.bfloat16_is_slow(where)
    assert "GPU" in device.bfloat16_is_slow(torch.device(where))


@pytest.mark.parametrize("native,slow", [(False, True), (True, False), (None, False)])
def test_cpu_follows_its_bfloat16_instructions(monkeypatch, native, slow):
    monkeypatch.setattr(device, "_cpu_bfloat16", lambda: native)
    assert bool(device.bfloat16_is_slow("cpu")) is slow
    assert bool(device.bfloat16_is_slow(torch.device("cpu"))) is slow
    assert device.bfloat16_is_slow("mps") == ""  # not measured: the user's choice stands


@pytest.mark.parametrize("native,cpu", [(True, True), (False, False), (None, False)])
def test_training_uses_bfloat16_on_gpus_and_on_cpus_known_to_have_it(monkeypatch, native, cpu):
    monkeypatch.setattr(device, "_cpu_bfloat16", lambda: native)
    assert device.trains_in_bfloat16("cpu") is cpu
    assert device.trains_in_bfloat16(torch.device("cpu")) is cpu
    assert device.trains_in_bfloat16("cuda:1") is True
    assert device.trains_in_bfloat16("mps") is False  # not measured: fp32, as before


@pytest.fixture
def old_torch(monkeypatch):
    """torch without the CPU probes (audio-webui's 2.1), on an x86 machine: the flags file decides."""
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)


@pytest.mark.parametrize("flags,expected", [
    ("fpu sse2 avx2 avx512f avx512_bf16 avx512_vnni", True),
    ("fpu avx2 amx_bf16 amx_tile amx_int8", True),
    ("fpu sse2 avx2 avx512f avx512_vnni", False),  # the 2-core test machine: emulated bfloat16
    ("fpu sse2 avx512_bf16x", False),  # a flag that only starts like it
])
def test_flags_of_linux_decide_on_old_torch(old_torch, tmp_path, flags, expected):
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nmodel name\t: Xeon\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert device._cpu_bfloat16(str(info)) is expected


@pytest.mark.parametrize("content", [None, "processor\t: 0\nmodel name\t: Xeon\n", "\xff\xfe garbage"])
def test_unknown_flags_leave_the_choice_to_the_user(old_torch, tmp_path, content):
    info = tmp_path / "cpuinfo"
    if content is not None:
        info.write_bytes(content.encode("latin-1"))
    assert device._cpu_bfloat16(str(info)) is None


def test_other_processors_are_unknown(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    assert device._cpu_bfloat16() is None


def test_newer_torch_asks_the_cpu(monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "AMD64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert device._cpu_bfloat16("/nonexistent") is True


def test_fast_mode_where_it_is_slow_clones_exactly_and_says_so_once(tiny_models, voice_wav, monkeypatch, capsys):
    monkeypatch.setattr(device, "_cpu_bfloat16", lambda: False)
    monkeypatch.setattr(clone, "_noted_slow_fast", set())
    models.clear_cache()
    exact = clone_voice(voice_wav, **tiny_models)
    asked = [clone_voice(voice_wav, fast=True, **tiny_models) for _ in range(2)]
    err = capsys.readouterr().err
    assert err.count("fast mode is not used on cpu") == 1 and "AVX512-BF16" in err
    for prompt in asked:
        np.testing.assert_array_equal(prompt.semantic, exact.semantic)
        assert prompt.metadata["fast"] is False  # the file says what was done


def test_fast_mode_where_it_pays_runs_in_bfloat16(tiny_models, voice_wav, monkeypatch, capsys, pretend_bfloat16):
    monkeypatch.setattr(device, "_cpu_bfloat16", lambda: True)
    models.clear_cache()
    loaded = []
    real = models.load.load_found
    monkeypatch.setattr(clone, "load_found", lambda *a, **k: loaded.append(real(*a, **k)) or loaded[-1])
    prompt = clone_voice(voice_wav, fast=True, **tiny_models)
    assert prompt.metadata["fast"] is True and "fast mode is not used" not in capsys.readouterr().err
    quantizer, hubert, _ = loaded[0]
    assert quantizer.fast and hubert.fast
