"""The Read a text tab: a pasted text read in one voice, chunk by chunk (:func:`hubert_quant.bark.reading.read_text`),
with a table of the chunks, each one heard on its own and made again with new seeds if it came out badly."""

from __future__ import annotations

import functools
import re
import tempfile
from pathlib import Path

import gradio as gr

from ..constants import CONSENT
from . import gradio_compat as compat
from .common import PROGRESS, Settings, bark_controls, downloads, readable, speaker_names
from .mask_tab import library_or_preset

READ_COLUMNS = ["#", "Text", "Time (s)", "Kept take", "Score", "Problems"]
LANGUAGES = ["en", "de", "es", "fr", "hi", "it", "ja", "ko", "pl", "pt", "ru", "tr", "zh"]  # Bark's, by code
MAX_TAKES = 5
MAX_TEXT_CHARS = 100_000  # a long chapter (about 2 hours of speech); longer texts: say --text-file on the server
MAX_SEED = 2**30  # the reading adds chunk and attempt offsets to it; Bark's generators take up to 2**32 - 1
NO_SPEAKER = "Pick a speaker from the list, or type a Bark preset such as v2/en_speaker_6."


def speaker_choices(settings: Settings) -> list[str]:
    """The library's speakers, then Bark's presets (the v2 ones this Python's Bark has)."""
    from ..bark.speak import bark_presets

    return speaker_names(settings) + bark_presets()


@readable
def do_read(text, speaker, takes, pause, language, seed, text_temp, coarse_temp, fine_temp, small,
            settings: Settings, progress=PROGRESS):
    """Read ``text`` into a new folder in the outputs folder. Returns the reading's wav, its chunk table,
    the chunk picker (on the first chunk), that chunk's audio, and the reading (the tab's state)."""
    from ..bark.adapter import BarkOptions

    if not isinstance(text, str) or not text.strip():
        raise compat.error("Paste the text to read first.")
    if len(text) > MAX_TEXT_CHARS:
        raise compat.error(f"The text has {len(text):,} characters; this page reads up to {MAX_TEXT_CHARS:,} at "
                           "once (about two hours of speech). Read it in parts, or use hubert-quant say --text-file.")
    speaker = str(speaker or "").strip()
    if not speaker:
        raise compat.error(NO_SPEAKER)
    try:
        voice = library_or_preset(settings, speaker)  # a listed speaker or a preset, never a path on the server
    except gr.Error:
        raise compat.error(NO_SPEAKER) from None
    takes = int(takes or 1)
    if not 1 <= takes <= MAX_TAKES:
        raise compat.error(f"Takes per chunk must be 1 to {MAX_TAKES}, got {takes}.")
    if seed not in (None, "") and not 0 <= int(seed) <= MAX_SEED:
        raise compat.error(f"The seed must be a whole number from 0 to {MAX_SEED} (or empty: random).")
    options = BarkOptions(seed=None if seed in (None, "") else int(seed), text_temp=float(text_temp),
                          coarse_temp=float(coarse_temp), fine_temp=float(fine_temp), small=bool(small),
                          device=settings.device)
    settings.outputs_dir.mkdir(parents=True, exist_ok=True)
    # A folder of its own per reading (a new name, mode 0700): its wav, report and OUT.parts/ of chunks.
    out = Path(tempfile.mkdtemp(prefix="reading-", dir=settings.outputs_dir)) / "reading.wav"
    job = {"out": str(out), "text": text, "speaker": str(voice), "takes": takes,
           "pause": float(pause), "language": str(language or "en").strip()[:16] or "en", "options": options}
    return _run(job, None, 0, progress)


@readable
def do_read_again(choice, job, settings: Settings, progress=PROGRESS):
    """Make the picked chunk of the last reading again (new seeds, a different take); the other chunks are
    kept. Returns what :func:`do_read` returns, the picker staying on that chunk."""
    if not job:
        raise compat.error("Read a text first, then pick one of its chunks.")
    i = chunk_index(choice, job)
    return _run(job, {i}, i, progress)


def do_pick_chunk(choice, job) -> str | None:
    """The picked chunk's audio (the kept take, as the reading joined it), or None before a reading."""
    if not job or not choice:
        return None
    return _chunk_audio(job, chunk_index(choice, job))


def _run(job: dict, only: set[int] | None, shown: int, progress):
    from ..bark.reading import read_text

    stages = lambda what, step, steps: progress((step, steps), desc=what)  # noqa: E731 - per chunk and take
    reading = read_text(job["text"], job["out"], speaker=job["speaker"], options=job["options"], takes=job["takes"],
                        pause=job["pause"], language=job["language"], overwrite=True, progress=downloads(progress),
                        stages=stages, only=only)
    labels = [chunk_label(c) for c in reading.chunks]
    job = {**job, "labels": labels}
    return (str(reading.wav), compat.frame(chunk_rows(reading.chunks), READ_COLUMNS),
            gr.update(choices=labels, value=labels[shown]), _chunk_audio(job, shown), job)


def chunk_rows(chunks: list[dict]) -> list[list]:
    """The chunk table: number, its exact text, where it is in the wav, the take kept (and its seed), its score
    and what the measures found wrong with it."""
    rows = []
    for c in chunks:
        kept = c["takes"][c["kept"]]
        rows.append([c["index"] + 1, c["text"], f"{c['start_s']:.2f}–{c['end_s']:.2f}",
                     f"{c['kept'] + 1} of {len(c['takes'])} (seed {kept['seed']})", kept["score"],
                     "; ".join(kept["problems"]) or "none"])
    return rows


def chunk_label(chunk: dict) -> str:
    """How the picker names a chunk: its number and first words."""
    words = chunk["text"].split()
    start = " ".join(words[:6])
    return f"{chunk['index'] + 1}. {start[:48]}{'…' if len(words) > 6 or len(start) > 48 else ''}"


def chunk_index(choice, job: dict) -> int:
    """The chunk a picker value names (0-based), checked against the reading."""
    found = re.match(r"\s*(\d+)", str(choice or ""))
    i = int(found.group(1)) - 1 if found else -1
    if not 0 <= i < len(job.get("labels", ())):
        raise compat.error("Pick one of the reading's chunks first.")
    return i


def _chunk_audio(job: dict, i: int) -> str | None:
    part = Path(job["out"]).with_suffix(".parts") / f"chunk-{i:05d}.wav"
    return str(part) if part.is_file() and not part.is_symlink() else None


def read_tab(settings: Settings) -> None:
    gr.Markdown("Read a whole text in one voice: it is cut into chunks at sentence ends, each chunk is spoken from "
                "the speaker's own prompt (the voice does not drift), the best of its takes is kept, and the chunks "
                f"are joined into one wav. Hear a chunk on its own, and make it again if it came out badly. "
                f"**{CONSENT}**")
    text = gr.Textbox(label="Text to read", lines=8, max_lines=40, placeholder="Paste a text of any length here.")
    with gr.Row():
        # Read again when opened, so speakers cloned since the page was built appear.
        speaker = compat.refreshing_dropdown(lambda: speaker_choices(settings), allow_custom_value=True,
                                             label="Speaker from the library, or a Bark preset")
        language = gr.Dropdown(LANGUAGES, value="en", allow_custom_value=True,
                               label="Language of the text (where its sentences end)")
    with gr.Row():
        takes = gr.Slider(1, MAX_TAKES, value=1, step=1, label="Takes per chunk (the best is kept)")
        pause = gr.Slider(0, 3, value=0.3, step=0.05, label="Pause between chunks (s)")
    seed, text_temp, coarse_temp, fine_temp, small = bark_controls(settings, text_temp=True)
    button = gr.Button("Read it", variant="primary")
    reading = gr.Audio(type="filepath", label="The whole reading (24 kHz)", interactive=False)
    table = compat.table([], READ_COLUMNS, "Chunks", widths=["6%", "44%", "12%", "14%", "8%", "16%"])
    with gr.Row():
        picker = gr.Dropdown([], label="Chunk to hear", interactive=True)
        chunk = gr.Audio(type="filepath", label="That chunk (the take kept)", interactive=False)
    again = gr.Button("Make this chunk again")
    job = gr.State(None)
    outputs = [reading, table, picker, chunk, job]
    compat.listen(button.click, functools.partial(do_read, settings=settings),
                  [text, speaker, takes, pause, language, seed, text_temp, coarse_temp, fine_temp, small], outputs,
                  api_name="read", concurrency_limit=1, status_on=reading)
    compat.listen(picker.change, do_pick_chunk, [picker, job], chunk)
    compat.listen(again.click, functools.partial(do_read_again, settings=settings), [picker, job], outputs,
                  api_name="read_again", concurrency_limit=1, status_on=reading)
