"""The Gradio front end: clone, voice-mask, read-a-text, speaker-library and model-manager tabs.

Each ``*_tab(settings)`` adds its components to whatever ``gr.Blocks``/``gr.Tab`` context
it is called in and keeps no global state, so the same builders serve the standalone app
(:func:`build_app`, ``hubert-quant ui``) and the hosts' adapters (:mod:`hubert_quant.hosts`).
Every event goes through :mod:`hubert_quant`'s API; errors reach the page as readable messages.

- :mod:`.common`: :class:`Settings`, error messages, progress;
- :mod:`.clone_tab`, :mod:`.mask_tab`, :mod:`.read_tab`, :mod:`.speakers_tab`, :mod:`.models_tab`: one tab each;
- :mod:`.app`: the standalone app; :mod:`.gradio_compat`: Gradio 3.49 to 6 behind one API.
"""

from __future__ import annotations

from .app import build_app, launch
from .clone_tab import clip_hint, clip_picture, clone_tab, do_clone, do_pick, do_preview, quantizer_label
from .common import AUDIO_FILES, Settings, missing_models_message, readable, speaker_names
from .mask_tab import MODES, do_mask, library_or_preset, mask_tab
from .models_tab import MODEL_COLUMNS, model_rows, models_tab
from .read_tab import READ_COLUMNS, chunk_rows, do_pick_chunk, do_read, do_read_again, read_tab, speaker_choices
from .speakers_tab import SPEAKER_COLUMNS, speaker_rows, speakers_tab

__all__ = [
    "AUDIO_FILES", "MODEL_COLUMNS", "MODES", "READ_COLUMNS", "SPEAKER_COLUMNS", "Settings", "build_app", "chunk_rows",
    "clip_hint", "clip_picture", "clone_tab", "do_clone", "do_mask", "do_pick", "do_pick_chunk", "do_preview",
    "do_read", "do_read_again", "launch", "library_or_preset", "mask_tab", "missing_models_message", "model_rows",
    "models_tab", "quantizer_label", "read_tab", "readable", "speaker_choices", "speaker_names", "speaker_rows",
    "speakers_tab",
]
