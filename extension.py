"""audio-webui's entry file: all of the adapter is :mod:`hubert_quant.hosts.audio_webui`.

hubert_quant lives next to this file, whatever this folder is called; the host runs from its
own root, so this folder is put on ``sys.path`` first.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from hubert_quant.hosts import audio_webui  # noqa: E402 - only importable once HERE is on sys.path

audio_webui.setup(HERE)
