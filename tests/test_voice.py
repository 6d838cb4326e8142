"""The speaker-similarity model (hubert_quant.voice): real speech (espeak-ng voices, sox-changed copies),
the takes it helps choose, `compare`, and the guard on its weights."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest
from conftest import load_script, run_cli

from hubert_quant import voice
from hubert_quant.audio import load_audio
from hubert_quant.bark import takes
from hubert_quant.constants import BARK_SAMPLE_RATE
from hubert_quant.errors import CheckpointError, ModelNotFoundError
from hubert_quant.torch_compat import load_known_tensors

VOICES = ["en+m1", "en+m3", "en+f2", "en+f4", "en-us+m2"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """voice -> [(what, wav)] from scripts/voice_eval.py: three sentence pairs, then changed copies."""
    return load_script("voice_eval").build(tmp_path_factory.mktemp("voices"), VOICES)


def test_the_same_voice_scores_above_other_voices_even_changed_by_sox(clips):
    r = load_script("voice_eval").evaluate(clips)
    assert r["same"].mean() > r["different"].mean() + 0.1
    assert r["eer"] < 0.2 and r["ranking"] >= 0.9
    for kind, (hits, total) in r["by_kind"].items():  # slower, faster, pitched, in a room, with noise
        assert hits >= total - 1, (kind, hits, total)


def test_compare_ranks_the_same_voice_first_and_says_so(clips, tmp_path):
    reference = clips["en+m1"][0][1]
    same = clips["en+m1"][1][1]
    others = [clips[v][1][1] for v in ("en+f2", "en-us+m2")]
    result = run_cli("compare", str(reference), *map(str, others), str(same), "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    scores = json.loads(result.stdout)["scores"]
    assert scores[0]["file"] == str(same) and scores[0]["verdict"] == "likely the same voice"
    assert all(s["similarity"] < scores[0]["similarity"] for s in scores[1:])
    plain = run_cli("compare", str(reference), str(same), str(others[0]))
    assert plain.returncode == 0 and plain.stdout.splitlines()[1].endswith(str(same))  # best first


def test_compare_hears_a_speaker_npz_with_encodec(clips, tiny, tmp_path):
    from hubert_quant.speaker import make_prompt, save_speaker

    rng = np.random.default_rng(0)
    npz = save_speaker(make_prompt(rng.integers(0, 10_000, 100), rng.integers(0, 1024, (8, 150))), tmp_path / "s.npz")
    for args in ((npz, clips["en+m1"][0][1]), (clips["en+m1"][0][1], npz)):  # as the reference, and compared
        result = run_cli("compare", *map(str, args), "--codec", str(tiny / "encodec_24khz.th"))
        assert result.returncode == 0, result.stderr[-2000:]
        score = float(result.stdout.splitlines()[1].split()[0])
        assert 0.0 <= score <= 1.0


def test_the_take_in_the_speakers_voice_is_kept_and_a_babbling_one_loses(clips):
    """Stand-in takes from real speech: the same sentences in the speaker's voice, in another voice,
    and the speaker's voice babbling on (far longer than its text needs)."""
    text = "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore."
    as_bark = lambda path: load_audio(path, rate=BARK_SAMPLE_RATE)[0]  # noqa: E731
    speaker = as_bark(clips["en+m1"][1][1])  # the speaker's prompt: other sentences, same voice
    own, other = as_bark(clips["en+m1"][0][1]), as_bark(clips["en+f2"][0][1])
    babble = np.concatenate([own, own, own, own])
    judge = voice.judge_against(speaker, BARK_SAMPLE_RATE)
    judged = [takes.judge(other, text, 1, voice=judge), takes.judge(own, text, 2, voice=judge),
              takes.judge(babble, text, 3, voice=judge)]
    assert takes.best(judged) == 1
    assert judged[1].measures["voice"] > judged[0].measures["voice"]
    assert any("voice similarity" in p for p in judged[0].problems)
    assert any("babble" in p for p in judged[2].problems)
    # Without the voice judge, the other voice's take and the speaker's tie on what is left.
    plain = [takes.judge(other, text, 1), takes.judge(own, text, 2)]
    assert "voice" not in plain[0].measures


def test_without_the_package_every_use_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    from importlib import metadata

    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", absent)
    assert not voice.available()
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps resemblyzer==0.1.4"):
        voice.weights_path()
    from hubert_quant.cli import main

    assert main(["compare", str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install --no-deps resemblyzer==0.1.4" in err and "Traceback" not in err


@pytest.fixture
def weights(tmp_path):
    copy = tmp_path / "pretrained.pt"
    shutil.copyfile(voice.weights_path(), copy)
    return copy


class Runs:
    def __reduce__(self):
        return (os.system, ("touch ran-code",))


def _variants(weights, folder):
    """Files that are not the released weights, each standing where the weights should be."""
    import torch

    data = weights.read_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    state = torch.load(str(weights), map_location="cpu", weights_only=True)
    made = {
        "one bit flipped": bytes(flipped),
        "truncated": data[: len(data) // 3],
        "empty": b"",
        "a pickle that runs code": pickle.dumps(Runs()),
        "the released bytes with a pickle appended": data + pickle.dumps(Runs()),
    }
    paths = {}
    for name, content in made.items():
        path = folder / f"{name}.pt"
        path.write_bytes(content)
        paths[name] = path
    paths["the same tensors, saved again"] = folder / "resaved.pt"
    torch.save(state, paths["the same tensors, saved again"])
    paths["a zip with the released file inside"] = folder / "zipped.pt"
    with zipfile.ZipFile(paths["a zip with the released file inside"], "w") as z:
        z.writestr("archive/data.pkl", data)
    paths["a folder"] = folder / "folder.pt"
    paths["a folder"].mkdir()
    return paths


def test_only_the_released_weights_are_ever_loaded(weights, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "model_state" in load_known_tensors(weights, voice.WEIGHTS_SHA256, what="w", fix="f")
    for name, path in _variants(weights, tmp_path).items():
        with pytest.raises(CheckpointError) as e:
            load_known_tensors(path, voice.WEIGHTS_SHA256, what="the speaker-similarity model", fix="reinstall it")
        assert str(path) in str(e.value) and "reinstall it" in str(e.value), name
    assert not (tmp_path / "ran-code").exists()


def test_weights_replaced_in_the_package_are_refused_through_the_encoder(weights, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    planted = tmp_path / "planted.pt"
    planted.write_bytes(pickle.dumps(Runs()))
    monkeypatch.setattr(voice, "weights_path", lambda: planted)
    voice.encoder.cache_clear()
    try:
        with pytest.raises(CheckpointError, match="--force-reinstall resemblyzer==0.1.4"):
            voice.encoder()
    finally:
        voice.encoder.cache_clear()
    assert not (tmp_path / "ran-code").exists()


def test_silence_and_a_short_clip_still_give_a_unit_vector():
    for samples in (np.zeros(16_000, np.float32), np.zeros(10, np.float32),
                    np.random.default_rng(0).standard_normal(3 * 16_000).astype(np.float32)):
        e = voice.embed(samples, 16_000)
        assert e.shape == (256,) and np.isfinite(e).all()
        assert abs(float(np.linalg.norm(e)) - 1) < 1e-3 or not e.any()


def test_the_picker_catches_a_second_voice_at_the_same_pitch(tmp_path):
    """espeak-ng's en+travis speaks within a semitone of the main voice (en): the pitch check cannot tell
    them apart; the speaker-similarity model can."""
    import recordings

    from hubert_quant.segment import analyse, assess, best_segment

    main = recordings.spoken(tmp_path, recordings.MAIN, "main")  # the main voice: most of the speech
    other = recordings.spoken(tmp_path, recordings.OTHER, "other", voice="en+travis")
    out = recordings.joined(tmp_path, "two-voices", other, main)
    samples, rate = load_audio(out, rate=16_000)
    analysis = analyse(samples, rate)
    split = recordings.seconds_of(other)
    assert analysis.voice_match and min(m for m in analysis.voice_match if m == m) < 0.78
    theirs = assess(samples, rate, 0.0, split, analysis=analysis)
    assert any("another voice" in p for p in theirs.problems) and theirs.measures["pitch_offset"] < 4
    chosen = best_segment(samples, rate, analysis=analysis)
    assert chosen.start >= split - 0.3  # the main voice's part, none of the other's


def test_installing_asks_the_download_policy_first(monkeypatch):
    import subprocess

    from hubert_quant import models
    from hubert_quant.errors import DownloadError

    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    monkeypatch.setattr(voice, "available", lambda: False)
    models.set_download_policy(lambda: "this app is reachable from other machines")
    try:
        with pytest.raises(DownloadError, match="reachable from other machines.*pip install --no-deps resemblyzer"):
            models.install_speaker_similarity()
    finally:
        models.set_download_policy(None)
    assert ran == []  # pip never ran


def test_takes_are_judged_against_only_what_bark_reads_of_the_prompt(monkeypatch):
    """Found by an attacker: a speaker file of 1 KB held a minute of fine codes, all decoded (5 GB)."""
    from hubert_quant.bark import adapter, reading
    from hubert_quant.speaker import make_prompt

    decoded = []
    monkeypatch.setattr(adapter, "decode_fine", lambda fine, options: decoded.append(fine.shape) or
                        np.zeros(fine.shape[1] * 320, np.float32))
    rng = np.random.default_rng(0)
    long_prompt = make_prompt(rng.integers(0, 10_000, 3000), rng.integers(0, 1024, (8, 4500)))
    assert reading._voice_judge(long_prompt, adapter.BarkOptions(), [], lambda *_: None) is not None
    assert decoded == [(8, 512)]


def test_damaged_weights_leave_every_use_to_judge_without_the_model(tmp_path, monkeypatch):
    damaged = tmp_path / "pretrained.pt"
    damaged.write_bytes(b"not the released weights")
    monkeypatch.setattr(voice, "weights_path", lambda: damaged)
    voice.encoder.cache_clear()
    try:
        assert voice.available() and not voice.usable()
        assert voice.voice_match(np.zeros(32_000, np.float32), [(0.0, 1.0), (1.0, 2.0)]) == ()
        from hubert_quant.bark import reading
        from hubert_quant.speaker import make_prompt

        prompt = make_prompt(np.arange(100), np.zeros((8, 150), np.int64))
        assert reading._voice_judge(prompt, None, [], lambda *_: None) is None  # judged on length, silence, clipping
    finally:
        voice.encoder.cache_clear()


def test_installing_what_is_installed_runs_no_pip(monkeypatch):
    import subprocess

    from hubert_quant import models

    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: ran.append(a))
    assert models.install_speaker_similarity() == "resemblyzer 0.1.4" and ran == []


def test_a_long_recording_costs_its_chosen_windows_not_its_length():
    long = np.random.default_rng(1).standard_normal(16_000 * 600).astype(np.float32) * 0.1  # 10 minutes
    windows = voice._windows(long.size)
    assert len(windows) > voice.MAX_WINDOWS
    picked = [windows[0], windows[len(windows) // 2]]
    whole = voice.mel(long[: windows[len(windows) // 2].stop * voice.HOP + 400])
    np.testing.assert_allclose(voice.mel(long, picked)[1], whole[picked[1]], rtol=1e-4, atol=1e-6)


def test_takes_are_also_judged_against_the_recording_the_speaker_was_cloned_from(clips, tmp_path, monkeypatch):
    """Issue 30: where the speaker's metadata names its source recording and that recording lies beside the
    speaker file (the same bytes: its sha256), takes are judged against it as well as against the prompt."""
    from hubert_quant.bark import adapter, reading
    from hubert_quant.files import file_digest
    from hubert_quant.speaker import load_speaker, make_prompt, save_speaker

    own, other = clips["en+m1"][0][1], clips["en+f2"][0][1]
    folder = tmp_path / "speakers"
    folder.mkdir()
    shutil.copy(own, folder / "me.wav")
    rng = np.random.default_rng(0)
    meta = {"source": "me.wav", "source_sha256": file_digest(own), "start": 0.5, "end": None}
    npz = save_speaker(make_prompt(rng.integers(0, 10_000, 100), rng.integers(0, 1024, (8, 150)), meta),
                       folder / "me.npz")
    prompt = load_speaker(npz)
    found = reading._recordings(str(npz), prompt, None)
    assert [name for name, _, _ in found] == ["me.wav"]
    assert np.array_equal(found[0][1], load_audio(own, start=0.5, rate=16_000)[0])  # the part that was cloned
    # Pathological prompt (another voice, as Bark hears it): the recording pulls the speaker's own voice up.
    monkeypatch.setattr(adapter, "decode_fine", lambda fine, options: load_audio(other, rate=BARK_SAMPLE_RATE)[0])
    said = []
    with_recording = reading._voice_judge(prompt, adapter.BarkOptions(), found, lambda *a: said.append(a[0]))
    prompt_only = reading._voice_judge(prompt, adapter.BarkOptions(), [], lambda *_: None)
    take = load_audio(clips["en+m1"][1][1], rate=BARK_SAMPLE_RATE)[0]
    assert with_recording(take) > prompt_only(take) + 0.05
    assert said == ["takes judged by their voice's similarity to the speaker's prompt, me.wav"]
    # Given explicitly, any recording is heard (its first 10 minutes) ...
    assert [n for n, _, _ in reading._recordings(str(npz), prompt, other)] == [other.name]
    # ... but a file that only took the name, a link, or a name that leaves the folder is not.
    (folder / "me.wav").unlink()
    shutil.copy(other, folder / "me.wav")
    assert reading._recordings(str(npz), prompt, None) == []
    (folder / "me.wav").unlink()
    (folder / "me.wav").symlink_to(own)
    assert reading._recordings(str(npz), prompt, None) == []
    for name in ("../me.wav", str(own), "", ".."):
        shutil.copy(own, tmp_path / "me.wav")
        bad = save_speaker(make_prompt(prompt.semantic, prompt.fine, {**meta, "source": name}), folder / "bad.npz",
                           overwrite=True)
        assert reading._recordings(str(bad), load_speaker(bad), None) == [], name


def test_a_reference_that_cannot_be_heard_is_said_not_dropped_in_silence(monkeypatch):
    """say --reference with a random voice (no prompt) or without the model: a line says why it is unused."""
    from hubert_quant.bark import reading
    from hubert_quant.speaker import make_prompt

    recordings = [("me.wav", np.zeros(16_000, np.float32), 16_000)]
    said = []
    assert reading._voice_judge(None, None, recordings, lambda *a: said.append(a[0])) is None
    assert said == ["me.wav is not heard: there is no speaker's prompt to judge takes by"]
    monkeypatch.setattr(voice, "usable", lambda: False)
    prompt = make_prompt(np.arange(100), np.zeros((8, 150), np.int64))
    said.clear()
    assert reading._voice_judge(prompt, None, recordings, lambda *a: said.append(a[0])) is None
    assert said == [f"me.wav is not heard: the speaker-similarity model is not installed or not usable "
                    f"({voice.INSTALL})"]
    said.clear()
    assert reading._voice_judge(prompt, None, [], lambda *a: said.append(a[0])) is None and said == []
