"""The Read a text tab (hubert_quant.ui.read_tab): its events with the tiny models, and in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, chromium_page, events

from hubert_quant import library, ui
from hubert_quant.speaker import make_prompt

DOCS = ROOT / "docs"
# Three sentences of about 100 characters: three chunks (short ones are joined up to 150 characters).
TEXT = ("The old ferry crossed the river every morning at seven, carrying farmers and their baskets of apples. "
        "A goat that nobody claimed stood at the rail, and the postman sat beside it with his heavy leather bag.\n"
        "On the far bank, a schoolteacher waited with the same worn book of poems she read on every crossing.")


def no_progress(*args, **kwargs):
    pass


@pytest.fixture
def settings(tiny, tmp_path):
    settings = ui.Settings(speakers_dir=tmp_path / "speakers", device="cpu", outputs_dir=tmp_path / "outputs")
    rng = np.random.default_rng(3)
    library.save(settings.speakers_dir, "Reader", make_prompt(rng.integers(0, 10_000, 150),
                                                              rng.integers(0, 1024, (8, 225))))
    return settings


def read(settings, text=TEXT, speaker="Reader", takes=1, seed=5):
    return ui.do_read(text, speaker, takes, 0.3, "en", seed, 0.7, 0.7, 0.5, False, settings=settings,
                      progress=no_progress)


def without_time(row: list) -> list:
    """A table row without its Time column (where a chunk is moves when an earlier chunk's length changes)."""
    return row[:2] + row[3:]


def parts_audio(job) -> list[bytes]:
    return [p.read_bytes() for p in sorted(Path(job["out"]).with_suffix(".parts").glob("chunk-*.wav"))]


def test_the_tab_builds_lists_presets_and_refuses_what_it_cannot_read(settings):
    with gr.Blocks() as blocks, gr.Tab("x"):
        ui.read_tab(settings)
    labels = {getattr(b, "label", None) for b in blocks.blocks.values()}
    assert {"Text to read", "Chunk to hear", "Takes per chunk (the best is kept)"} <= labels
    app = ui.build_app(settings)
    assert {"read", "read_again"} <= {name for _, name, _ in events(app) if name}
    choices = ui.speaker_choices(settings)
    assert choices[0] == "Reader" and "v2/en_speaker_6" in choices  # the library first, then Bark's presets
    for text, speaker, takes, message in (
            ("  \n", "Reader", 1, "Paste the text to read first"),
            ("word " * 30_000, "Reader", 1, "this page reads up to 100,000 at once"),  # no hours of Bark per click
            (TEXT, "", 1, "Pick a speaker from the list, or type a Bark preset"),
            (TEXT, "/etc/passwd", 1, "Pick a speaker from the list, or type a Bark preset"),  # never a server path
            (TEXT, "Reader", 9, "Takes per chunk must be 1 to 5")):
        with pytest.raises(gr.Error, match=message):
            read(settings, text, speaker, takes)
    with pytest.raises(gr.Error, match="Read a text first"):
        ui.do_read_again("1. The old ferry", None, settings=settings, progress=no_progress)
    assert ui.do_pick_chunk(None, None) is None
    assert not list(settings.outputs_dir.glob("reading-*"))  # refused before any folder was made


# Bark's text stage in-process, as test_reading's: the standalone stack.
@pytest.mark.standalone
@pytest.mark.slow
def test_reading_writes_a_wav_and_its_chunks_and_one_chunk_is_made_again(settings, bark_installed):
    wav, table, picker, chunk, job = read(settings)
    assert Path(wav).is_relative_to(settings.outputs_dir) and sf.info(wav).samplerate == 24_000
    rows = table.values.tolist()
    assert list(table.columns) == ui.READ_COLUMNS and [r[0] for r in rows] == [1, 2, 3]
    assert "".join(r[1] for r in rows) == TEXT  # the rows' texts, joined, give the text back
    assert picker["choices"] == job["labels"] and picker["value"] == job["labels"][0]
    assert job["labels"][1].startswith("2. A goat that nobody claimed")
    assert chunk == ui.do_pick_chunk(job["labels"][0], job) and Path(chunk).is_file()
    second = ui.do_pick_chunk(job["labels"][1], job)
    assert sf.info(second).duration > 0 and Path(second).read_bytes() == parts_audio(job)[1]
    before, audio_before = rows, parts_audio(job)

    wav2, table2, picker2, chunk2, job2 = ui.do_read_again(job["labels"][1], job, settings=settings,
                                                           progress=no_progress)
    rows2 = table2.values.tolist()
    assert wav2 == wav and job2["out"] == job["out"] and picker2["value"] == job["labels"][1]
    assert "".join(r[1] for r in rows2) == TEXT
    # Only the chunk made again changed: a new seed (a different take) and new audio; the others as they were.
    assert rows2[1][3] != before[1][3], (rows2[1], before[1])
    assert rows2[0] == before[0] and without_time(rows2[2]) == without_time(before[2])  # the third may move in time
    audio_after = parts_audio(job2)
    assert audio_after[1] != audio_before[1] and [audio_after[0], audio_after[2]] == [audio_before[0], audio_before[2]]
    assert Path(chunk2).read_bytes() == audio_after[1]
    assert abs(sf.info(wav2).duration - float(rows2[-1][2].split("–")[1])) < 0.01


# ---- in a browser ------------------------------------------------------------------------------------


def table_rows(panel) -> list[list[str]]:
    """The chunk table's cells as the page shows them (Gradio 6's and 5's Dataframe, 3.49's table)."""
    return panel.locator(".hq-table").filter(visible=True).first.evaluate("""e => {
        const rows = e.querySelectorAll('.virtual-row');  // 6: rows of divs; 5.49 and 3.49: a table's rows
        const cells = rows.length ? [...rows].map(r => r.querySelectorAll('.body-cell'))
            // 3.49 also draws its first row in a table of its own, which sizes the columns: the fullest one
            : [...e.querySelectorAll('table')].map(t => [...t.querySelectorAll('tbody:not(.sizing-body) tr')]
                .filter(r => r.checkVisibility()).map(r => r.querySelectorAll('td')))
                .reduce((a, b) => (b.length > a.length ? b : a), []);
        return cells.map(row => [...row].map(c => c.innerText.trim()));
    }""")


def read_and_make_one_chunk_again(page, panel, speaker: str, pick_option, screenshot: Path) -> None:
    """In a Read a text tab (``panel``): paste TEXT, pick ``speaker``, Read it, see the chunk table, pick the
    second chunk (``pick_option(dropdown, option)`` picks in that Gradio), press Make this chunk again, and
    see that chunk's row change while the others stay."""
    panel.get_by_label("Text to read").fill(TEXT)
    pick_option(panel.get_by_label("Speaker from the library, or a Bark preset"), speaker)
    panel.get_by_role("button", name="Read it").click()
    panel.get_by_text("1 of 1 (seed").filter(visible=True).first.wait_for(timeout=300_000)
    rows = table_rows(panel)
    assert [r[0] for r in rows] == ["1", "2", "3"] and rows[1][1].startswith("A goat"), rows
    assert "Error" not in panel.inner_text()
    pick_option(panel.get_by_label("Chunk to hear"), "2. A goat that nobody claimed")
    panel.get_by_role("button", name="Make this chunk again").click()
    deadline = time.monotonic() + 300
    while table_rows(panel)[1] == rows[1]:  # until that row shows the chunk made again
        assert time.monotonic() < deadline, "the chunk's row did not change"
        page.wait_for_timeout(500)
    page.wait_for_timeout(500)
    after = table_rows(panel)
    # That row has a new take; the others keep theirs (the third may move in time: chunk two's length changed).
    assert after[1][3] != rows[1][3] and [without_time(after[0]), without_time(after[2])] == [
        without_time(rows[0]), without_time(rows[2])], (rows, after)
    assert after[0] == rows[0]
    assert "Error" not in panel.inner_text()
    page.screenshot(path=str(screenshot), full_page=True)


@pytest.mark.standalone
@pytest.mark.browser
@pytest.mark.slow
def test_browser_read_a_text_then_make_one_chunk_again(settings, bark_installed, tmp_path):
    def pick(dropdown, option):
        dropdown.click()
        dropdown.page.get_by_role("option", name=re.compile("^" + re.escape(option))).first.click()

    app, url = ui.launch(settings, block=False)
    try:
        with chromium_page(1280, 1400) as page:
            page.goto(url)
            page.get_by_role("tab", name="Read a text").click()
            panel = page.locator(".tabitem:visible").last
            read_and_make_one_chunk_again(page, panel, "Reader", pick, tmp_path / "app-read.png")
    finally:
        app.close()
    if os.environ.get("HUBERT_QUANT_SCREENSHOTS"):  # refresh the docs' pictures on purpose only
        shutil.copy(tmp_path / "app-read.png", DOCS / "app-read.png")
