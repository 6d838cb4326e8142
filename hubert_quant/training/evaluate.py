"""How well quantizers predict Bark's semantic tokens: top-1 and top-5 accuracy on dataset pairs."""

from __future__ import annotations

import os

import torch

from ..quantizer import Quantizer
from .dataset import collate, load_split


def evaluate(model: Quantizer, pairs, *, batch_size: int = 16, device: str = "cpu") -> dict:
    """Top-1 and top-5 token accuracy over ``pairs``, and per file."""
    model.eval()
    correct1 = correct5 = total = 0
    per_file = {}
    with torch.inference_mode():
        for first in range(0, len(pairs), batch_size):
            chunk = pairs[first : first + batch_size]
            features, tokens, lengths = collate(chunk)
            out = model(features.to(device)).cpu()  # (B, T, vocab); padding past each length
            top5 = out.topk(5, dim=-1).indices
            for i, (pair_id, _, _) in enumerate(chunk):
                n = int(lengths[i])
                hit1 = (top5[i, :n, 0] == tokens[i, :n]).sum().item()
                hit5 = (top5[i, :n] == tokens[i, :n, None]).any(-1).sum().item()
                per_file[pair_id] = hit1 / n
                correct1, correct5, total = correct1 + hit1, correct5 + hit5, total + n
    return {"top1": correct1 / max(total, 1), "top5": correct5 / max(total, 1), "tokens": total,
            "per_file": per_file}


def evaluate_files(dataset: str | os.PathLike, checkpoints: list[str], *, split: str | None = "val",
                   device: str = "auto") -> dict:
    """Accuracy of several quantizers on one dataset split: {name: {top1, top5, tokens, per_file}}."""
    from ..device import resolve_device
    from ..models import resolve_quantizer

    pairs, device = load_split(dataset, split), resolve_device(device)
    return {name: evaluate(Quantizer.load(resolve_quantizer(name)).to(device), pairs, device=device)
            for name in checkpoints}

