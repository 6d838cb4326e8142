"""The standalone app (``hubert-quant ui``): the five tabs in one page, served on this machine."""

from __future__ import annotations

import sys

import gradio as gr

from .. import models
from ..constants import CONSENT
from . import gradio_compat as compat
from .clone_tab import clone_tab
from .common import Settings
from .mask_tab import mask_tab
from .models_tab import models_tab
from .read_tab import read_tab
from .speakers_tab import speakers_tab

EXPOSED = "this app is reachable from other machines"


def build_app(settings: Settings) -> gr.Blocks:
    # Uploads stay in Gradio's temp folder otherwise: those older than the setting are deleted (checked
    # every few minutes), and all at shutdown. Not at the end of each request: Pick, Clone and Hear it
    # use the same upload one after another.
    age = max(1, int(settings.upload_max_age_s))
    with gr.Blocks(title="hubert-quant", delete_cache=(min(age, 300), age)) as app:
        gr.Markdown(f"# hubert-quant\nClone voices for Bark. {CONSENT}")
        with gr.Tab("Clone"):
            clone_tab(settings)
        with gr.Tab("Voice mask"):
            mask_tab(settings)
        with gr.Tab("Read a text"):
            read_tab(settings)
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
    # Asked at each download: while others can reach the page, visitors make this process fetch nothing.
    models.set_download_policy(settings.exposure if settings.manage_models else lambda: EXPOSED)
    app = compat.queued(build_app(settings), 2)
    # Quiet: Gradio's own banner tells users to "set share=True in launch()"; ours names our options.
    app.launch(server_name="0.0.0.0" if listen else "127.0.0.1", server_port=port, share=share,
               prevent_thread_lock=True, **compat.launch_options(settings.max_upload_mb),
               allowed_paths=[str(settings.outputs_dir)], quiet=True)  # the library is served as copies
    if block:
        where = app.share_url or app.local_url
        reach = "" if listen or share else " (this machine only; --listen or --share to reach it from others)"
        print(f"hubert-quant app on {where}{reach}. Ctrl+C stops it.", file=sys.stderr, flush=True)
        app.block_thread()
    return app, app.local_url
