"""What differs between the Gradio versions our tabs run in, in one place.

The standalone app runs a current Gradio (5 or 6), TTS-WebUI pins 5.49 and audio-webui pins
3.49. The tab builders use only what is here for the parts whose API changed in 4.0:

- recording inputs: 4+ has one ``gr.Audio(sources=[...])``; 3.x one source per component,
  so a microphone component is added that fills the upload one;
- file inputs: ``type="filepath"`` (4+) is ``type="file"`` in 3.x, which gives a temp-file
  object instead of a path (:func:`path_of` reads either); 3.x takes any server path or URL a
  request names as a file value (:func:`uploads_only` refuses them);
- per-event ``concurrency_limit`` and ``queue(default_concurrency_limit=)`` are 4+ only;
- (label, value) choices are 4+ only; 3.x shows the values;
- Dropdown has no ``focus`` event in 3.x, and in 5.49 the choices a focus handler returns are not
  shown (measured in Chromium: the open list and the next one keep the old choices), so below 6 a
  refresh button stands in;
- an image's buttons are ``buttons=[...]`` in 6, ``show_*_button`` flags before;
- an empty ``gr.Dataframe`` shows its headers as 1..N in 3.x unless given a pandas frame.
"""

from __future__ import annotations

import contextlib
import html
import json
import os

import gradio as gr

GRADIO_MAJOR = int(gr.__version__.split(".")[0])
LEGACY = GRADIO_MAJOR < 4  # audio-webui's gradio 3.49


def recording(label: str) -> gr.Audio:
    """An audio input, uploaded or recorded; its value is a file path."""
    if not LEGACY:
        return uploads_only(gr.Audio(sources=["upload", "microphone"], type="filepath", label=label))
    audio = uploads_only(gr.Audio(source="upload", type="filepath", label=label))
    mic = uploads_only(gr.Audio(source="microphone", type="filepath", label="...or record it with the microphone"))
    mic.change(lambda path: path, mic, audio)
    return audio


def file_input(label: str, file_types: list[str], *, multiple: bool = False) -> gr.File:
    """A file upload whose value :func:`path_of` (:func:`paths_of` for ``multiple``) turns into paths."""
    return uploads_only(gr.File(label=label, file_types=file_types, type="file" if LEGACY else "filepath",
                                file_count="multiple" if multiple else "single"))


NOT_UPLOADED = "That file was not uploaded from this page: only files sent from your browser are accepted."


def uploads_only(component):
    """``component``, an input that takes files, accepting only files in its Gradio's upload folder.

    The one guard every file input of ours goes through. A request names its file values itself; 3.x
    copies whatever server path (or fetches whatever URL) a value names, before any code of ours runs,
    so the value is checked first and refused in one line. 4+ refuses server paths outside its upload
    folder, but fetches a URL into its cache (any public address, any size) before preprocess: the
    component's own fetch is refused instead.
    """
    if not LEGACY:
        return _no_urls(component)
    read, folder = component.preprocess, component.DEFAULT_TEMP_DIR

    def preprocess(value):
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and item.get("is_file") and not _inside(item.get("name"), folder):
                raise error(NOT_UPLOADED)
        return read(value)

    component.preprocess = preprocess
    return component


def _no_urls(component):
    """4+: the component's move into its cache refuses a URL (Gradio would download it)."""
    fetch, fetch_now = component.async_move_resource_to_block_cache, component.move_resource_to_block_cache

    async def move(url_or_file_path, *args, **kwargs):
        _refuse_url(url_or_file_path)
        return await fetch(url_or_file_path, *args, **kwargs)

    def move_now(url_or_file_path, *args, **kwargs):
        _refuse_url(url_or_file_path)
        return fetch_now(url_or_file_path, *args, **kwargs)

    component.async_move_resource_to_block_cache, component.move_resource_to_block_cache = move, move_now
    return component


def _refuse_url(value) -> None:
    if _is_url(str(value)):
        raise error(NOT_UPLOADED)


def _is_url(name: str) -> bool:
    return "://" in name or name.startswith("data:")


def _inside(name, folder: str) -> bool:
    """Whether ``name`` is a file in ``folder`` once links and ``..`` are resolved (a URL is not)."""
    if not isinstance(name, str) or not name or _is_url(name):
        return False
    real, root = os.path.realpath(name), os.path.realpath(folder)
    return os.path.commonpath([real, root]) == root and real != root and os.path.isfile(real)


def path_of(value) -> str | None:
    """The path in an upload's value: a str (4+), or a temp-file object with ``.name`` (3.x)."""
    if value is None or isinstance(value, str):
        return value or None
    return getattr(value, "name", None)


def paths_of(value) -> list[str]:
    """The paths in a multiple-file upload's value (a list of what :func:`path_of` reads), [] if none."""
    if value is None:
        return []
    return [path for path in map(path_of, value if isinstance(value, (list, tuple)) else [value]) if path]


def picture(label: str, **options) -> gr.Image:
    """An image the page only shows (no upload, download or share buttons: 6 names them differently)."""
    if GRADIO_MAJOR >= 6:
        return gr.Image(label=label, interactive=False, buttons=[], format="png", **options)
    return gr.Image(label=label, interactive=False, show_download_button=False, show_share_button=False,
                    **({} if LEGACY else {"format": "png"}), **options)


def labelled(pairs: list[tuple[str, str]]) -> list:
    """Dropdown choices shown as labels where Gradio can (4+), else as the values."""
    return [value for _, value in pairs] if LEGACY else pairs


def table(rows, headers: list[str], label: str, widths: list[str] | None = None) -> gr.Dataframe:
    """A read-only table of ``rows``; a function giving rows is called again on every page load. Long
    values wrap and the table grows with its rows (4+ would otherwise scroll them inside a short box)."""
    value = (lambda: frame(rows(), headers)) if callable(rows) else frame(rows, headers)
    options = {} if LEGACY else {"wrap": True, "max_height": 2000, "column_widths": widths}
    # A path has no space to wrap at: let it break anywhere (a style the page applies to this table only).
    gr.HTML("<style>.hq-table span, .hq-table td { overflow-wrap: anywhere; word-break: break-word; }</style>",
            padding=False) if not LEGACY else gr.HTML("<style>.hq-table td { overflow-wrap: anywhere; }</style>")
    return gr.Dataframe(value, headers=headers, interactive=False, label=label, elem_classes=["hq-table"], **options)


def enclosing_tab() -> gr.Tab | None:
    """The ``gr.Tab`` a tab builder is being called in (the app's and both hosts' call it directly
    inside one), or None: where its ``select`` event can refresh what others may have changed."""
    from gradio.context import Context

    return Context.block if isinstance(Context.block, gr.Tab) else None


def frame(rows: list[list], headers: list[str]):
    """Rows as a table value that keeps its headers when empty, in every version."""
    import pandas as pd

    return pd.DataFrame(rows, columns=headers)


def error(message: str, *, sticky: bool = False, traceback: bool = False) -> gr.Error:
    """A message for the page. ``sticky``: stays until closed (4+; 3.x closes its own way);
    ``traceback``: also printed in the terminal (a routine refusal is not a crash: off by default).
    4+ renders a message as HTML, so it is escaped (a file named ``<img onerror=...>.wav`` is shown as
    text, never run) and its line breaks become ``<br>``; 3.x shows the text as it is."""
    if LEGACY:
        return gr.Error(message)
    message = "<br>".join(html.escape(line, quote=False) for line in message.splitlines())
    return gr.Error(message, duration=None if sticky else 10, print_exception=traceback)


@contextlib.contextmanager
def no_dead_progress():
    """Run a handler with Gradio's tqdm tracking switched off unless it reports to a live queue event.

    A ``gr.Progress(track_tqdm=True)`` (audio-webui's Generate has one) makes every tqdm in the call
    iterate the Progress object; called outside the queue (3.x's ``/run/predict``) that object has no
    event to report to, and its iterator returns itself forever: Bark's loops never end (seen in 3.49;
    5 and 6 track tqdm only inside queued calls, where the guard changes nothing).
    """
    try:
        from gradio.context import LocalContext
        from gradio.helpers import Progress
    except ImportError:  # a Gradio without tqdm tracking: nothing to switch off
        yield
        return
    if LocalContext.progress.get(None) is None or Progress._progress_callback() is not None:
        yield
        return
    token = LocalContext.progress.set(None)
    try:
        yield
    finally:
        LocalContext.progress.reset(token)


def listen(event, fn, inputs, outputs, *, concurrency_limit: int | None = None, status_on=None, **options):
    """``component.event(fn, inputs, outputs)``, with a concurrency limit where Gradio has one per event.
    ``status_on``: the one output that shows the event's progress and, if it fails, its error badge (4+
    marks every output otherwise: a failed Pick put "Error" on Start, End and the picture)."""
    if concurrency_limit is not None and not LEGACY:
        options["concurrency_limit"] = concurrency_limit
    if status_on is not None and not LEGACY:
        options["show_progress_on"] = status_on
    return event(fn, inputs, outputs, **options)


def refreshing_dropdown(choices_fn, *, refreshed_by_the_tab: bool = False, **options) -> gr.Dropdown:
    """A Dropdown whose choices are read again when it is opened (below Gradio 6: by a refresh button
    of its own, or the tab's when ``refreshed_by_the_tab``: a button of the caller that updates it)."""
    def refresh_choices():
        return gr.update(choices=choices_fn())

    if GRADIO_MAJOR >= 6 or refreshed_by_the_tab:
        dropdown = gr.Dropdown(choices_fn(), **options)
        if GRADIO_MAJOR >= 6:
            dropdown.focus(refresh_choices, None, dropdown)
        return dropdown
    with gr.Column():  # the button right under its list, not stretched beside it
        dropdown = gr.Dropdown(choices_fn(), **options)
        gr.Button("Refresh the list", size="sm").click(refresh_choices, None, dropdown)
    return dropdown


def queued(app: gr.Blocks, concurrency: int) -> gr.Blocks:
    if LEGACY:
        return app.queue(concurrency_count=concurrency)
    return app.queue(default_concurrency_limit=concurrency)


def launch_options(max_upload_mb: int) -> dict:
    """Keyword arguments for ``launch``: Gradio's per-file limit (4+ only; 3.x: the tabs check sizes
    themselves) and a limit on each request's whole body, which Gradio does not have (50 files just
    under the per-file limit in one upload request would otherwise all pass)."""
    from starlette.middleware import Middleware

    # In bytes: Gradio's "mb" is 2**20, and the tabs and messages count MB as 10**6.
    limit = int(max_upload_mb * 1_000_000)
    options = {"app_kwargs": {"middleware": [Middleware(RequestSizeLimit, limit=limit + REQUEST_OVERHEAD)]}}
    return options if LEGACY else {**options, "max_file_size": limit}


REQUEST_OVERHEAD = 1_000_000  # multipart headers and form fields around one file at the limit


class RequestSizeLimit:
    """ASGI middleware: a request whose body (declared or as it arrives) is over ``limit`` bytes
    gets 413 and is not read further."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen, started = 0, False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def watching_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send):
        mb = (self.limit - REQUEST_OVERHEAD) / 1_000_000
        detail = (f"This upload is larger than the {mb:g} MB limit for one request. Upload one file at a time, "
                  "or raise the limit: hubert-quant ui --max-upload-mb N.")
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
