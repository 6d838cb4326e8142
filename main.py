from . import extension  # noqa: F401 - audio-webui imports this file; extension.py registers everything
