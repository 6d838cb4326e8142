"""The speaker library: names stay inside the folder, nothing is replaced silently."""

import os

import numpy as np
import pytest

from hubert_quant import library
from hubert_quant.errors import OutputExistsError, SpeakerFileError
from hubert_quant.speaker import make_prompt


def prompt(seconds=2.0, quantizer="Large English"):
    n = int(seconds * 50)
    fine = np.random.default_rng(0).integers(0, 1024, size=(8, int(n * 1.5)))
    return make_prompt(np.arange(n) % 10_000, fine, {"quantizer": quantizer, "created": "2026-11-25T00:00:00"})


@pytest.mark.parametrize("name, expected", [
    ("alice", "alice"),
    ("../../etc/passwd", "_.._etc_passwd"),
    ("/abs/path", "_abs_path"),
    ("..hidden", "hidden"),
    ("con", "con_"),
    ("LPT1.npz", "LPT1_"),
    ("Zoë Ünïcode", "Zoë Ünïcode"),
    ("a" * 300, "a" * 100),
    ("what?*<>|:", "what______"),
])
def test_names_become_safe_file_names(name, expected, tmp_path):
    assert library.safe_name(name) == expected
    path = library.speaker_path(tmp_path, name)
    assert path.parent == tmp_path


@pytest.mark.parametrize("name", ["", "   ", "...", " . "])
def test_names_with_nothing_left_are_refused(name):
    with pytest.raises(ValueError, match="cannot be used as a speaker name"):
        library.safe_name(name)


def test_save_list_rename_delete(tmp_path):
    library.save(tmp_path, "Bob", prompt(3.0))
    library.save(tmp_path, "alice", prompt(2.0, "German"))
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    listed = library.list_speakers(tmp_path)
    assert [s.name for s in listed] == ["alice", "Bob", "broken"]
    assert listed[0].quantizer == "German" and listed[0].seconds == pytest.approx(2.0, abs=0.05)
    assert listed[2].problem and "not a .npz file" in listed[2].problem

    with pytest.raises(OutputExistsError):
        library.save(tmp_path, "alice", prompt())
    with pytest.raises(OutputExistsError, match="already exists"):
        library.rename(tmp_path, "Bob", "alice")
    (tmp_path / "Bob.preview.wav").write_bytes(b"RIFF")
    library.rename(tmp_path, "Bob", "Robert")
    assert (tmp_path / "Robert.npz").is_file() and (tmp_path / "Robert.preview.wav").is_file()
    assert not (tmp_path / "Bob.npz").exists()
    assert len(library.delete(tmp_path, "Robert")) == 2
    with pytest.raises(SpeakerFileError, match="no speaker called"):
        library.delete(tmp_path, "Robert")


def test_import_validates_and_keeps_only_the_prompt(tmp_path):
    arrays = prompt().arrays()
    np.savez(tmp_path / "upload.npz", **arrays, extra=np.zeros(3))
    saved = library.import_file(tmp_path / "lib", tmp_path / "upload.npz", "Imported")
    with np.load(saved) as npz:
        assert "extra" not in npz.files and "semantic_prompt" in npz.files
    np.savez(tmp_path / "bad.npz", semantic_prompt=np.arange(10))
    with pytest.raises(SpeakerFileError, match="missing"):
        library.import_file(tmp_path / "lib", tmp_path / "bad.npz")
    assert [s.name for s in library.list_speakers(tmp_path / "lib")] == ["Imported"]


def test_saved_speakers_are_readable_by_others_sharing_the_folder_as_the_umask_says(tmp_path):
    import stat

    old = os.umask(0o022)
    try:
        path = library.save(tmp_path, "shared", make_prompt(np.arange(100) % 10_000, np.zeros((8, 150), np.int64)))
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0600
        os.umask(0o077)
        private = library.save(tmp_path, "private", make_prompt(np.arange(100), np.zeros((8, 150), np.int64)))
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_listing_again_reads_only_the_files_that_changed(tmp_path, monkeypatch):
    """Found by an attacker: each refresh event re-read and checked every speaker (0.5 s of server CPU per
    request with 1,001 speakers)."""
    import numpy as np

    from hubert_quant import library
    from hubert_quant.speaker import make_prompt

    for name in ("a", "b", "c"):
        library.save(tmp_path, name, make_prompt(np.arange(100), np.zeros((8, 150), np.int64)))
    first = library.list_speakers(tmp_path)
    reads = []
    real = library.load_speaker
    monkeypatch.setattr(library, "load_speaker", lambda *a, **k: reads.append(a[0]) or real(*a, **k))
    assert library.list_speakers(tmp_path) == first and reads == []
    library.save(tmp_path, "d", make_prompt(np.arange(90), np.zeros((8, 135), np.int64)))
    library.delete(tmp_path, "a")
    library.save(tmp_path, "a", make_prompt(np.arange(80), np.zeros((8, 120), np.int64)))  # replaced: read again
    listed = library.list_speakers(tmp_path)
    assert sorted(p.name for p in reads) == ["a.npz", "d.npz"] and [s.name for s in listed] == ["a", "b", "c", "d"]
    assert listed[0].seconds != first[0].seconds
