"""The Models tab: what is here, download, remove, and add your own quantizer."""

from __future__ import annotations

import functools

import gradio as gr

from .. import models, voice
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


def similarity_status() -> str:
    """A line on the speaker-similarity model: installed, or what it is for and what installing adds."""
    if voice.available():
        return (f"Speaker similarity: installed ({voice.PACKAGE} {voice.VERSION}): it judges takes, "
                "`hubert-quant compare`, and the best part's one-voice check.")
    return (f"Speaker similarity: not installed. It judges takes by voice and catches a second voice in a "
            f"recording. Installing adds the package {voice.PACKAGE} {voice.VERSION} (17 MB, its weights) to this "
            "Python with `--no-deps`: no other package is changed.")


def models_tab(settings: Settings) -> None:
    # Read at each page load and each time the tab is opened: models imported or downloaded elsewhere since
    # (the command line, another page) show as here.
    rows = functools.partial(model_rows, paths=settings.manage_models)
    table = compat.table(rows, MODEL_COLUMNS, "Models",
                         widths=["15%", "9%", "10%", "6%", "8%", "52%"])  # the path gets the room, and wraps
    if (tab := compat.enclosing_tab()) is not None:
        tab.select(lambda: compat.frame(rows(), MODEL_COLUMNS), None, table)
    problems = catalogue.user_problems()
    if problems:  # named by entry, not by the server's folders
        gr.Markdown("**Left out of the catalogue:** " + "; ".join(
            p.split(": ", 1)[-1] for p in problems))
    if not settings.manage_models:
        reason = settings.exposure() or "it was started to be"
        how = (f"Whoever runs {settings.host} can change them on that machine." if settings.host else
               "On the server, use `hubert-quant models`, or start the app with `--allow-remote-model-changes`.")
        gr.Markdown(f"The app is reachable from other machines ({reason}), so models can be listed here but not "
                    f"downloaded, removed or added. {how}")
        return
    with gr.Row():
        chosen = gr.Dropdown([e.name for e in catalogue.entries()], value=catalogue.DEFAULT_QUANTIZER, label="Model")
        download = gr.Button("Download", variant="primary")
        remove = gr.Button("Remove download")
        confirm = gr.Button("Yes, remove it", variant="stop", visible=False)
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
    with gr.Row():
        similarity = gr.Markdown(similarity_status())
        install = gr.Button("Install the speaker-similarity model", visible=not voice.available())

    asked = gr.State(None)  # the model this session was asked to confirm removing (kept on the server)

    def refuse_if_exposed(request):
        # Asked at each event, not only when the page was built: the host may listen elsewhere since, and
        # this request may come through a forwarder or from another site (exposure.request_from_elsewhere).
        if refusal := settings.model_changes_refusal(request):
            raise compat.error(refusal)

    @readable
    def do_download(model, request: gr.Request = None, progress=PROGRESS):
        refuse_if_exposed(request)
        if not model:
            raise compat.error("Pick a model first.")
        path = models.download(model, progress=downloads(progress))
        return compat.frame(model_rows(), MODEL_COLUMNS), f"{model}: `{path}`"

    @readable
    def do_remove(model, request: gr.Request = None):
        refuse_if_exposed(request)
        if model and models.used_by_bark(model) and models.is_downloaded(model):
            return (gr.update(), f"**{model}** is also what {settings.bark_users} loads: removing it means that "
                    "Bark downloads it again (about the same size) the next time it speaks. Remove it anyway?",
                    gr.update(visible=True), model)
        return (*removed(model), gr.update(visible=False), None)

    @readable
    def do_confirm_remove(model, asked_about, request: gr.Request = None):
        refuse_if_exposed(request)
        if not model or model != asked_about:  # a call made without the question (straight to the API)
            raise compat.error("Press Remove download first: it says what else uses the model.")
        return (*removed(model), gr.update(visible=False), None)

    def removed(model):
        files = models.remove(model) if model else []
        note = f"Deleted {len(files)} file(s)." if files else "Nothing downloaded to delete."
        return compat.frame(model_rows(), MODEL_COLUMNS), note

    @readable
    def do_add(model_name, repo_id, filename, uploaded, code, request: gr.Request = None):
        refuse_if_exposed(request)
        uploaded = compat.path_of(uploaded)
        if uploaded:
            settings.check_upload(uploaded)
        entry = models.add_quantizer_file(model_name, upload=uploaded, repo=repo_id, file=filename, language=code)
        return (compat.frame(model_rows(), MODEL_COLUMNS), f"Added {entry.name!r}.",
                gr.update(choices=[e.name for e in catalogue.entries()]))

    @readable
    def do_install(request: gr.Request = None, progress=PROGRESS):
        refuse_if_exposed(request)
        progress(0, desc=f"installing {voice.PACKAGE} {voice.VERSION} with pip")
        models.install_speaker_similarity()
        return similarity_status(), gr.update(visible=False)

    # Progress and a failure show on the message under the table, not as a badge on every output.
    compat.listen(install.click, do_install, None, [similarity, install], concurrency_limit=1, status_on=similarity)
    compat.listen(download.click, do_download, chosen, [table, message], concurrency_limit=1, status_on=message)
    compat.listen(remove.click, do_remove, chosen, [table, message, confirm, asked], status_on=message)
    compat.listen(confirm.click, do_confirm_remove, [chosen, asked], [table, message, confirm, asked],
                  status_on=message)
    # A question is about one model: choosing another withdraws it, its words too.
    chosen.change(lambda: (gr.update(visible=False), None, ""), None, [confirm, asked, message])
    compat.listen(add.click, do_add, [name, repo, file, upload, language], [table, message, chosen],
                  status_on=message)
