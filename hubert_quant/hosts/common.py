"""What every host adapter shares: building a tab without taking the host down."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable


def guarded(what: str, build: Callable[[], None], host: str = "the host") -> None:
    """Run ``build()`` inside a tab; if it fails, say so in that tab and let the host start.

    An exception escaping an extension's builder stops the whole of audio-webui, and turns
    all of a TTS-WebUI extension into one error tab: one broken tab must cost only itself.
    """
    import gradio as gr

    try:
        build()
    except Exception as e:  # noqa: BLE001 - whatever broke, the host must keep running
        traceback.print_exc()
        print(f"hubert-quant: could not build the {what} tab: {e}", file=sys.stderr)
        gr.Markdown(f"**hubert-quant could not build this tab:** {type(e).__name__}: {e}\n\n"
                    f"The rest of {host} works; the terminal shows the details.")


def owner_allows_remote_changes() -> bool:
    """Whether whoever runs the host set HUBERT_QUANT_ALLOW_REMOTE_MODEL_CHANGES=1 (then every visitor
    may change models, as with the app's --allow-remote-model-changes)."""
    from ..constants import ENV_ALLOW_REMOTE_MODEL_CHANGES, env

    return env(ENV_ALLOW_REMOTE_MODEL_CHANGES) == "1"
