"""Runs one step of audio-webui with the host's own code, in the host's Python, from its root.

    cd HOST_ROOT && HOST_PYTHON audio_webui_driver.py install URL
    cd HOST_ROOT && HOST_PYTHON audio_webui_driver.py installer
    cd HOST_ROOT && HOST_PYTHON audio_webui_driver.py bark SPEAKER TEXT OUT.wav
    cd HOST_ROOT && HOST_PYTHON audio_webui_driver.py clone RECORDING NAME
    cd HOST_ROOT && HOST_PYTHON audio_webui_driver.py settings VALUES
    cd HOST_ROOT && HOST_PYTHON audio_webui_driver.py tts_errors RECORDING
    cd HOST_ROOT && HOST_PYTHON audio_webui_driver.py orders SPEAKER offload|no-offload half|full STEP...

install: the Settings > Extensions > "Install from url" handler (its ``git clone``).
installer: what the host's installer does for extensions at a start (``em.init_extensions()``,
then each ``requirements.py`` object's ``install_or_upgrade_if_needed()``); the host's own
list is left out because it pip-installs fairseq and audiocraft, which cannot be had here.
bark: the host's Bark speaker list (``BarkTTS.get_voices()``) and the host's own Bark
generator (``BarkTTS.get_response`` in "File" mode, as its Text-to-speech tab calls it).
settings: data/config.json written with VALUES (JSON, may hold Infinity/NaN), then the host's own
``load_config()`` as a start runs it, the value it keeps for each, and the settings our extension makes from them.
clone: the extensions activated as ``main.py`` does, the host's settings read from ``data/config.json``, then
our Clone tab's own handler with the settings our extension makes from them.
orders: our Text-to-speech entry, Voice masking and Clone > Hear it, and the host's own Bark generator, one after
the other in one process.
Each prints one JSON line.
"""

import json
import os
import sys

ACTION, *ARGS = sys.argv[1:]
sys.argv = ["main.py", "-sv"]  # webui.args parses the command line when first imported
sys.path.insert(0, os.getcwd())


def install(url):
    import gradio
    from webui.ui.tabs.settings import install_extensions_tab

    with gradio.Blocks() as blocks:
        install_extensions_tab()
    handler = next(f.fn for f in blocks.fns if f.fn.__name__ == "install_extension")
    return {"answer": handler(url)}


def installer():
    import webui.extensionlib.extensionmanager as em

    em.init_extensions()
    requirements = em.get_requirements()
    for requirement in requirements:
        requirement.install_or_upgrade_if_needed()
    return {"extensions": sorted(em.states), "requirements": [r.package_name for r in requirements]}


def bark(speaker, text, out):
    import numpy as np
    import soundfile as sf
    from webui.modules.implementations.ttsmodels import BarkTTS
    from webui.ui.tabs import settings

    settings.load_config()
    settings.config["bark_use_cpu"]["value"] = True
    voices = BarkTTS.get_voices()
    tts = BarkTTS()
    quiet = lambda *a, **k: None  # noqa: E731 - stands in for the tab's gradio.Progress
    tts.load_model(progress=quiet)
    inputs = [text, "", None, "Text", "File", 0.7, 0.7, speaker, "", None, None, False, None, 0.2, "Large English",
              "Large English", None, "Manual"]
    (rate, audio), prompt_file = tts.get_response(*inputs, progress=quiet)
    audio = np.asarray(audio, dtype=np.float32)
    sf.write(out, audio, rate)
    return {"voices": voices, "rate": rate, "samples": int(audio.size), "rms": float(np.sqrt(np.mean(audio**2))),
            "prompt_file": prompt_file}


def clone(recording, name):
    import webui.extensionlib.callbacks as cb
    import webui.extensionlib.extensionmanager as em

    em.init_extensions()  # as prelaunch_checks() does, then main.py's activation and webui.py's init callbacks
    for state in em.states.values():
        state.activate()
    cb.get_manager("webui.init")()
    from webui.ui.tabs import settings

    settings.load_config()
    sys.path.insert(0, os.path.join("extensions", "hubert-quant"))
    import extension  # noqa: F401 - the entry file: sets sys.path, registers
    from hubert_quant import load_speaker, ui
    from hubert_quant.hosts import audio_webui

    chosen = audio_webui.ui_settings()
    path, status = ui.do_clone(recording, 0, 0, chosen.default_quantizer, name, True, settings=chosen,
                               progress=lambda *a, **k: None)
    return {"quantizer": chosen.quantizer, "hubert": chosen.hubert, "codec": chosen.codec, "status": status,
            "metadata": load_speaker(path).metadata}


def settings_from(values):
    import webui.extensionlib.callbacks as cb
    import webui.extensionlib.extensionmanager as em

    with open(os.path.join("data", "config.json"), "w") as f:
        f.write(values)
    em.init_extensions()
    for state in em.states.values():
        state.activate()
    cb.get_manager("webui.init")()
    import gradio
    from webui.ui.tabs import settings

    settings.load_config()  # what a start does: raises here would stop the host
    ours = {k: settings.get(k) for k in settings.config if k.startswith("hubert_quant_")}
    with gradio.Blocks():  # the widget the host's settings tab builds for each of ours
        widgets = {k: type(settings.ui_for_setting(k, settings.config[k])).__name__ for k in ours}
    sys.path.insert(0, os.path.join("extensions", "hubert-quant"))
    from hubert_quant.hosts import audio_webui

    return {"values": ours, "widgets": widgets, "upload_limit": audio_webui.ui_settings().max_upload_mb}


def tts_errors(recording):
    """Our Text-to-speech entry refusing: the exception type and text the host's page would get."""
    import gradio

    sys.path.insert(0, os.path.join("extensions", "hubert-quant"))
    from hubert_quant.hosts import audio_webui

    entry, seen = audio_webui.on_tts_list(), []
    for args in (("Hello.", "", "🔃", recording, "new one", False), ("Hello.", "", "🔃", None, "", False),
                 ("Hello.", "nobody-by-this-name", "🔃", None, "", False)):
        try:
            entry.get_response(*args, progress=None)
            seen.append({"type": None})
        except Exception as e:  # noqa: BLE001 - what reaches the host is the point
            seen.append({"type": type(e).__name__, "gradio": isinstance(e, gradio.Error), "text": str(e)})
    return {"seen": seen}


def orders(speaker, offload, half, *steps):
    """One host process, as a user goes back and forth: "ours" or "host" selects that entry in the host's
    Text-to-speech tab (the tab unloads the other's models first, as its model dropdown does) and generates
    with ``speaker``; "mask" (our Voice masking tab, into that voice) and "hear" (Clone > Hear it) run beside
    whatever the tab has selected. The host's Bark settings Cpu offload and half precision as given."""
    import traceback

    import webui.extensionlib.callbacks as cb
    import webui.extensionlib.extensionmanager as em

    em.init_extensions()
    for state in em.states.values():
        state.activate()
    cb.get_manager("webui.init")()  # our on_init: Bark on the host's terms
    from webui.modules.implementations.ttsmodels import BarkTTS
    from webui.ui.tabs import settings

    settings.load_config()
    settings.config["bark_use_cpu"]["value"] = True
    settings.config["bark_offload_cpu"]["value"] = offload == "offload"
    settings.config["bark_half"]["value"] = half == "half"
    sys.path.insert(0, os.path.join("extensions", "hubert-quant"))
    import numpy as np
    import soundfile as sf

    from hubert_quant import ui
    from hubert_quant.hosts import audio_webui

    quiet = lambda *a, **k: None  # noqa: E731 - stands in for the tab's gradio.Progress
    host, ours, selected, results = BarkTTS(), audio_webui.on_tts_list(), None, []
    recording = os.path.join("data", "orders-recording.wav")
    t = np.arange(3 * 16_000) / 16_000
    sf.write(recording, (0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32),
             16_000)
    host_inputs = ["hello world", "", None, "Text", "File", 0.7, 0.7, speaker, "", None, None, False, None, 0.2,
                   "Large English", "Large English", None, "Manual"]
    for step in steps:
        entry = ours if step == "ours" else host
        try:
            if step == "mask":
                out = ui.do_mask(recording, ui.MODES[1], speaker, None, 0, 0.7, 0.5, False,
                                 settings=audio_webui.ui_settings(), progress=quiet)
                results.append({"step": step, "ok": True, "samples": int(sf.info(out).frames)})
                continue
            if step == "hear":
                out = ui.do_preview(speaker, "hello world", settings=audio_webui.ui_settings(), progress=quiet)
                results.append({"step": step, "ok": True, "samples": int(sf.info(out).frames)})
                continue
            if selected is not entry:
                if selected is not None:
                    selected.unload_model()
                entry.load_model(progress=quiet)
                selected = entry
            if entry is ours:
                (rate, audio), _ = ours.get_response("hello world", speaker, "🔃", None, "", False, progress=quiet)
            else:
                (rate, audio), _ = host.get_response(*host_inputs, progress=quiet)
            results.append({"step": step, "ok": True, "samples": int(len(audio))})
        except Exception as e:  # noqa: BLE001 - what the user would see is the point
            results.append({"step": step, "ok": False, "error": f"{type(e).__name__}: {e}",
                            "where": traceback.format_exc()[-1500:]})
    return {"results": results}


if __name__ == "__main__":
    actions = {"install": install, "installer": installer, "bark": bark, "clone": clone, "settings": settings_from,
               "tts_errors": tts_errors, "orders": orders}
    print(json.dumps(actions[ACTION](*ARGS), default=str))
