"""The Clone tab: a recording (or several clips) -> a speaker in the library, and a preview."""

from __future__ import annotations

import functools
from pathlib import Path

import gradio as gr

from .. import library, models
from ..constants import CONSENT
from ..errors import ModelNotFoundError
from ..models import catalogue
from . import gradio_compat as compat
from .common import AUDIO_FILES, PROGRESS, Settings, downloads, output_wav, readable


def clip_hint(audio: str | None, start: float | None, end: float | None, settings: Settings | None = None) -> str:
    """Advice on the chosen part of the recording (length, how it ends); the file is sized from its
    header and read in blocks (``settings.audio_limits``)."""
    if not audio:
        return ""
    from ..audio import audio_info, ends_loud
    from ..errors import AudioError, message

    limits = settings.audio_limits if settings else None
    try:
        duration = audio_info(audio, limits).duration
    except AudioError as e:  # over a limit: said as it is, with the file's name only
        if "cannot decode" not in str(e):
            return f"**{message(e).replace(str(audio), Path(audio).name)}**"
        return "**This file could not be read as audio.** Upload a wav, flac, ogg or mp3 recording."
    except Exception:  # noqa: BLE001 - any decoder failure means the same to the user
        return "**This file could not be read as audio.** Upload a wav, flac, ogg or mp3 recording."
    first, last = float(start or 0), min(float(end or 0) or duration, duration)
    seconds = max(0.0, last - first)
    if seconds < 1:
        return f"**{seconds:.1f} s selected: too short.** Pick at least 1 s; 5 to 15 s of speech works best."
    notes = [f"{seconds:.1f} s selected."]
    if seconds < 5:
        notes.append("Short clips give weak clones; 5 to 15 s works best.")
    elif seconds > 20:
        notes.append("Bark uses only the last ~5 s of a prompt; 5 to 15 s is plenty.")
    if ends_loud(audio, first, last, limits=limits):
        notes.append("The clip seems to end mid-speech: Bark continues from the end, so end it in a pause.")
    return " ".join(notes)


def clip_picture(audio: str | None, start: float | None, end: float | None, speech=(),
                 settings: Settings | None = None):
    """The recording's waveform with the part to clone marked (None when there is no readable recording)."""
    if not audio:
        return None
    from ..waveform import draw, file_envelope

    try:
        envelope = file_envelope(audio, limits=settings.audio_limits if settings else None)
    except Exception:  # noqa: BLE001 - any decoder failure: no picture; the hint says what is wrong
        return None
    first, last = float(start or 0), float(end or 0) or None
    return draw(envelope, start=first, end=last, speech=tuple(map(tuple, speech or ())))


@readable
def do_pick(audio, settings: Settings, progress=PROGRESS):
    """Find the best part of ``audio``: (start, end, picture, what was picked and why, speech stretches)."""
    from ..constants import HUBERT_SAMPLE_RATE
    from ..segment import analyse_file, best_segment

    if not audio:
        raise compat.error("Upload or record a recording first.")
    settings.check_upload(audio)
    progress(0.0, desc="reading the recording")
    found = analyse_file(audio, limits=settings.audio_limits,  # in blocks: only the 16 kHz mono is kept
                         progress=lambda done, total: progress((done, total), desc="finding speech"))
    best = best_segment(None, HUBERT_SAMPLE_RATE, analysis=found)
    note = (f"**Picked {best.start:.2f}-{best.end:.2f} s** ({best.duration:.1f} s, score {best.score:.0f}/100: "
            f"{'; '.join(best.problems) or 'clear speech that ends in a pause'}). Change Start/End to move it.")
    speech = [list(stretch) for stretch in found.speech]
    return (round(best.start, 2), round(best.end, 2), clip_picture(audio, best.start, best.end, speech, settings),
            note, speech)


@readable
def do_clone(audio, start, end, quantizer, name, consent, extra=None, *, settings: Settings, progress=PROGRESS):
    """Clone ``audio`` (and the best part of each ``extra`` clip, if any) into the speakers folder as
    ``name``; returns (speaker file, status)."""
    if not consent:
        raise compat.error("Tick the consent box first: clone only voices whose owners agreed.")
    if not audio:
        raise compat.error("Upload or record a recording first.")
    settings.check_upload(audio)
    name = library.safe_name(name or Path(audio).stem)
    if library.taken(settings.speakers_dir, name):  # said at once, not after a clone
        raise compat.error(f"A speaker called {name!r} already exists; pick another name or delete it first.")
    if not settings.quantizer and quantizer:
        try:  # a catalogue name (or language), never a file on the server
            quantizer = catalogue.find(str(quantizer), "quantizer").name
        except ModelNotFoundError:
            raise compat.error("Pick a quantizer from the list.") from None
    extra = compat.paths_of(extra)
    for clip in extra:
        settings.check_upload(clip)
    progress(0.05, desc="cloning")
    path, prompt = library.clone_into(
        settings.speakers_dir, name, audio, extra=extra, start=float(start or 0) or None, end=float(end or 0) or None,
        style=settings.speaker_style, device=settings.device, quantizer=settings.quantizer or quantizer,
        hubert=settings.hubert, codec=settings.codec, progress=downloads(progress), limits=settings.audio_limits,
        stages=lambda what, done, total: progress((done, total), desc=what))
    joined = f" from {len(prompt.metadata['parts'])} recordings" if extra else ""
    # The page gets a copy: the library folder itself is never served (anything could be planted there).
    served = library.export(settings.speakers_dir, path.stem, settings.outputs_dir / "export")[0]
    return str(served), (f"Saved **{name}** ({prompt.duration:.1f} s{joined}) to the speaker library "
                       f"(`{path.parent.name}`).")


@readable
def do_preview(name, text, settings: Settings, progress=PROGRESS):
    """Speak ``text`` in speaker ``name``'s voice; the wav is kept as the speaker's preview."""
    from ..bark.adapter import BarkOptions
    from ..bark.speak import save_wav, say

    if not name:
        raise compat.error("Clone a speaker (or pick one) first.")
    stages = lambda what, step, steps: progress((step, steps), desc=what)  # noqa: E731
    name = library.safe_name(name)  # the name the Clone button saved it under
    if name not in {s.name for s in library.list_speakers(settings.speakers_dir)}:
        raise compat.error(f"There is no speaker called {name!r} yet: press Clone first, then Preview.")
    made_from = library.identity(settings.speakers_dir, name)  # which file this preview is of
    audio = say(text, speaker=library.load(settings.speakers_dir, name),
                options=BarkOptions(device=settings.device), progress=downloads(progress), stages=stages)
    if settings.keep_preview:  # kept only if the speaker is still that file (not deleted, renamed, replaced)
        library.save_preview(settings.speakers_dir, made_from, lambda path: save_wav(audio, path, overwrite=True))
    return output_wav(audio, settings, "preview")


def quantizer_label(entry: catalogue.ModelEntry) -> str:
    """"Large English (English, v1)"; only what is known ("Mine", "Mine (v1)", "Mine (German)")."""
    known = [part for part in (entry.language_name, f"v{entry.version}" if entry.version is not None else "") if part]
    return f"{entry.name} ({', '.join(known)})" if known else entry.name


def clone_tab(settings: Settings) -> None:
    gr.Markdown(f"Turn a recording into a Bark speaker. **{CONSENT}**")
    audio = compat.recording("Recording (5 to 15 s of speech, or a longer one: then pick the best part)")
    with gr.Row():
        start = gr.Number(label="Start (s)", value=0, minimum=0)
        end = gr.Number(label="End (s, 0 = to the end)", value=0, minimum=0)
        pick = gr.Button("Pick the best part")
    shown = compat.picture("The part to clone (orange) and the speech heard (green)", elem_id="hq-clip-picture")
    speech = gr.State([])  # the stretches of speech found by the last Pick, drawn under the waveform
    picked = gr.Markdown()
    hint = gr.Markdown()
    hinted, pictured = (functools.partial(fn, settings=settings) for fn in (clip_hint, clip_picture))
    audio.change(lambda path: (pictured(path, 0, 0), [], ""), audio, [shown, speech, picked])
    for trigger in (audio.change, start.change, end.change):
        trigger(readable(hinted), [audio, start, end], hint)
    for trigger in (start.change, end.change):
        trigger(readable(pictured), [audio, start, end, speech], shown)
    compat.listen(pick.click, functools.partial(do_pick, settings=settings), audio,
                  [start, end, shown, picked, speech], api_name="pick", concurrency_limit=2, status_on=shown)
    with gr.Accordion("Several clips of the same speaker (optional)", open=False):
        extra = compat.file_input("More clips: the best part of each is joined with this recording's into one "
                                  "speaker, the best part last", AUDIO_FILES, multiple=True)
    offered, value = catalogue.entries("quantizer"), settings.default_quantizer
    if not settings.manage_models:  # visitors get what is here: nothing is downloaded for them
        offered = [e for e in offered if models.locate(e) is not None]
        value = value if value in [e.name for e in offered] else next((e.name for e in offered), None)
    choices = [(quantizer_label(e), e.name) for e in offered]
    if settings.quantizer:  # started with a quantizer file: clones use it, and the box shows it, fixed
        value = f"{Path(settings.quantizer).name} (chosen when the app was started)"
        choices.insert(0, (value, value))
    with gr.Row():
        quantizer = gr.Dropdown(compat.labelled(choices), value=value, interactive=not settings.quantizer,
                                label="Quantizer (language)")
        name = gr.Textbox(label="Speaker name", placeholder="e.g. alice")
    consent = gr.Checkbox(label="The person speaking agreed to have their voice cloned")
    button = gr.Button("Clone", variant="primary")
    with gr.Row():
        result = gr.File(label="Speaker file", interactive=False)
        status = gr.Markdown()
    compat.listen(button.click, functools.partial(do_clone, settings=settings),
                  [audio, start, end, quantizer, name, consent, extra], [result, status], api_name="clone",
                  concurrency_limit=2, status_on=status)
    heard_with = "with the host's Bark" if settings.bark_settings else "needs Bark's models, ~13 GB on first use"
    with gr.Accordion(f"Hear it ({heard_with})", open=False):
        text = gr.Textbox(label="Text", value="Hello! This is how my cloned voice sounds.")
        speak = gr.Button("Preview")
        heard = gr.Audio(type="filepath", label="Preview", interactive=False)
    speak.click(functools.partial(do_preview, settings=settings), [name, text], heard, api_name="preview")
