"""Runs one step of TTS-WebUI with the host's own code, in the host's Python, from its root.

    cd HOST_ROOT && HOST_PYTHON tts_webui_driver.py install REQUIREMENTS
    cd HOST_ROOT && HOST_PYTHON tts_webui_driver.py load
    cd HOST_ROOT && HOST_PYTHON tts_webui_driver.py bark VOICE TEXT OUT.wav
    cd HOST_ROOT && HOST_PYTHON tts_webui_driver.py version
    cd HOST_ROOT && HOST_PYTHON tts_webui_driver.py uninstall

install: the host's extension installer (``pip_install_wrapper(requirements, name)``, which runs
``pip install {requirements} gradio==5.49.1`` with the ``pip`` on PATH).
load: the host's loader for its Text-to-Speech group (``handle_extension_class``) inside a
``gr.Blocks``, as ``all_tabs`` calls it, reading ``extensions.external.json``; reports the tabs built.
bark: the host's Bark extension: its voice lists (``get_npz_files``, the Voices tab's
``get_npz_files_voices``), its ``load_npz``, and its generation (``bark_model_manager`` then
``custom_generate_audio`` with the voice as ``history_prompt``, as its Generate button does).
version, uninstall: its Manage accordion's version lookup (``_get_version``) and Uninstall button
(``uninstall_extension``, which runs ``pip uninstall -y <package_name>``).
Each prints one JSON line.
"""

import json
import os
import sys

ACTION, *ARGS = sys.argv[1:]
sys.path.insert(0, os.getcwd())


def install(requirements):
    from tts_webui.utils.pip_install import pip_install_wrapper

    lines = list(pip_install_wrapper(requirements, "hubert-quant")())
    return {"last": lines[-1][-3000:] if lines else ""}


def load():
    import gradio as gr
    from tts_webui.config.config import config
    from tts_webui.extensions_loader.interface_extensions import handle_extension_class

    with gr.Blocks() as blocks:
        handle_extension_class("text-to-speech", config)
    tabs = [b.label for b in blocks.blocks.values() if isinstance(b, gr.Tab)]
    texts = [str(b.value) for b in blocks.blocks.values() if isinstance(b, gr.Markdown)]
    import tts_webui_extension.hubert_quant.main as ours

    return {"tabs": tabs, "markdown": texts, "metadata": ours.EXTENSION}


def bark(voice, text, out):
    import numpy as np
    import soundfile as sf
    from tts_webui.utils.torch_load_patch import apply_torch_load_patch
    from tts_webui_extension.bark.BarkModelManager import bark_model_manager
    from tts_webui_extension.bark.extended_generate import custom_generate_audio
    from tts_webui_extension.bark.npz_tools import get_npz_files, load_npz
    from tts_webui_extension.bark.voices.get_npz_files_voices import get_npz_files_voices

    apply_torch_load_patch()  # what the host's Bark tab does when it loads
    listed, voices_tab = get_npz_files(), [row[-1] for row in get_npz_files_voices()]
    loaded = load_npz(voice)
    bark_model_manager.reload_models()
    full_generation, audio = custom_generate_audio(text=text, history_prompt=voice, output_full=True)
    audio = np.asarray(audio, dtype=np.float32)
    sf.write(out, audio, 24_000)
    from tts_webui_extension.bark.history_to_hash import history_to_hash

    return {"listed": listed, "voices_tab": voices_tab, "metadata": loaded.get("metadata"),
            "hash_by_host": history_to_hash(voice),
            "dtypes": {k: str(v.dtype) for k, v in loaded.items() if k != "metadata"},
            "samples": int(audio.size), "rms": float(np.sqrt(np.mean(audio ** 2)))}


def version():
    """The version the host's Manage accordion shows for us."""
    from tts_webui.extensions_loader.interface_extensions import _get_version

    return {"version": _get_version("tts_webui_extension.hubert_quant", None)}


def uninstall():
    """The host's Uninstall button, then whether its loader could still import us (a fresh process)."""
    import subprocess

    from tts_webui.extensions_loader.interface_extensions import uninstall_extension

    lines = [str(line) for line in uninstall_extension("tts_webui_extension.hubert_quant")]
    probe = "import importlib.util as u; print(u.find_spec('tts_webui_extension.hubert_quant') is not None)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip()
    return {"last": lines[-1][-2000:] if lines else "", "importable": found == "True"}


if __name__ == "__main__":
    actions = {"install": install, "load": load, "bark": bark, "version": version, "uninstall": uninstall}
    print(json.dumps(actions[ACTION](*ARGS), default=str))
