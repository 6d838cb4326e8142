"""The Models tab: what is here, download, remove, and add your own quantizer."""

from __future__ import annotations

import gradio as gr

from .. import models
from ..files import human_size
from ..models import catalogue
from . import gradio_compat as compat
from .common import PROGRESS, Settings, downloads, readable

MODEL_COLUMNS = ["name", "kind", "language", "here", "size", "path or source"]


def model_rows(paths: bool = True) -> list[list]:
    """The Models table; ``paths=False`` names sources only, never where files are on the server."""
    return [[i.entry.name, i.entry.kind, i.entry.language_name, "yes" if i.path else "no",
             human_size(i.size or 0, decimals=0), str((i.path if paths else None) or i.entry.source)]
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
        path = models.download(model, progress=downloads(progress))
        return compat.frame(model_rows(), MODEL_COLUMNS), f"{model}: `{path}`"

    @readable
    def do_remove(model):
        removed = models.remove(model) if model else []
        note = f"Deleted {len(removed)} file(s)." if removed else "Nothing downloaded to delete."
        return compat.frame(model_rows(), MODEL_COLUMNS), note

    @readable
    def do_add(model_name, repo_id, filename, uploaded, code):
        uploaded = compat.path_of(uploaded)
        if uploaded:
            settings.check_upload(uploaded)
        entry = models.add_quantizer_file(model_name, upload=uploaded, repo=repo_id, file=filename, language=code)
        return (compat.frame(model_rows(), MODEL_COLUMNS), f"Added {entry.name!r}.",
                gr.update(choices=[e.name for e in catalogue.entries()]))

    compat.listen(download.click, do_download, chosen, [table, message], concurrency_limit=1)
    remove.click(do_remove, chosen, [table, message])
    add.click(do_add, [name, repo, file, upload, language], [table, message, chosen])
