"""The Gradio app: tab builders, event functions, the HTTP API, and a real browser."""

import os
import shutil
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, chromium_page, events, pick_best_part, speech_like

from hubert_quant import library, models, ui

DOCS = ROOT / "docs"


def no_progress(*args, **kwargs):
    pass


@pytest.fixture
def settings(tiny, tmp_path):
    return ui.Settings(speakers_dir=tmp_path / "speakers", device="cpu", quantizer=str(tiny / "quantizer-v1.pth"),
                       hubert=str(tiny / "hubert"), codec=str(tiny / "encodec_24khz.th"),
                       outputs_dir=tmp_path / "outputs")


@pytest.fixture
def talk(tmp_path):
    path = tmp_path / "talk.wav"
    sf.write(path, speech_like(4.0, 22_050), 22_050)
    return path


def test_each_tab_builds_inside_a_bare_blocks(settings):
    for builder in (ui.clone_tab, ui.mask_tab, ui.speakers_tab, ui.models_tab):
        with gr.Blocks() as blocks, gr.Tab("x"):
            builder(settings)
        assert len(blocks.blocks) > 3
    app = ui.build_app(settings)
    assert {"/clone", "/mask", "/preview"} <= {f"/{name}" for _, name, _ in events(app) if name}


def test_clone_event_saves_into_the_library(settings, talk):
    path, status = ui.do_clone(str(talk), 0, 3.5, "Large English", "Alice", True, settings=settings,
                               progress=no_progress)
    assert "Saved **Alice**" in status
    # The page is given a copy in the outputs folder, never the library's own file.
    assert Path(path).name == "Alice.npz" and Path(path).is_relative_to(settings.outputs_dir)
    assert Path(path).read_bytes() == (settings.speakers_dir / "Alice.npz").read_bytes()
    assert [s.name for s in library.list_speakers(settings.speakers_dir)] == ["Alice"]
    with pytest.raises(gr.Error, match="already exists"):
        ui.do_clone(str(talk), 0, 0, "Large English", "Alice", True, settings=settings, progress=no_progress)


def test_clone_needs_consent_and_input_and_explains_bad_audio(settings, talk, tmp_path):
    with pytest.raises(gr.Error, match="consent"):
        ui.do_clone(str(talk), 0, 0, "Large English", "x", False, settings=settings, progress=no_progress)
    with pytest.raises(gr.Error, match="Upload or record"):
        ui.do_clone(None, 0, 0, "Large English", "x", True, settings=settings, progress=no_progress)
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, speech_like(3.0, 16_000) * 0, 16_000)
    with pytest.raises(gr.Error, match="silent"):
        ui.do_clone(str(quiet), 0, 0, "Large English", "x", True, settings=settings, progress=no_progress)
    notes = tmp_path / "uploads-area" / "notes.wav"
    notes.parent.mkdir()
    notes.write_text("not audio at all")
    with pytest.raises(gr.Error) as refused:
        ui.do_clone(str(notes), 0, 0, "Large English", "x", True, settings=settings, progress=no_progress)
    assert "notes.wav" in str(refused.value) and "uploads-area" not in str(refused.value)
    assert library.list_speakers(settings.speakers_dir) == []


def test_clip_hints(talk):
    assert "too short" in ui.clip_hint(str(talk), 0, 0.5)
    assert "5 to 15 s works best" in ui.clip_hint(str(talk), 0, 3)
    assert "mid-speech" in ui.clip_hint(str(talk), 0, 0)  # the signal never pauses
    assert ui.clip_hint(None, 0, 0) == ""


def test_models_table_lists_the_catalogue():
    names = [row[0] for row in ui.model_rows()]
    assert "Large English" in names and "HuBERT base" in names and "EnCodec 24 kHz" in names


@pytest.mark.slow
def test_mask_event_writes_a_wav_in_the_outputs_folder(settings, talk, bark_installed):
    path, status = ui.do_clone(str(talk), 0, 0, "Large English", "Alice", True, settings=settings,
                               progress=no_progress)
    out = ui.do_mask(str(talk), ui.MODES[1], "Alice", None, 3, 0.7, 0.5, False, settings=settings,
                     progress=no_progress)
    assert Path(out).parent == settings.outputs_dir and abs(sf.info(out).duration - 4.0) < 0.15
    with pytest.raises(gr.Error, match="Pick a speaker from the list"):
        ui.do_mask(str(talk), ui.MODES[1], "nobody", None, 3, 0.7, 0.5, False, settings=settings,
                   progress=no_progress)


# ---- the running app --------------------------------------------------------------------------------


@pytest.fixture
def running(settings):
    app, url = ui.launch(settings, block=False)
    yield app, url, settings
    app.close()


@pytest.mark.standalone
def test_two_clones_at_once_through_the_api(running, talk):
    from gradio_client import Client, handle_file

    _, url, settings = running
    results, errors = {}, []

    def clone(name):
        try:
            results[name] = Client(url, verbose=False).predict(
                handle_file(str(talk)), 0, 0, "Large English", name, True, api_name="/clone")
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=clone, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and set(results) == {"one", "two"}
    assert {s.name for s in library.list_speakers(settings.speakers_dir)} == {"one", "two"}
    for name, (_, status) in results.items():
        assert f"Saved **{name}**" in status


@pytest.mark.standalone
@pytest.mark.browser
def test_browser_clone_then_library(running, talk, tmp_path):
    """Upload, tick consent, Clone, and find the speaker in the Speakers tab, in Chromium."""
    _, url, settings = running
    with chromium_page(1280, 1000) as page:
        page.goto(url)
        page.get_by_role("tab", name="Clone").click()
        page.locator("input[type=file]").first.set_input_files(str(talk))
        page.get_by_label("Speaker name").fill("Browser Alice")
        page.get_by_label("The person speaking agreed to have their voice cloned").check()
        page.get_by_role("button", name="Clone", exact=True).click()
        page.get_by_text("Saved Browser Alice").wait_for(timeout=240_000)
        assert page.get_by_text("Error").count() == 0
        shots = [("clone", "Clone")]
        page.screenshot(path=str(tmp_path / "clone.png"), full_page=True)
        # One made elsewhere (the command line, another tab) with this page open: the mask tab's picker
        # reads the library again when it is opened.
        shutil.copy(settings.speakers_dir / "Browser Alice.npz", settings.speakers_dir / "Made elsewhere.npz")
        page.get_by_role("tab", name="Voice mask").click()
        page.get_by_label("Speaker from the library, or a Bark preset").click()
        page.get_by_role("option", name="Made elsewhere", exact=True).wait_for(timeout=30_000)
        page.keyboard.press("Escape")
        # Opening the Speakers tab after a clone lists it, without Refresh or a reload (before: the table
        # was the one built when the page loaded, and was once seen empty right after a clone).
        page.get_by_role("tab", name="Speakers").click()
        page.locator("text='Made elsewhere' >> visible=true").first.wait_for(timeout=10_000)
        page.reload()  # a fresh page lists the new speaker without pressing Refresh
        page.get_by_role("tab", name="Speakers").click()
        page.locator("text='Browser Alice' >> visible=true").first.wait_for(timeout=30_000)
        for name, tab in [("speakers", "Speakers"), ("mask", "Voice mask"), ("models", "Models")]:
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(500)
            page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
            shots.append((name, tab))
    assert (settings.speakers_dir / "Browser Alice.npz").is_file()
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):  # refresh the README's pictures on purpose only
        for name, _ in shots:
            shutil.copy(tmp_path / f"{name}.png", DOCS / f"ui-{name}.png")


@pytest.mark.standalone
@pytest.mark.browser
def test_browser_a_failed_pick_shows_one_error_and_the_models_table_shows_every_row(running, tmp_path, tiny,
                                                                                  monkeypatch):
    """Before: a file that is not audio, then Pick, put "Error" on Start, End and the picture beside the
    message; the Models table scrolled inside a short box, rows below "Bark text" hidden, paths cut."""
    from hubert_quant.models import catalogue

    _, url, settings = running
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are meeting notes, not a recording\n" * 50)
    with chromium_page(1280, 1100) as page:
        page.goto(url)
        page.get_by_role("tab", name="Clone").click()
        page.locator("input[type=file]").first.set_input_files(str(not_audio))
        page.get_by_text("This file could not be read as audio").wait_for(timeout=30_000)
        page.get_by_role("button", name="Pick the best part").click()
        toast = page.get_by_text("notes.wav: cannot decode this file as audio (Format not recognised)")
        toast.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)
        badges = page.locator(".error:text-is('Error'):not(.toast-title)").filter(visible=True)  # not the message
        assert badges.count() == 1, badges.count()  # one, on the picture where Pick shows what it found
        assert page.locator("#hq-clip-picture").locator(".error:text-is('Error')").count() == 1
        page.screenshot(path=str(tmp_path / "bad-upload.png"), full_page=True)

        # A model put in place elsewhere with this page open (a host's folder here; `models import` alike):
        # the Models tab reads the models again when it is opened (before: as they were at the app's start).
        (tmp_path / "host-models").mkdir()
        shutil.copy(tiny / "quantizer-v1.pth", tmp_path / "host-models" / "tokenizer_large.pth")
        monkeypatch.setattr(models.paths, "_host_dirs", [])  # this test's folder only, undone after it
        models.add_host_dir(tmp_path / "host-models")
        page.get_by_role("tab", name="Models").click()
        names = [e.name for e in catalogue.entries()]
        table = page.locator(".hq-table").filter(visible=True).first
        table.get_by_text(names[-1], exact=True).first.wait_for(timeout=30_000)
        for name in names:
            assert table.get_by_text(name, exact=True).filter(visible=True).count() >= 1, name
        # Nothing inside the table scrolls or is cut: it grows with its rows, and long paths wrap.
        boxed = table.evaluate("""table => [...table.querySelectorAll('*')]
            .filter(e => e.clientWidth > 0 && e.clientHeight > 0 && e.checkVisibility({visibilityProperty: true}))
            .filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 2)
            .map(e => [e.className, e.textContent.slice(0, 40), e.scrollWidth, e.clientWidth])""")
        assert boxed == [], boxed
        large = models.locate(catalogue.find("Large English"))
        table.get_by_text(str(large), exact=True).first.wait_for(timeout=10_000)  # here, with its path
        page.screenshot(path=str(tmp_path / "models.png"), full_page=True)
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):
        shutil.copy(tmp_path / "bad-upload.png", DOCS / "ui-bad-upload.png")
        shutil.copy(tmp_path / "models.png", DOCS / "ui-models.png")


def test_mask_tab_speaker_list_refreshes_when_opened(settings):
    import numpy as np

    from hubert_quant.speaker import make_prompt

    app = ui.build_app(settings)
    library.save(settings.speakers_dir, "Cloned later", make_prompt(np.arange(100), np.zeros((8, 150), np.int64)))
    refresh = next(fn for fn, _, _ in events(app) if getattr(fn, "__name__", "") == "refresh_choices")
    assert refresh()["choices"] == ["Cloned later"]


def test_adding_an_uploaded_quantizer_keeps_a_checked_copy_and_never_replaces_one(settings, tiny, tmp_path):
    from hubert_quant.models import catalogue

    app = ui.build_app(settings)
    add = next(fn for fn, _, _ in events(app) if getattr(fn, "__name__", "") == "do_add")
    _, message, _ = add("My upload", "", "", str(tiny / "quantizer-v0.pth"), "CYM")
    kept = catalogue.user_catalogue_path().parent / "quantizers" / "My upload.pth"
    assert message == "Added 'My upload'." and kept.read_bytes() == (tiny / "quantizer-v0.pth").read_bytes()
    with pytest.raises(gr.Error, match="already exists"):
        add("My upload", "", "", str(tiny / "quantizer-v1.pth"), "")
    assert kept.read_bytes() == (tiny / "quantizer-v0.pth").read_bytes()
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(gr.Error):
        add("Junk", "", "", str(tmp_path / "junk.pth"), "")
    assert not (kept.parent / "Junk.pth").exists() and [e.name for e in catalogue.entries() if e.user] == ["My upload"]


def test_quantizer_labels_say_only_what_is_known_and_the_models_box_starts_at_the_default(settings):
    from hubert_quant.models.catalogue import DEFAULT_QUANTIZER, ModelEntry, find

    assert ui.quantizer_label(find("Large English")) == "Large English (English, v1)"
    assert ui.quantizer_label(ModelEntry(name="Local test", kind="quantizer")) == "Local test"
    assert ui.quantizer_label(ModelEntry(name="Mine", kind="quantizer", version=1)) == "Mine (v1)"
    with gr.Blocks() as blocks:
        ui.models_tab(settings)
    boxes = [b for b in blocks.blocks.values() if isinstance(b, gr.Dropdown) and b.label == "Model"]
    assert boxes and boxes[0].value == DEFAULT_QUANTIZER


def test_the_over_size_message_says_how_to_raise_the_limit(tmp_path):
    big = tmp_path / "long.wav"
    big.write_bytes(b"\0" * 1_500_000)
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", max_upload_mb=1, outputs_dir=tmp_path / "out")
    with pytest.raises(gr.Error, match="long.wav is larger than the 1 MB upload limit.*--max-upload-mb"):
        settings.check_upload(str(big))


@pytest.mark.standalone
@pytest.mark.browser
def test_the_app_clones_with_hand_copied_models_given_as_options(tiny, tmp_path, talk):
    """`hubert-quant ui --quantizer/--hubert/--codec` with files copied by hand (the model caches are
    empty): the page shows the quantizer, refuses without consent quietly, then clones."""
    import subprocess
    import sys
    import time

    from conftest import free_port

    copied = tmp_path / "copied-by-hand"
    shutil.copytree(tiny / "hubert", copied / "hubert")
    for name in ("quantizer-v1.pth", "encodec_24khz.th"):
        shutil.copy(tiny / name, copied / name)
    log = tmp_path / "app.log"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "w") as err:
        app = subprocess.Popen([sys.executable, "-m", "hubert_quant", "ui", "--port", str(port), "--device", "cpu",
                                "--speakers-dir", str(tmp_path / "speakers"),
                                "--quantizer", str(copied / "quantizer-v1.pth"), "--hubert", str(copied / "hubert"),
                                "--codec", str(copied / "encodec_24khz.th")], stderr=err, env=env, cwd=tmp_path)
    try:
        deadline = time.time() + 180
        while "Ctrl+C stops it" not in log.read_text() and time.time() < deadline and app.poll() is None:
            time.sleep(0.5)
        assert "Ctrl+C stops it" in log.read_text(), log.read_text()
        with chromium_page(1280, 1000) as page:
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_role("tab", name="Clone").click()
            page.locator("input[type=file]").first.set_input_files(str(talk))
            page.get_by_label("Speaker name").fill("By hand")
            assert "quantizer-v1.pth (chosen when the app was started)" in page.content()
            page.get_by_role("button", name="Clone", exact=True).click()  # no consent yet: refused
            page.get_by_text("Tick the consent box first").first.wait_for(timeout=60_000)
            page.get_by_label("The person speaking agreed to have their voice cloned").check()
            page.get_by_role("button", name="Clone", exact=True).click()
            page.get_by_text("Saved By hand").wait_for(timeout=240_000)
        assert (tmp_path / "speakers" / "By hand.npz").is_file()
        assert "Traceback" not in log.read_text(), log.read_text()  # a routine refusal is not a crash
    finally:
        app.terminate()
        app.wait(timeout=60)


@pytest.mark.slow
def test_a_long_clone_moves_the_page_progress_bar_window_by_window(settings, tmp_path):
    long = tmp_path / "long.wav"
    sf.write(long, speech_like(100.0, 8_000), 8_000)
    seen = []
    ui.do_clone(str(long), 0, 0, "Large English", "Long", True, settings=settings,
                progress=lambda value, desc=None, **_: seen.append((desc, value)))
    hubert = [value for desc, value in seen if desc == "HuBERT features"]
    encodec = [value for desc, value in seen if desc == "EnCodec"]
    assert hubert == [(i, 4) for i in range(5)]  # 30 s windows
    assert encodec == [(i, 16) for i in range(17)]  # 6 s chunks, the last one taking the 4 s left over
    order = [next(i for i, (desc, _) in enumerate(seen) if desc == stage)
             for stage in ("decoding", "HuBERT features", "quantizer", "EnCodec")]
    assert order == sorted(order)


# ---- the best part, and several clips ------------------------------------------------------------


@pytest.fixture(scope="module")
def music_first(tmp_path_factory):
    """espeak-ng speech with a music bed under its first half (tests/recordings.py)."""
    import recordings

    return recordings.with_music(tmp_path_factory.mktemp("music-first"))


def test_pick_the_best_part_fills_start_and_end_and_draws_it(settings, music_first):
    import recordings

    start, end, image, note, speech = ui.do_pick(str(music_first.path), settings=settings, progress=no_progress)
    assert music_first.clean[0] - 0.25 <= start < end <= music_first.clean[1] + 0.05
    assert recordings.is_pause(music_first.speech, end) and f"Picked {start:.2f}-{end:.2f} s" in note
    assert image.ndim == 3 and speech and all(len(stretch) == 2 for stretch in speech)
    moved = ui.clip_picture(str(music_first.path), start + 1.0, end, speech)
    assert moved.shape == image.shape and not np.array_equal(moved, image)  # the shading follows Start/End
    with pytest.raises(gr.Error, match="Upload or record"):
        ui.do_pick(None, settings=settings, progress=no_progress)


def test_clone_with_more_clips_joins_them_into_one_speaker(settings, music_first, tmp_path):
    import recordings

    other = recordings.with_clipping(tmp_path)
    path, status = ui.do_clone(str(music_first.path), 20.0, 24.0, "Large English", "Both", True,
                               [str(other.path)], settings=settings, progress=no_progress)
    assert "from 2 recordings" in status
    from hubert_quant.speaker import load_speaker

    parts = load_speaker(path).metadata["parts"]
    assert {p["source"] for p in parts} == {music_first.path.name, other.path.name}
    mine = next(p for p in parts if p["source"] == music_first.path.name)
    assert (mine["start"], mine["end"], mine["picked"]) == (20.0, 24.0, "given")


@pytest.mark.standalone
@pytest.mark.browser
def test_browser_pick_the_best_part_then_move_it_and_clone(running, music_first, tmp_path):
    """Upload a long recording, press Pick the best part, see the region drawn, move its start, clone."""
    _, url, settings = running
    with chromium_page(1280, 1300) as page:
        page.goto(url)
        page.get_by_role("tab", name="Clone").click()
        start, end = pick_best_part(page, page, music_first)
        start_box = page.get_by_label("Start (s)")
        picture = page.locator("#hq-clip-picture img")
        before = picture.first.get_attribute("src")
        page.screenshot(path=str(tmp_path / "picked.png"), full_page=True)
        moved = round(start + 2.5, 2)  # the user moves the start past the first sentence
        start_box.fill(str(moved))
        start_box.press("Enter")
        page.wait_for_function("([el, old]) => el.getAttribute('src') !== old", arg=[picture.first.element_handle(),
                               before], timeout=30_000)
        page.get_by_label("Speaker name").fill("Picked")
        page.get_by_label("The person speaking agreed to have their voice cloned").check()
        page.get_by_role("button", name="Clone", exact=True).click()
        page.get_by_text("Saved Picked").wait_for(timeout=240_000)
        page.screenshot(path=str(tmp_path / "moved.png"), full_page=True)
    from hubert_quant.speaker import load_speaker

    metadata = load_speaker(settings.speakers_dir / "Picked.npz").metadata
    assert (metadata["start"], metadata["end"]) == (moved, end)  # what the user set, not the first pick
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):
        shutil.copy(tmp_path / "picked.png", DOCS / "ui-clone-pick.png")


def test_inside_a_host_whose_bark_settings_decide_our_tabs_offer_no_bark_choice_of_their_own(settings):
    """audio-webui's Bark settings choose the sizes (its models mix) and the device (Use cpu): a box of
    ours did nothing there, and our device setting 'cuda' stopped our Bark on a machine without one."""
    import dataclasses

    from hubert_quant.bark import adapter

    hosted = dataclasses.replace(settings, bark_settings="audio-webui's Bark settings", host="audio-webui")
    for chosen, small_shown in ((settings, True), (hosted, False)):
        with gr.Blocks() as blocks:
            ui.mask_tab(chosen)
            ui.clone_tab(chosen)
        boxes = [b for b in blocks.blocks.values() if isinstance(b, gr.Checkbox) and "small models" in str(b.label)]
        assert [b.visible for b in boxes] == [small_shown]
        texts = " ".join(str(getattr(b, "value", "")) + str(getattr(b, "label", "")) for b in blocks.blocks.values())
        assert ("follow audio-webui's Bark settings" in texts) is not small_shown
        assert ("~13 GB on first use" in texts) is small_shown  # Hear it says whose Bark it uses
    adapter.share_with_host(adapter.HostBark(load=lambda stage: None, small=lambda stage: False,
                                             offload=lambda: False))
    assert adapter._import_bark(adapter.BarkOptions(device="cuda")) is not None  # the host's Use cpu decides


def test_hear_it_before_the_speaker_was_cloned_says_to_clone_first(settings):
    with pytest.raises(gr.Error, match="no speaker called 'web1' yet: press Clone first"):
        ui.do_preview("web1", "Hello.", settings=settings, progress=no_progress)


def test_a_message_on_the_page_is_text_whatever_a_file_name_holds():
    from hubert_quant.ui import gradio_compat as compat

    error = compat.error('<img src=x onerror="alert(1)">.wav: cannot decode this file as audio\nline two')
    if compat.LEGACY:  # 3.49 shows a message as text
        assert "<img" in error.message
    else:
        assert error.message == ('&lt;img src=x onerror="alert(1)"&gt;.wav: cannot decode this file as audio'
                                 "<br>line two")
