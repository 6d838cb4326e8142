"""Dataset names are ids, checked in one place (issue 28, item 7).

``dataset.pair_id`` decides what a pair id is; importing from zips and folders, the manifest,
features and training all go through it. Attacked here with name variants (hidden, ``..``,
control and invisible characters, long, separators, absolute, look-alikes, NFD/NFC and case
twins, empty, Windows device names), zip members whose headers lie about their size, and links,
FIFOs, devices and folders where files should be. Every refusal names the file, leaves the
manifest as it was and leaves ``dataset features`` working.
"""

from __future__ import annotations

import ast
import json
import os
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, run_cli, speech_like

from hubert_quant.errors import DatasetError, HubertQuantError
from hubert_quant.training import dataset

# The part of a member's name that becomes the pair id; each must be refused, by name.
BAD_IDS = [
    ".hid_x", "..", "a..b", "..x", "x\ny", "x\ry", "x\ty", "x\x1b[31my", "x\x7fy", "x\u202ey", "x\u200by",
    "a" * 230, "a" * 101, "a\\b", "..\\..\\x", "C:\\x", "p\u0430ir", "\uff50\uff41\uff49\uff52", "e\u0301",
    "\u00e9", "", "CON", "nul.x", "com1", "LPT9", "-x", "x.", "a b",
]
# Whole member names whose folders leave the archive's own (the id part, "9", is fine).
BAD_PATHS = ["/abs/9", "../9", "a/../9", "a/./9", "a//9", "C:/9", "a\\..\\9/9"]
GOOD_IDS = ["0", "p000", "gen_0123abcd", "a-b.c", "_x", "A9", "x" * 100, "con_1", "console", "nul_", "com10"]


def tokens(i: int) -> np.ndarray:
    return np.arange(20 + i, dtype=np.int64) % 10_000


def wav_bytes(i: int) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, speech_like(0.5, 24_000, seed=i), 24_000, format="WAV")
    return buf.getvalue()


def npy_bytes(array) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def zipped_source(folder: Path, stems: list[str], *, prefix=True) -> Path:
    """The published layout as semantic.zip and wav.zip, members ``semantic/<stem>_semantic.npy``."""
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("semantic", "wav"):
        with zipfile.ZipFile(folder / f"{kind}.zip", "w", zipfile.ZIP_DEFLATED) as z:
            for i, stem in enumerate(stems):
                data = npy_bytes(tokens(i)) if kind == "semantic" else wav_bytes(i)
                name = f"{stem}_{kind}.{'npy' if kind == 'semantic' else 'wav'}"
                z.writestr(f"{kind}/{name}" if prefix else name, data)
    return folder


def loose_source(folder: Path, stems: list[str]) -> Path:
    for kind in ("semantic", "wav"):
        (folder / kind).mkdir(parents=True, exist_ok=True)
    for i, stem in enumerate(stems):
        (folder / "semantic" / f"{stem}_semantic.npy").write_bytes(npy_bytes(tokens(i)))
        (folder / "wav" / f"{stem}_wav.wav").write_bytes(wav_bytes(i))
    return folder


class StubHubert:
    """Just enough of HubertEncoder for extract_features: 4 zero features every 320 samples."""

    width = 4

    class framing:  # noqa: N801 - as HubertEncoder.framing
        @staticmethod
        def n_frames(n: int) -> int:
            return max(1, n // 320)

    def features(self, at16):
        import torch

        return torch.zeros(self.framing.n_frames(at16.shape[-1]), self.width)


@pytest.fixture
def existing(tmp_path) -> Path:
    """A dataset that already holds pairs "0" and "1"."""
    dest = tmp_path / "ds"
    assert dataset.import_pairs(zipped_source(tmp_path / "good", ["0", "1"]), dest)["imported"] == 2
    return dest


def still_whole(dest: Path, manifest_before: bytes) -> None:
    """The manifest is byte for byte as it was, and every path that reads it still works."""
    assert (dest / "manifest.jsonl").read_bytes() == manifest_before
    assert [r["id"] for r in dataset.read_manifest(dest)] == ["0", "1"]
    assert dataset.extract_features(dest, StubHubert()) in (0, 2)
    assert [pair[0] for pair in dataset.load_split(dest, None)] == ["0", "1"]
    assert sorted(p.name for p in (dest / "wav").iterdir()) == ["0.wav", "1.wav"]  # nothing else written


def refused_by_name(report: dict, *names: str) -> str:
    """Every name is in the refused lines, quoted and escaped; the lines print as one line each."""
    assert report["imported"] == 0, report
    lines = report.get("refused")
    assert lines, f"nothing was refused: {report}"
    text = "\n".join(lines)
    for name in names:
        assert repr(name)[1:50] in text, (name, text)  # escaped as repr escapes it
    for line in lines:
        assert line.isprintable() and len(line) < 600, line
    return text


# ---- the one function ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOOD_IDS)
def test_ordinary_ids_are_ids(name):
    assert dataset.pair_id(name) == name and dataset.id_problem(name) is None


@pytest.mark.parametrize("name", [*BAD_IDS, "x\x00y", "a/b", "/abs", 7, None])
def test_every_other_name_is_refused_with_the_name_shown_safely(name):
    with pytest.raises(DatasetError) as e:
        dataset.pair_id(name, "src: ")
    assert isinstance(e.value, HubertQuantError) and str(e.value).startswith("src: ")
    assert str(e.value).isprintable() and len(str(e.value)) < 400  # no raw newline or escape, not 230 chars twice


# ---- import from zips and folders ----------------------------------------------------------------------


@pytest.mark.parametrize("stem", BAD_IDS, ids=ascii)
def test_a_zip_member_whose_name_is_not_an_id_is_refused_by_name(tmp_path, existing, stem):
    before = (existing / "manifest.jsonl").read_bytes()
    source = zipped_source(tmp_path / "src", [stem])
    refused_by_name(dataset.import_pairs(source, existing), f"semantic/{stem}_semantic.npy", f"wav/{stem}_wav.wav")
    still_whole(existing, before)


@pytest.mark.parametrize("path", BAD_PATHS, ids=ascii)
def test_a_zip_member_in_a_folder_outside_the_archive_is_refused_by_name(tmp_path, existing, path):
    before = (existing / "manifest.jsonl").read_bytes()
    folder, stem = path.rsplit("/", 1)
    source = tmp_path / "src"
    source.mkdir()
    for kind, data, suffix in (("semantic", npy_bytes(tokens(0)), "npy"), ("wav", wav_bytes(0), "wav")):
        with zipfile.ZipFile(source / f"{kind}.zip", "w") as z:
            z.writestr(zipfile.ZipInfo(f"{folder}/{stem}_{kind}.{suffix}"), data)
    refused_by_name(dataset.import_pairs(source, existing), f"{folder}/{stem}_semantic.npy")
    still_whole(existing, before)


@pytest.mark.parametrize("stem", [s for s in BAD_IDS if "/" not in s], ids=ascii)
def test_a_loose_file_whose_name_is_not_an_id_is_refused_by_name(tmp_path, existing, stem):
    before = (existing / "manifest.jsonl").read_bytes()
    source = loose_source(tmp_path / "src", [stem])
    refused_by_name(dataset.import_pairs(source, existing), f"{stem}_semantic.npy", f"{stem}_wav.wav")
    still_whole(existing, before)


@pytest.mark.parametrize("twins", [["Abc", "abc"], ["ABC", "abc", "aBc"], ["x.Y", "x.y"]], ids=str)
@pytest.mark.parametrize("layout", ["zip", "loose"])
def test_ids_that_differ_only_in_letter_case_are_all_refused_by_name(tmp_path, existing, twins, layout):
    before = (existing / "manifest.jsonl").read_bytes()
    source = (zipped_source if layout == "zip" else loose_source)(tmp_path / "src", twins)
    refused_by_name(dataset.import_pairs(source, existing), *(f"{t}_wav.wav" for t in twins))
    still_whole(existing, before)


@pytest.mark.parametrize("layout", ["zip", "loose"])
def test_unicode_twins_nfc_nfd_and_look_alikes_are_refused_by_name(tmp_path, existing, layout):
    twins = ["\u00e9t\u00e9", "e\u0301te\u0301", "p\u0430ir", "\uff50\uff41\uff49\uff52"]  # NFC, NFD, Cyrillic, wide
    before = (existing / "manifest.jsonl").read_bytes()
    source = (zipped_source if layout == "zip" else loose_source)(tmp_path / "src", twins)
    refused_by_name(dataset.import_pairs(source, existing), *(f"{t}_semantic.npy" for t in twins))
    still_whole(existing, before)


def test_an_id_that_differs_from_one_in_the_dataset_only_in_case_is_refused(tmp_path, existing):
    before = (existing / "manifest.jsonl").read_bytes()
    dataset.import_pairs(zipped_source(tmp_path / "a", ["abc"]), existing)
    with_abc = (existing / "manifest.jsonl").read_bytes()
    assert with_abc != before
    report = dataset.import_pairs(zipped_source(tmp_path / "b", ["ABC"]), existing)
    assert "ABC_wav.wav" in refused_by_name(report, "wav/ABC_wav.wav") and "'abc'" in "\n".join(report["refused"])
    assert (existing / "manifest.jsonl").read_bytes() == with_abc


def test_the_same_member_twice_in_a_zip_is_refused_but_a_zip_unpacked_next_to_itself_is_one_pair(tmp_path):
    source = zipped_source(tmp_path / "src", ["0"])
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(source / "semantic.zip", "a") as z:
        z.writestr("semantic/0_semantic.npy", npy_bytes(tokens(5)))
    report = dataset.import_pairs(source, tmp_path / "ds")
    assert report["imported"] == 0 and sum("0_semantic.npy" in line for line in report["refused"]) == 2
    # The published zips, unpacked where they are: the same ids loose and zipped are the same pairs.
    unpacked = zipped_source(tmp_path / "both", ["0", "1"])
    loose_source(unpacked, ["0", "1"])
    report = dataset.import_pairs(unpacked, tmp_path / "ds2")
    assert report["imported"] == 2 and "refused" not in report


def test_good_pairs_are_imported_next_to_refused_ones_and_the_cli_names_each_refusal(tmp_path):
    source = zipped_source(tmp_path / "src", ["0", ".hid_x", "x\ny", "1", "a" * 230])
    result = run_cli("dataset", "import", str(source), "--out", str(tmp_path / "ds"))
    assert result.returncode == 0, result.stderr
    assert "imported 2 pairs" in result.stdout
    assert "skipped 6 files that cannot be pairs" in result.stderr
    for shown in ("'semantic/.hid_x_semantic.npy'", "'wav/x\\ny_wav.wav'", "characters)"):
        assert shown in result.stderr
    assert all(line.isprintable() for line in result.stderr.splitlines())
    assert [r["id"] for r in dataset.read_manifest(tmp_path / "ds")] == ["0", "1"]


@pytest.mark.slow
def test_after_a_hostile_import_dataset_features_runs_from_the_command_line(tiny, tmp_path):
    """The finding's end: the manifest stays readable, so `dataset features` (tiny HuBERT) just works."""
    source = zipped_source(tmp_path / "src", ["0", ".hid_1", "x\ny", "..\\z", "CON", "1"])
    ds = tmp_path / "ds"
    assert run_cli("dataset", "import", str(source), "--out", str(ds)).returncode == 0
    loose = loose_source(tmp_path / "loose", ["2"])
    (loose / "wav" / "3_wav.wav").symlink_to("/dev/zero")
    os.mkfifo(loose / "wav" / "4_wav.wav")
    imported = run_cli("dataset", "import", str(loose), "--out", str(ds))
    assert imported.returncode == 0 and "imported 1 pairs" in imported.stdout, imported.stderr
    feats = run_cli("dataset", "features", "--out", str(ds), "--hubert", str(tiny / "hubert"), "--device", "cpu")
    assert feats.returncode == 0 and "for 3 pairs" in feats.stdout, feats.stderr[-2000:]
    assert sorted(p.name for p in (ds / "features").iterdir()) == ["0.npy", "1.npy", "2.npy"]


# ---- the manifest holds valid rows only ----------------------------------------------------------------


@pytest.mark.parametrize("row", [{"id": ".hid", "split": "train"}, {"id": "a\nb"}, {"id": "x" * 230},
                                 {"id": "A"}, {"id": "ok", "split": "test"}, {"id": 5}], ids=str)
def test_the_manifest_is_never_written_with_a_row_that_is_not_a_pair(existing, row):
    before = (existing / "manifest.jsonl").read_bytes()
    rows = [*dataset.read_manifest(existing), {"id": "a", "split": "val"}, row]
    with pytest.raises(DatasetError, match="not written"):
        dataset.write_manifest(existing, rows)
    still_whole(existing, before)


@pytest.mark.parametrize("row", ['{"id": ".hid_x"}', '{"id": "x\\ny"}', '{"id": "CON"}', '{"id": "0"}',
                                 '{"id": "%s"}' % ("a" * 230), '{"id": "p\\u0430ir"}'])
def test_a_manifest_line_that_is_not_a_pair_is_named(existing, row):
    with open(existing / "manifest.jsonl", "a") as f:
        f.write(row + "\n")
    with pytest.raises(DatasetError, match="line 3 is not a pair") as e:
        dataset.read_manifest(existing)
    assert str(e.value).isprintable()


# ---- zip members that lie about their size -------------------------------------------------------------


def lying_zip(path: Path, name: str, real: int, declared: int, *, crc_of_declared: bool) -> None:
    """A deflate zip by hand: one member ``name`` holding ``real`` bytes (a small wav, then zeros)
    whose local and central headers both say ``declared`` bytes."""
    head = wav_bytes(0)
    compressor, crc, chunks = zlib.compressobj(1, zlib.DEFLATED, -15), 0, []
    for block in (head, *(bytes(1 << 20) for _ in range((real - len(head)) >> 20))):
        chunks.append(compressor.compress(block))
        crc = zlib.crc32(block, crc)
    data = b"".join(chunks) + compressor.flush()
    if crc_of_declared:  # the header is consistent with what it declares: only the stream holds more
        crc = zlib.crc32((head + bytes(declared))[:declared])
    raw = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), declared, len(raw), 0) + raw
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), declared,
                          len(raw), 0, 0, 0, 0, 0, 0) + raw
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    path.write_bytes(local + data + central + end)


def import_in_a_process(source: Path, dest: Path, *, timeout: float = 120, memory_gb: float = 3) -> dict:
    """import_pairs in a fresh process under a memory limit: {"report"|"refused"|"crash": ..., "grew_kb": n}.
    A process that does not end within ``timeout`` fails the test (a hang), never the test run."""
    code = textwrap.dedent(f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({int(memory_gb * 2**30)}, {int(memory_gb * 2**30)}))
        sys.path.insert(0, {str(ROOT)!r})
        from hubert_quant.errors import HubertQuantError
        from hubert_quant.training.dataset import import_pairs
        def peak_kb():  # VmHWM starts anew at exec; ru_maxrss keeps the forking parent's (pytest's) peak
            return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1])
        before = peak_kb()
        try:
            out = {{"report": import_pairs({str(source)!r}, {str(dest)!r})}}
        except HubertQuantError as e:
            out = {{"refused": str(e)}}
        except BaseException as e:
            out = {{"crash": f"{{type(e).__name__}}: {{e}}"}}
        out["grew_kb"] = peak_kb() - before
        print(json.dumps(out))
    """)
    return last_json_of(code, "the import", timeout)


@pytest.mark.parametrize("declared", [1000, 60 * 2**20], ids=["1000 B", "60 MiB"])
def test_a_zip_member_holding_far_more_than_its_header_says_is_refused_with_bounded_memory(tmp_path, declared):
    source = zipped_source(tmp_path / "src", ["0"])
    lying_zip(source / "wav.zip", "wav/0_wav.wav", 512 * 2**20, declared, crc_of_declared=False)
    assert (source / "wav.zip").stat().st_size < 4 * 2**20
    out = import_in_a_process(source, tmp_path / "ds")
    assert "refused" in out, out
    assert "'wav/0_wav.wav'" in out["refused"] and "\n" not in out["refused"]
    assert out["grew_kb"] < 200_000, out  # KB: it unpacks to 512 MiB (~1 GB taken before); at most 60 MiB is read
    assert not (tmp_path / "ds").exists()


def test_a_lying_member_whose_checksum_matches_what_it_declares_costs_only_what_it_declares(tmp_path):
    source = zipped_source(tmp_path / "src", ["0"])
    lying_zip(source / "wav.zip", "wav/0_wav.wav", 512 * 2**20, 4000, crc_of_declared=True)
    out = import_in_a_process(source, tmp_path / "ds")
    assert "crash" not in out, out
    assert out["grew_kb"] < 200_000, out
    if "refused" in out:
        assert "'wav/0_wav.wav'" in out["refused"]


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_a_zip_member_unpacked_in_one_step_is_refused_unread(tmp_path, method):
    """zipfile unpacks a bzip2 or lzma read of any size at once (a few KB can become gigabytes)."""
    source = zipped_source(tmp_path / "src", ["0"])
    with zipfile.ZipFile(source / "wav.zip", "w", method) as z:
        z.writestr("wav/0_wav.wav", wav_bytes(0))
    with pytest.raises(DatasetError, match="'wav/0_wav.wav' is compressed with method"):
        dataset.import_pairs(source, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("damage", ["crc", "not a zip", "encrypted"])
def test_a_damaged_zip_is_our_one_line_error(tmp_path, damage):
    source = zipped_source(tmp_path / "src", ["0"])
    archive = source / "wav.zip"
    data = bytearray(archive.read_bytes())
    if damage == "crc":
        with zipfile.ZipFile(archive) as z:
            info = z.infolist()[0]
        start = info.header_offset + 30 + len(info.filename) + 100
        data[start:start + 8] = bytes(8)  # inside the deflate stream: bad data or a bad CRC
    elif damage == "not a zip":
        data = bytearray(b"not a zip at all" * 10)
    else:
        data[6] |= 1  # the local header's "encrypted" flag, then the central directory's
        central = data.index(b"PK\x01\x02")
        data[central + 8] |= 1
    archive.write_bytes(bytes(data))
    with pytest.raises(DatasetError) as e:
        dataset.import_pairs(source, tmp_path / "ds")
    assert "wav.zip" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("seconds, rate, channels, fmt", [(121, 8_000, 1, "WAV"), (20, 192_000, 8, "FLAC")],
                         ids=["121 s", "20 s of 8 channels at 192 kHz"])
def test_audio_longer_or_larger_than_a_pair_is_refused_from_its_header(tmp_path, seconds, rate, channels, fmt):
    source = zipped_source(tmp_path / "src", ["0"])
    (source / "wav.zip").unlink()
    silence = np.zeros((seconds * rate, channels), np.int16)  # FLAC packs it to almost nothing
    sf.write(tmp_path / f"x.{fmt.lower()}", silence, rate, format=fmt)
    with zipfile.ZipFile(source / "wav.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(tmp_path / f"x.{fmt.lower()}", f"wav/0_wav.{fmt.lower()}")
    del silence
    with pytest.raises(DatasetError, match=r"'wav/0_wav\.\w+': the audio is .* a training pair is a few seconds"):
        dataset.import_pairs(source, tmp_path / "ds")
    assert not (tmp_path / "ds").exists()


# ---- links, FIFOs, devices and folders where files should be ------------------------------------------


def plant(wav: Path, what: str, outside: Path) -> None:
    if what == "link to /dev/zero":
        wav.symlink_to("/dev/zero")
    elif what == "link to a file outside":
        outside.write_bytes(wav_bytes(7))
        wav.symlink_to(outside)
    elif what == "relative link":
        outside.write_bytes(wav_bytes(7))
        wav.symlink_to(os.path.relpath(outside, wav.parent))
    elif what == "dangling link":
        wav.symlink_to(wav.parent / "nowhere.wav")
    elif what == "FIFO":
        os.mkfifo(wav)
    elif what == "folder":
        wav.mkdir()
        (wav / "inside.wav").write_bytes(wav_bytes(7))
    elif what == "hard link":  # a plain file: the same inode, nothing to refuse
        outside.write_bytes(wav_bytes(7))
        os.link(outside, wav)


PLANTS = ["link to /dev/zero", "link to a file outside", "relative link", "dangling link", "FIFO", "folder"]


@pytest.mark.parametrize("what", PLANTS)
def test_a_link_fifo_or_folder_among_the_loose_files_is_refused_by_name_unopened(tmp_path, what):
    source = loose_source(tmp_path / "src", ["0", "1"])
    (source / "semantic" / "x_semantic.npy").write_bytes(npy_bytes(tokens(3)))
    plant(source / "wav" / "x_wav.wav", what, tmp_path / "outside.wav")
    out = import_in_a_process(source, tmp_path / "ds", timeout=60, memory_gb=1.5)
    assert "report" in out, out
    assert out["report"]["imported"] == 2
    line = " ".join(out["report"]["refused"])
    assert "'x_wav.wav'" in line and ("a link" in line or "a FIFO" in line or "a folder" in line), line
    assert [r["id"] for r in dataset.read_manifest(tmp_path / "ds")] == ["0", "1"]


def test_a_hard_link_is_a_plain_file(tmp_path):
    source = loose_source(tmp_path / "src", ["0"])
    (source / "semantic" / "x_semantic.npy").write_bytes(npy_bytes(tokens(3)))
    plant(source / "wav" / "x_wav.wav", "hard link", tmp_path / "outside.wav")
    assert dataset.import_pairs(source, tmp_path / "ds")["imported"] == 2


@pytest.mark.parametrize("what", ["folder is a link", "zip is a FIFO", "zip is a link to /dev/zero"])
def test_a_planted_side_folder_or_zip_stops_the_import_before_anything_is_written(tmp_path, what):
    source = loose_source(tmp_path / "src", ["0"])
    if what == "folder is a link":
        (tmp_path / "elsewhere").mkdir()
        (source / "wav" / "0_wav.wav").rename(tmp_path / "elsewhere" / "0_wav.wav")
        (source / "wav").rmdir()
        (source / "wav").symlink_to(tmp_path / "elsewhere")
    elif what == "zip is a FIFO":
        os.mkfifo(source / "wav.zip")
    else:
        (source / "wav.zip").symlink_to("/dev/zero")
    out = import_in_a_process(source, tmp_path / "ds", timeout=60, memory_gb=1.5)
    assert "refused" in out, out
    assert "wav" in out["refused"] and ("a link" in out["refused"] or "a FIFO" in out["refused"])
    assert not (tmp_path / "ds").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device file needs root")
def test_a_device_among_the_loose_files_is_refused_unopened(tmp_path):
    source = loose_source(tmp_path / "src", ["0"])
    (source / "semantic" / "x_semantic.npy").write_bytes(npy_bytes(tokens(3)))
    try:
        os.mknod(source / "wav" / "x_wav.wav", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers
    except PermissionError:
        pytest.skip("this container may not make devices")
    out = import_in_a_process(source, tmp_path / "ds", timeout=60, memory_gb=1.5)
    assert "a device" in " ".join(out["report"]["refused"]), out


def features_in_a_process(dest: Path, call: str = "extract_features", timeout: float = 60) -> dict:
    code = textwrap.dedent(f"""
        import json, resource, sys
        # torch reserves far more address space than it uses: limit the data it can really take
        resource.setrlimit(resource.RLIMIT_DATA, ({int(2 * 2**30)}, {int(2 * 2**30)}))
        sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / "tests")!r})
        from test_dataset_guard import StubHubert
        from hubert_quant.errors import HubertQuantError
        from hubert_quant.training import dataset
        try:
            second = StubHubert() if {call == "extract_features"} else None
            out = {{"done": repr(dataset.{call}({str(dest)!r}, second))}}
        except HubertQuantError as e:
            out = {{"refused": str(e)}}
        except BaseException as e:
            out = {{"crash": f"{{type(e).__name__}}: {{e}}"}}
        print(json.dumps(out))
    """)
    return last_json_of(code, call, timeout)


def last_json_of(code: str, what: str, timeout: float) -> dict:
    """The JSON line ``code`` printed last, run in a fresh Python; a hang fails the test, never the run."""
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} did not end within {timeout} s (it hangs)")
    assert result.stdout.strip(), result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("what", ["link to /dev/zero", "link to a file outside", "FIFO", "folder"])
def test_a_planted_wav_in_the_dataset_stops_features_by_name_unopened(existing, tmp_path, what):
    (existing / "wav" / "1.wav").unlink()
    plant(existing / "wav" / "1.wav", what, tmp_path / "outside.wav")
    out = features_in_a_process(existing)
    assert "refused" in out, out
    assert "wav/1.wav" in out["refused"] and "not opened" in out["refused"]


@pytest.mark.parametrize("kind", ["features", "semantic"])
@pytest.mark.parametrize("what", ["link to a file outside", "FIFO"])
def test_a_planted_npy_in_the_dataset_is_never_read(existing, tmp_path, kind, what):
    assert dataset.extract_features(existing, StubHubert()) == 2
    real = existing / kind / "1.npy"
    (tmp_path / "outside.wav").write_bytes(real.read_bytes())  # a valid array, outside the dataset
    real.unlink()
    if what == "FIFO":
        os.mkfifo(real)
    else:
        real.symlink_to(tmp_path / "outside.wav")
    out = features_in_a_process(existing, "load_split")
    assert "refused" in out and f"{kind}/1.npy" in out["refused"], out
    if kind == "features":  # features are ours to make: a planted one is replaced by a real file
        assert features_in_a_process(existing) == {"done": "1"}
        assert real.is_file() and not real.is_symlink()


# ---- one guard: the architecture -----------------------------------------------------------------------


def test_pair_files_and_the_manifest_are_named_in_one_place():
    """In training/, only dataset.pair_file makes a path from an id and only dataset.open_plain opens
    a file (os.open; no open(), np.load of a path, Path.read_* or zipfile.ZipFile of a path); only
    dataset.py names the manifest."""
    training = ROOT / "hubert_quant" / "training"
    for module in ("ids.py", "dataset.py", "sources.py"):
        tree = ast.parse((training / module).read_text(encoding="utf-8"))
        owners = {}
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef):
                for node in ast.walk(function):
                    owners.setdefault(id(node), function.name)
        for node in ast.walk(tree):
            where = f"{module} line {getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.JoinedStr):  # an f-string that ends like a pair's file
                tail = node.values[-1]
                if isinstance(tail, ast.Constant) and str(tail.value).endswith((".wav", ".npy")):
                    pytest.fail(f"{where}: a pair's file name made outside pair_file")
            if isinstance(node, ast.Call):
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                base = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
                if (base, name) == ("os", "open"):
                    assert owners.get(id(node)) == "open_plain", f"{where}: os.open outside open_plain"
                of_a_zip = isinstance(func, ast.Attribute) and getattr(func.value, "attr", "") == "archive"
                by_path = name in ("open", "read_bytes", "read_text", "fromfile") and base != "os" and not of_a_zip
                assert not by_path, f"{where}: {name}() opens a file outside open_plain"
                if (base, name) == ("np", "load"):  # from a file object open_plain gave, or bytes read
                    assert isinstance(node.args[0], ast.Name) and node.args[0].id in ("f", "data"), where
                if name == "ZipFile":
                    arg = node.args[0] if node.args else None
                    assert isinstance(arg, ast.Name) and arg.id == "handle", f"{where}: a zip opened by path"
    for path in (ROOT / "hubert_quant").rglob("*.py"):
        if path != training / "dataset.py":
            assert "manifest.jsonl" not in path.read_text(encoding="utf-8"), path
