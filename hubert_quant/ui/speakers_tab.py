"""The Speakers tab: list, preview, rename, delete, export and import the library's speakers."""

from __future__ import annotations

import gradio as gr

from .. import library
from ..errors import SpeakerFileError
from . import gradio_compat as compat
from .common import Settings, readable

SPEAKER_COLUMNS = ["name", "seconds", "quantizer", "created", "preview", "problem"]


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
                                            allow_custom_value=True, refreshed_by_the_tab=True)  # Refresh above
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
        # Copies checked by the library (regular files listed in the folder, no link followed) in the
        # outputs folder: the page never gets a path in the library, which could be a link by now.
        try:
            speaker, preview_file = library.export(settings.speakers_dir, name, settings.outputs_dir / "export")
        except SpeakerFileError:
            return None, None
        return str(speaker), str(preview_file) if preview_file else None

    @readable
    def do_rename(name, new):
        renamed = library.rename(settings.speakers_dir, name, new)
        return refreshed(f"Renamed {name!r} to {renamed.stem!r}.")

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
        trimmed = library.load(settings.speakers_dir, saved.stem).metadata.get("trimmed")
        note = f" (cut to the last {trimmed['to_seconds']} s: all Bark reads)" if isinstance(trimmed, dict) else ""
        return refreshed(f"Imported {saved.stem!r}{note}.")

    outputs = [table, chosen, message]
    refresh.click(refreshed, None, outputs, api_name="speakers_refresh")
    if (tab := compat.enclosing_tab()) is not None:  # opened after a clone elsewhere: listed, no Refresh needed
        tab.select(refreshed, None, outputs)
    chosen.change(pick, chosen, [exported, preview], api_name="speaker_pick")
    for event, fn, inputs, name in ((rename.click, do_rename, [chosen, new_name], "speaker_rename"),
                                    (delete.click, do_delete, [chosen, confirm], "speaker_delete"),
                                    (imported.upload, do_import, imported, "speaker_import")):
        compat.listen(event, fn, inputs, outputs, api_name=name, status_on=message)  # a failure shows once
