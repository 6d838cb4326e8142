"""The Gradio front end: clone, voice-mask, speaker-library and model-manager tabs.

Each ``*_tab(settings)`` adds its components to whatever ``gr.Blocks``/``gr.Tab`` context
it is called in and keeps no global state, so the same builders serve the standalone app
(:func:`build_app`, ``hubert-quant ui``) and a host such as audio-webui. Every event goes
through :mod:`hubert_quant`'s API; errors reach the page as readable messages.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import numpy as np

from . import catalogue, library, models
from . import gradio_compat as compat
from .cli import CONSENT
from .errors import DownloadError, HubertQuantError, ModelNotFoundError, SpeakerFileError, one_line

MODES = ("random voice", "a speaker's voice")
SPEAKER_COLUMNS = ["name", "seconds", "quantizer", "created", "preview", "problem"]
MODEL_COLUMNS = ["name", "kind", "language", "here", "size", "path or source"]
PROGRESS = gr.Progress()  # gradio gives each call its own tracker in place of this default


@dataclass
class Settings:
    """What the tabs need; models may be names or paths (None: the defaults)."""

    speakers_dir: Path = field(default_factory=lambda: Path("speakers"))
    device: str = "auto"
    quantizer: str | None = None
    hubert: str | None = None
    codec: str | None = None
    max_upload_mb: int = 200
    # A private folder per app (mkdtemp: a new name, mode 0700), never a predictable shared /tmp
    # path that someone else could have planted as a link to elsewhere.
    outputs_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hubert-quant-ui-")))
    default_quantizer: str = catalogue.DEFAULT_QUANTIZER  # preselected in the Clone tab
    keep_preview: bool = True  # keep "Hear it" audio next to the speaker as <name>.preview.wav
    # Downloading, removing and adding models changes the machine, not just the app's folders:
    # off when the app is reachable from other machines, unless the owner allows it.
    manage_models: bool = True
    models_tab: str = "Models"  # where this front end's model manager is, for missing-model messages
    debug: bool = False  # also print the page's errors with their tracebacks in the terminal
    speaker_style: str = "bark"  # how speakers are written: "tts-webui" for that host's own convention

    def check_upload(self, path) -> None:
        """Refuse files over ``max_upload_mb`` (the standalone app also limits them at the server)."""
        if path and Path(path).is_file() and Path(path).stat().st_size > self.max_upload_mb * 1_000_000:
            raise compat.error(f"{Path(path).name} is larger than the {self.max_upload_mb} MB upload limit. Cut it "
                               "to the part you need, or raise the limit: `hubert-quant ui --max-upload-mb N` (in "
                               "audio-webui: its hubert-quant settings).")


def readable(fn):
    """Turn our errors (and bad values) into a message on the page instead of a stack trace.

    A missing model gets a message that stays until closed and says where to get it here.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        settings = kwargs.get("settings")
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ModelNotFoundError, DownloadError) as e:
            raise compat.error(_named_by_file(missing_models_message(e, settings), args, kwargs), sticky=True,
                               traceback=getattr(settings, "debug", False)) from e
        except (HubertQuantError, ValueError, OSError) as e:
            raise compat.error(_named_by_file(one_line(e), args, kwargs),
                               traceback=getattr(settings, "debug", False)) from e

    return wrapper


def missing_models_message(e: BaseException, settings: Settings | None) -> str:
    """Which models are missing, their sizes and where this page gets them (no server folders:
    the command line's message names those)."""
    what = models.missing_summary(e) or one_line(e)
    if settings is None or settings.manage_models:
        tab = settings.models_tab if settings else "Models"
        where = (f"Get them in the {tab} tab (Download), or add a quantizer file you have there; files copied by "
                 "hand also work with hubert-quant models import NAME PATH, or by starting the app with "
                 "--quantizer/--hubert/--codec PATH.")
    else:
        where = "Models cannot be changed from this page: ask whoever runs the app to fetch them."
    return f"{what} {where}"


def _named_by_file(message: str, args, kwargs) -> str:
    """``message`` with each uploaded file's server path cut to its name (uploads live in temp folders)."""
    for value in (*args, *kwargs.values()):
        value = compat.path_of(value)
        if isinstance(value, str) and len(value) > 1 and os.path.isabs(value):
            message = message.replace(value, Path(value).name)
    return message


def _downloads(progress):
    """A model-download callback that drives a gr.Progress bar."""
    return lambda label, done, total: progress((done, total), desc=f"downloading {label}", unit="bytes")


# ---- clone -----------------------------------------------------------------------------------------


def clip_hint(audio: str | None, start: float | None, end: float | None) -> str:
    """Advice on the chosen part of the recording (length, how it ends)."""
    if not audio:
        return ""
    import soundfile as sf

    try:
        info = sf.info(audio)
    except Exception:  # noqa: BLE001 - any decoder failure means the same to the user
        return "**This file could not be read as audio.** Upload a wav, flac, ogg or mp3 recording."
    first, last = float(start or 0), float(end or 0) or info.duration
    seconds = max(0.0, min(last, info.duration) - first)
    if seconds < 1:
        return f"**{seconds:.1f} s selected: too short.** Pick at least 1 s; 5 to 15 s of speech works best."
    notes = [f"{seconds:.1f} s selected."]
    if seconds < 5:
        notes.append("Short clips give weak clones; 5 to 15 s works best.")
    elif seconds > 20:
        notes.append("Bark uses only the last ~5 s of a prompt; 5 to 15 s is plenty.")
    samples, rate = sf.read(audio, start=int(first * info.samplerate), stop=int(min(last, info.duration)
                                                                                 * info.samplerate), always_2d=True)
    mono = samples.mean(axis=1)
    tail, whole = np.sqrt(np.mean(mono[-rate // 10 :] ** 2)), np.sqrt(np.mean(mono ** 2))
    if whole > 0 and tail > 0.5 * whole:
        notes.append("The clip seems to end mid-speech: Bark continues from the end, so end it in a pause.")
    return " ".join(notes)


def clip_picture(audio: str | None, start: float | None, end: float | None, speech=()):
    """The recording's waveform with the part to clone marked (None when there is no readable recording)."""
    if not audio:
        return None
    from .waveform import draw, file_envelope

    try:
        envelope = file_envelope(audio)
    except Exception:  # noqa: BLE001 - any decoder failure: no picture; the hint says what is wrong
        return None
    first, last = float(start or 0), float(end or 0) or None
    return draw(envelope, start=first, end=last, speech=tuple(map(tuple, speech or ())))


@readable
def do_pick(audio, settings: Settings, progress=PROGRESS):
    """Find the best part of ``audio``: (start, end, picture, what was picked and why, speech stretches)."""
    from .audio import load_audio
    from .segment import analyse, best_segment

    if not audio:
        raise compat.error("Upload or record a recording first.")
    settings.check_upload(audio)
    progress(0.0, desc="reading the recording")
    samples, rate = load_audio(audio)
    found = analyse(samples, rate, progress=lambda done, total: progress((done, total), desc="finding speech"))
    best = best_segment(samples, rate, analysis=found)
    note = (f"**Picked {best.start:.2f}-{best.end:.2f} s** ({best.duration:.1f} s, score {best.score:.0f}/100: "
            f"{'; '.join(best.problems) or 'clear speech that ends in a pause'}). Change Start/End to move it.")
    speech = [list(stretch) for stretch in found.speech]
    return round(best.start, 2), round(best.end, 2), clip_picture(audio, best.start, best.end, speech), note, speech


@readable
def do_clone(audio, start, end, quantizer, name, consent, extra=None, *, settings: Settings, progress=PROGRESS):
    """Clone ``audio`` (and the best part of each ``extra`` clip, if any) into the speakers folder as
    ``name``; returns (speaker file, status)."""
    from .clone import clone_speaker, clone_voice

    if not consent:
        raise compat.error("Tick the consent box first: clone only voices whose owners agreed.")
    if not audio:
        raise compat.error("Upload or record a recording first.")
    settings.check_upload(audio)
    name = library.safe_name(name or Path(audio).stem)
    target = library.speaker_path(settings.speakers_dir, name)
    if target.exists():
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
    first, last = float(start or 0) or None, float(end or 0) or None
    options = dict(device=settings.device, quantizer=settings.quantizer or quantizer, hubert=settings.hubert,
                   codec=settings.codec, progress=_downloads(progress),
                   stages=lambda what, done, total: progress((done, total), desc=what))
    if extra:  # the recording's part as chosen (the best one if none was), and each other clip's best part
        chosen = (first, last) if first is not None or last is not None else None
        prompt = clone_speaker([audio, *extra], ranges=[chosen] + [None] * len(extra), **options)
    else:
        prompt = clone_voice(audio, start=first, end=last, **options)
    path = library.save(settings.speakers_dir, name, prompt, style=settings.speaker_style)
    joined = f" from {len(prompt.metadata['parts'])} recordings" if extra else ""
    return str(path), (f"Saved **{name}** ({prompt.duration:.1f} s{joined}) to the speaker library "
                       f"(`{path.parent.name}`).")


@readable
def do_preview(name, text, settings: Settings, progress=PROGRESS):
    """Speak ``text`` in speaker ``name``'s voice; the wav is kept as the speaker's preview."""
    from .generate import BarkOptions
    from .mask import save_wav, say

    if not name:
        raise compat.error("Clone a speaker (or pick one) first.")
    stages = lambda what, step, steps: progress((step, steps), desc=what)  # noqa: E731
    audio = say(text, speaker=library.speaker_path(settings.speakers_dir, name),
                options=BarkOptions(device=settings.device), progress=_downloads(progress), stages=stages)
    if settings.keep_preview:
        return str(save_wav(audio, library.preview_path(settings.speakers_dir, name), overwrite=True))
    return _output_wav(audio, settings, "preview")


def _output_wav(audio, settings: Settings, prefix: str) -> str:
    """A fresh wav in the outputs folder (served to the page, never inside the library)."""
    from .mask import save_wav

    settings.outputs_dir.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"{prefix}-", suffix=".wav", dir=settings.outputs_dir)
    os.close(handle)
    return str(save_wav(audio, name, overwrite=True))


def quantizer_label(entry: catalogue.ModelEntry) -> str:
    """"Large English (English, v1)"; only what is known ("Mine", "Mine (v1)", "Mine (German)")."""
    known = [part for part in (entry.language_name, f"v{entry.version}" if entry.version is not None else "") if part]
    return f"{entry.name} ({', '.join(known)})" if known else entry.name


AUDIO_FILES = [".wav", ".flac", ".ogg", ".opus", ".mp3"]


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
    audio.change(lambda path: (clip_picture(path, 0, 0), [], ""), audio, [shown, speech, picked])
    for trigger in (audio.change, start.change, end.change):
        trigger(readable(clip_hint), [audio, start, end], hint)
    for trigger in (start.change, end.change):
        trigger(readable(clip_picture), [audio, start, end, speech], shown)
    compat.listen(pick.click, functools.partial(do_pick, settings=settings), audio,
                  [start, end, shown, picked, speech], api_name="pick", concurrency_limit=2)
    with gr.Accordion("Several clips of the same speaker (optional)", open=False):
        extra = compat.file_input("More clips: the best part of each is joined with this recording's into one "
                                  "speaker, the best part last", AUDIO_FILES, multiple=True)
    choices = [(quantizer_label(e), e.name) for e in catalogue.entries("quantizer")]
    value = settings.default_quantizer
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
                  concurrency_limit=2)
    with gr.Accordion("Hear it (needs Bark's models, ~13 GB on first use)", open=False):
        text = gr.Textbox(label="Text", value="Hello! This is how my cloned voice sounds.")
        speak = gr.Button("Preview")
        heard = gr.Audio(type="filepath", label="Preview", interactive=False)
    speak.click(functools.partial(do_preview, settings=settings), [name, text], heard, api_name="preview")


# ---- voice masking ---------------------------------------------------------------------------------


@readable
def do_mask(audio, mode, speaker, upload, seed, coarse_temp, fine_temp, small, settings: Settings,
            progress=PROGRESS):
    """Re-speak ``audio`` in a random voice or a speaker's; returns the output wav path."""
    from .generate import BarkOptions
    from .mask import mask_voice

    if not audio:
        raise compat.error("Upload or record the recording to mask first.")
    upload = compat.path_of(upload)
    settings.check_upload(audio)
    settings.check_upload(upload)
    target = None
    if mode == MODES[1]:
        target = upload or library_or_preset(settings, speaker)
    options = BarkOptions(seed=None if seed in (None, "") else int(seed), coarse_temp=float(coarse_temp),
                          fine_temp=float(fine_temp), small=bool(small), device=settings.device)
    stages = lambda what, step, steps: progress((step, steps), desc=what)  # noqa: E731
    out = mask_voice(audio, speaker=target, options=options, quantizer=settings.quantizer, hubert=settings.hubert,
                     progress=_downloads(progress), stages=stages)
    return _output_wav(out, settings, "masked")


def library_or_preset(settings: Settings, name: str | None) -> Path:
    """The listed speaker ``name``, or Bark's preset of that name; never a path on the server."""
    from .mask import bark_preset

    if name and name in _speaker_names(settings):
        return library.existing(settings.speakers_dir, name)
    preset = bark_preset(str(name or ""))
    if preset is None:
        raise compat.error("Pick a speaker from the list, upload a .npz, or type a Bark preset such as "
                           "v2/en_speaker_6.")
    return preset


def _speaker_names(settings: Settings) -> list[str]:
    return [s.name for s in library.list_speakers(settings.speakers_dir) if not s.problem]


def mask_tab(settings: Settings) -> None:
    gr.Markdown(f"Re-speak a recording through Bark: the same words, another voice. **{CONSENT}**")
    audio = compat.recording("Recording to mask")
    mode = gr.Radio(list(MODES), value=MODES[0], label="Voice")
    with gr.Row():
        # Read again when opened, so speakers cloned since the page was built appear.
        speaker = compat.refreshing_dropdown(lambda: _speaker_names(settings), allow_custom_value=True,
                                             label="Speaker from the library, or a Bark preset")
        upload = compat.file_input("...or upload a speaker .npz", [".npz"])
    with gr.Accordion("Advanced", open=False):
        seed = gr.Number(label="Seed (empty: random)", value=None, precision=0)
        coarse_temp = gr.Slider(0.1, 1.5, value=0.7, step=0.05, label="Coarse temperature")
        fine_temp = gr.Slider(0.1, 1.5, value=0.5, step=0.05, label="Fine temperature")
        small = gr.Checkbox(label="Bark's small models (faster, lower quality)")
    button = gr.Button("Mask", variant="primary")
    output = gr.Audio(type="filepath", label="Masked (24 kHz)", interactive=False)
    compat.listen(button.click, functools.partial(do_mask, settings=settings),
                  [audio, mode, speaker, upload, seed, coarse_temp, fine_temp, small], output,
                  api_name="mask", concurrency_limit=1)


# ---- speakers --------------------------------------------------------------------------------------


def speaker_rows(settings: Settings) -> list[list]:
    return [[s.name, s.seconds, s.quantizer, s.created, "yes" if s.preview else "", s.problem]
            for s in library.list_speakers(settings.speakers_dir)]


def speakers_tab(settings: Settings) -> None:
    gr.Markdown(f"Speakers in the library folder `{settings.speakers_dir.name}`.")
    # Read on every page load, not once when the app starts: speakers cloned since then are listed.
    table = compat.table(lambda: speaker_rows(settings), SPEAKER_COLUMNS, "Library")
    refresh = gr.Button("Refresh")
    with gr.Row():
        chosen = compat.refreshing_dropdown(lambda: [row[0] for row in speaker_rows(settings)], label="Speaker",
                                            allow_custom_value=True)
        new_name = gr.Textbox(label="New name")
    with gr.Row():
        rename = gr.Button("Rename")
        confirm = gr.Checkbox(label="Yes, delete it")
        delete = gr.Button("Delete", variant="stop")
    with gr.Row():
        exported = gr.File(label="Export (download)", interactive=False)
        preview = gr.Audio(type="filepath", label="Preview", interactive=False)
    imported = compat.file_input("Import a speaker .npz (checked before it is added)", [".npz"])
    message = gr.Markdown()

    def refreshed(note=""):
        rows = speaker_rows(settings)
        return compat.frame(rows, SPEAKER_COLUMNS), gr.update(choices=[row[0] for row in rows]), note

    def pick(name):
        try:
            path = library.existing(settings.speakers_dir, name)
        except SpeakerFileError:
            return None, None
        preview_file = path.with_name(f"{name}.preview.wav")
        return str(path), str(preview_file) if preview_file.is_file() else None

    @readable
    def do_rename(name, new):
        library.rename(settings.speakers_dir, name, new)
        return refreshed(f"Renamed {name!r} to {library.safe_name(new)!r}.")

    @readable
    def do_delete(name, sure):
        if not sure:
            raise compat.error("Tick 'Yes, delete it' to confirm.")
        library.delete(settings.speakers_dir, name)
        return refreshed(f"Deleted {name!r}.")

    @readable
    def do_import(path):
        path = compat.path_of(path)
        if not path:
            return refreshed()
        settings.check_upload(path)
        saved = library.import_file(settings.speakers_dir, path, style=settings.speaker_style)
        return refreshed(f"Imported {saved.stem!r}.")

    outputs = [table, chosen, message]
    refresh.click(refreshed, None, outputs)
    chosen.change(pick, chosen, [exported, preview])
    rename.click(do_rename, [chosen, new_name], outputs)
    delete.click(do_delete, [chosen, confirm], outputs)
    imported.upload(do_import, imported, outputs)


# ---- models ----------------------------------------------------------------------------------------


def model_rows(paths: bool = True) -> list[list]:
    """The Models table; ``paths=False`` names sources only, never where files are on the server."""
    return [[i.entry.name, i.entry.kind, i.entry.language_name, "yes" if i.path else "no",
             f"{(i.size or 0) / 1e6:.0f} MB", str((i.path if paths else None) or i.entry.source)]
            for i in models.list_models()]


def models_tab(settings: Settings) -> None:
    table = compat.table(model_rows(paths=settings.manage_models), MODEL_COLUMNS, "Models")
    problems = catalogue.user_problems()
    if problems:  # named by entry, not by the server's folders
        gr.Markdown("**Left out of the catalogue:** " + "; ".join(
            p.split(": ", 1)[-1] for p in problems))
    if not settings.manage_models:
        gr.Markdown("The app is reachable from other machines, so models can be listed here but not downloaded, "
                    "removed or added. On the server, use `hubert-quant models`, or start the app with "
                    "`--allow-remote-model-changes`.")
        return
    with gr.Row():
        chosen = gr.Dropdown([e.name for e in catalogue.entries()], value=catalogue.DEFAULT_QUANTIZER, label="Model")
        download = gr.Button("Download", variant="primary")
        remove = gr.Button("Remove download")
    message = gr.Markdown()
    with gr.Accordion("Add your own quantizer", open=False):
        with gr.Row():
            name = gr.Textbox(label="Name")
            repo = gr.Textbox(label="Hub repo (owner/name)")
            file = gr.Textbox(label="File in the repo")
            language = gr.Textbox(label="Language code")
        upload = compat.file_input("...or upload a .pth", [".pth"])
        add = gr.Button("Add")
    gr.Markdown("\n".join(f"- {label}: `{path}`" for label, path in models.locations().items()))

    @readable
    def do_download(model, progress=PROGRESS):
        if not model:
            raise compat.error("Pick a model first.")
        path = models.download(model, progress=_downloads(progress))
        return compat.frame(model_rows(), MODEL_COLUMNS), f"{model}: `{path}`"

    @readable
    def do_remove(model):
        removed = models.remove(model) if model else []
        note = f"Deleted {len(removed)} file(s)." if removed else "Nothing downloaded to delete."
        return compat.frame(model_rows(), MODEL_COLUMNS), note

    @readable
    def do_add(model_name, repo_id, filename, uploaded, code):
        path, uploaded = None, compat.path_of(uploaded)
        if uploaded:
            from .files import atomic_write_bytes
            from .quantizer import Quantizer

            settings.check_upload(uploaded)
            Quantizer.load(uploaded)  # refuse what is not a loadable quantizer before keeping it
            kept = catalogue.user_catalogue_path().parent / "quantizers" / f"{library.safe_name(model_name)}.pth"
            kept.parent.mkdir(parents=True, exist_ok=True)
            path = atomic_write_bytes(kept, Path(uploaded).read_bytes())  # refuses to replace a file
        try:
            entry = catalogue.add_quantizer(model_name, repo=repo_id or None, file=filename or None, path=path,
                                            language=code or "")
        except Exception:
            if path is not None:
                path.unlink()  # the catalogue refused the entry: do not leave its file behind
            raise
        return (compat.frame(model_rows(), MODEL_COLUMNS), f"Added {entry.name!r}.",
                gr.update(choices=[e.name for e in catalogue.entries()]))

    compat.listen(download.click, do_download, chosen, [table, message], concurrency_limit=1)
    remove.click(do_remove, chosen, [table, message])
    add.click(do_add, [name, repo, file, upload, language], [table, message, chosen])


# ---- the app ---------------------------------------------------------------------------------------


def build_app(settings: Settings) -> gr.Blocks:
    with gr.Blocks(title="hubert-quant") as app:
        gr.Markdown(f"# hubert-quant\nClone voices for Bark. {CONSENT}")
        with gr.Tab("Clone"):
            clone_tab(settings)
        with gr.Tab("Voice mask"):
            mask_tab(settings)
        with gr.Tab("Speakers"):
            speakers_tab(settings)
        with gr.Tab("Models"):
            models_tab(settings)
    return app


def launch(settings: Settings, *, listen: bool = False, port: int | None = None, share: bool = False,
           block: bool = True):
    """Serve the app (127.0.0.1 unless ``listen``); returns the Blocks and its local URL."""
    settings.speakers_dir.mkdir(parents=True, exist_ok=True)
    settings.outputs_dir.mkdir(parents=True, exist_ok=True)
    app = compat.queued(build_app(settings), 2)
    # Quiet: Gradio's own banner tells users to "set share=True in launch()"; ours names our options.
    app.launch(server_name="0.0.0.0" if listen else "127.0.0.1", server_port=port, share=share,
               prevent_thread_lock=True, **compat.launch_options(settings.max_upload_mb),
               allowed_paths=[str(settings.speakers_dir), str(settings.outputs_dir)], quiet=True)
    if block:
        import sys

        where = app.share_url or app.local_url
        reach = "" if listen or share else " (this machine only; --listen or --share to reach it from others)"
        print(f"hubert-quant app on {where}{reach}. Ctrl+C stops it.", file=sys.stderr, flush=True)
        app.block_thread()
    return app, app.local_url
