"""The plain pipeline: the compatibility contract's algorithm, written the obvious way.

It is the reference that the optimised pipeline must match token for token, and the
baseline the benchmark (scripts/bench.py) divides by:

- HuBERT: all 12 layers over the whole file at once, ``hidden_states[9]``;
- quantizer: the original "CustomTokenizer", one unbatched LSTM pass, LogSoftmax, argmax, fp32;
- EnCodec: the whole file at once.
"""

from __future__ import annotations

import json
import zipfile

import torch
from torch import nn


class OriginalTokenizer(nn.Module):
    """The original "CustomTokenizer" as published: unbatched forward ending in LogSoftmax."""

    def __init__(self, hidden_size=1024, input_size=768, output_size=10000, version=0):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, 2, batch_first=True)
        next_size = hidden_size
        if version == 1:
            self.intermediate = nn.Linear(hidden_size, 4096)
            next_size = 4096
        self.fc = nn.Linear(next_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)
        self.version = version

    def forward(self, x):
        x, _ = self.lstm(x)
        if self.version == 1:
            x = self.intermediate(x)
        return self.softmax(self.fc(x))

    def get_token(self, x):
        return torch.argmax(self(x), dim=1)


def original_load(path):
    """The original reader: sizes from any entry ending in /.info, else the old defaults."""
    with zipfile.ZipFile(path) as archive:
        infos = [name for name in archive.namelist() if name.endswith("/.info")]
        data = json.loads(archive.read(infos[0]).decode("utf-8")) if infos else None
    if data is None:
        model = OriginalTokenizer()
    else:
        model = OriginalTokenizer(data["hidden_size"], data["input_size"], data["output_size"], data["version"])
    model.load_state_dict(torch.load(path))
    return model


class PlainPipeline:
    """The three models loaded the plain way; ``semantic``/``codes`` run them over whole inputs."""

    def __init__(self, hubert_dir, quantizer_path, codec_path):
        from encodec import EncodecModel
        from transformers import HubertModel

        self.hubert = HubertModel.from_pretrained(hubert_dir).eval()
        self.quantizer = original_load(quantizer_path).eval()
        self.codec = EncodecModel.encodec_model_24khz(pretrained=False)
        self.codec.load_state_dict(torch.load(codec_path, weights_only=True))
        self.codec.set_target_bandwidth(6.0)
        self.codec.eval()

    def features(self, samples_16k: torch.Tensor) -> torch.Tensor:
        """(n,) at 16 kHz -> layer-9 features (n_frames, 768)."""
        with torch.no_grad():
            return self.hubert(samples_16k[None], output_hidden_states=True).hidden_states[9][0]

    def tokens(self, features: torch.Tensor) -> torch.Tensor:
        """(n_frames, 768) -> semantic tokens (n_frames,)."""
        with torch.no_grad():
            return self.quantizer.get_token(features)

    def semantic(self, samples_16k: torch.Tensor) -> torch.Tensor:
        return self.tokens(self.features(samples_16k))

    def codes(self, samples_24k: torch.Tensor) -> torch.Tensor:
        """(n,) at 24 kHz -> EnCodec codes (8, C)."""
        with torch.no_grad():
            return self.codec.encode(samples_24k[None, None])[0][0][0]
