"""Start a stand-in audio-webui the way the real one starts, with one extension, and report.

    cd HOST_ROOT && python start.py FOLDER ACTION [ARGS...]   (tests/host on sys.path)

Order, as in the host: import requirements.py and call requirements(); import
extensions.<FOLDER>.main; fire webui.init; fire webui.settings; build gr.Blocks with
gr.Tabs() and fire webui.tabs, and webui.tabs.utils inside a "Utils" tab; collect
webui.tts.list. Then ACTION runs and one JSON line is printed.
"""

import importlib
import json
import os
import socket
import sys
from pathlib import Path

connections = []
_connect = socket.socket.connect


def _record(sock, address):  # the stand-in notes every connection attempt (loopback is allowed)
    connections.append(str(address))
    return _connect(sock, address)


socket.socket.connect = _record


def start(folder):
    root = Path.cwd()
    sys.path.insert(0, str(root))
    from webui.extensionlib import callbacks
    from webui.ui.tabs import settings

    settings.values.update(json.loads(os.environ.get("HOST_SETTINGS", "{}")))  # what the user set in the host
    meta = json.loads((root / "extensions" / folder / "extension.json").read_text())
    requirements = importlib.import_module(f"extensions.{folder}.requirements").requirements()
    before = set(sys.modules)
    importlib.import_module(f"extensions.{folder}.main")
    heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("torch", "gradio", "transformers"))
    imported = {"heavy_modules": heavy, "connections": list(connections)}
    callbacks.call("webui.init")
    for group in callbacks.call("webui.settings"):
        settings.defaults.update({key: spec["default"] for key, spec in group.items()})
    import gradio as gr

    with gr.Blocks() as app, gr.Tabs():
        with gr.Tab("Text to speech"):
            gr.Markdown("host")
        callbacks.call("webui.tabs")
        with gr.Tab("Utils"), gr.Tabs():
            callbacks.call("webui.tabs.utils")
    tts = []
    for item in callbacks.call("webui.tts.list"):
        tts.extend(item if isinstance(item, list) else [item])
    return {"meta": meta, "requirements": requirements, "imported": imported, "app": app, "tts": tts,
            "settings": callbacks.call("webui.settings")}


def host_speakers(root):
    """The host's Bark generator list: relative paths under data/bark_custom_speakers, no .npz."""
    folder = root / "data" / "bark_custom_speakers"
    return sorted(str(p.relative_to(folder).with_suffix("")).replace(os.sep, "/") for p in folder.glob("**/*.npz"))


def main():
    folder, action, *args = sys.argv[1:]
    host = start(folder)
    app = host["app"]
    report = {
        "meta": host["meta"],
        "requirements": [type(r).__name__ + ":" + r.package_name for r in host["requirements"]],
        "imported": host["imported"],
        "tabs": [b.label for b in app.blocks.values() if type(b).__name__ == "Tab"],
        "settings": host["settings"],
        "tts": [(type(t).__mro__[1].__name__, t.model, t.no_install) for t in host["tts"]],
    }
    if action == "clone":
        audio, name = args
        clone = next(fn for fn in app.fns.values() if fn.api_name == "clone")
        report["clone"] = clone.fn(audio, 0, 0, "Large English", name, True, progress=lambda *a, **k: None)
    elif action == "tts":
        audio, name, text = args
        loader = host["tts"][0]
        components = loader._components()
        loader.load_model()
        rate, samples = loader.get_response(text, None, audio, name, True)
        report["tts_out"] = {"components": len(components), "rate": rate, "n": int(len(samples)),
                             "rms": float((samples ** 2).mean() ** 0.5)}
        loader.unload_model()
    report["speakers"] = host_speakers(Path.cwd())
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
