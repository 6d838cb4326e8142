"""Training quantizers on HuBERT features (see :mod:`hubert_quant.training.dataset`).

Sequences are batched: padded at the end to the longest in the batch (the LSTM runs forward
in time, so padding never reaches a real frame; packing would give the same numbers but its
backward pass is about 7x slower on CPU), and the cross-entropy on logits ignores padded positions
(the original applied LogSoftmax and then a loss that applies it again, one item at a
time). Adam with cosine decay, gradient clipping, bfloat16 autocast where it pays (a GPU, a CPU with
AVX512-BF16 or AMX: :func:`~hubert_quant.device.trains_in_bfloat16`), a checkpoint per
epoch in the compatible format plus a resumable state, early stopping on validation
accuracy. Under ``torchrun`` it trains with DistributedDataParallel, same command line.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..constants import env
from ..device import autocast_type, resolve_device, seed_everything, trains_in_bfloat16
from ..quantizer import Quantizer, QuantizerConfig
from .dataset import IGNORE, collate, load_split  # noqa: F401 - IGNORE: what padded tokens are
from .evaluate import evaluate


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-3
    clip: float = 1.0
    patience: int = 5  # epochs without a better validation accuracy before stopping
    seed: int = 0
    device: str = "auto"


def train(dataset: str | os.PathLike, out: str | os.PathLike, *, model_config: QuantizerConfig | None = None,
          init: str | os.PathLike | None = None, config: TrainConfig | None = None, progress=True,
          stop_after: int | None = None) -> dict:
    """Train a quantizer on a dataset folder; checkpoints go to ``out``. Resumes from ``out/state.pt``.

    model_config: sizes and version for a new model; init: a checkpoint to fine-tune instead.
    stop_after: train at most this many epochs in this call (run again to continue, as after
        an interruption).
    returns: {"best": path of the best checkpoint, "best_top1": its accuracy, "history": [per-epoch numbers]}
    """
    config, out = config or TrainConfig(), Path(out)
    world = int(env("WORLD_SIZE", "1"))  # set by torchrun
    distributed = world > 1
    device = resolve_device(config.device)
    rank = _init_distributed(device) if distributed else 0
    if distributed and device.startswith("cuda"):
        device = f"cuda:{int(env('LOCAL_RANK', '0'))}"
    seed_everything(config.seed)
    train_pairs, val_pairs = load_split(dataset, "train"), load_split(dataset, "val")
    if not train_pairs or not val_pairs:
        raise ValueError(f"{dataset}: needs pairs in both splits (train {len(train_pairs)}, val {len(val_pairs)}): "
                         "a pair's split follows its id and the dataset's validation share, so with this few pairs "
                         "one split can be empty; add pairs (dataset generate or import)")
    model = Quantizer.load(init) if init else Quantizer(model_config or QuantizerConfig(version=1))
    if model.config.input_size != train_pairs[0][1].shape[1]:
        raise ValueError(f"the model takes {model.config.input_size}-wide features, the dataset has "
                         f"{train_pairs[0][1].shape[1]}-wide ones")
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = cosine_schedule(optimizer, config.epochs * math.ceil(len(train_pairs) / config.batch_size / world))
    state_path = out / "state.pt"
    state = _resume(state_path, model, optimizer, schedule)
    trainable = nn.parallel.DistributedDataParallel(model) if distributed else model
    last = config.epochs if stop_after is None else min(config.epochs, state["epoch"] + stop_after)
    for epoch in range(state["epoch"], last):
        order = list(range(len(train_pairs)))  # a fresh shuffle per epoch, so a resumed run sees the same
        random.Random(config.seed + epoch).shuffle(order)
        mine = [train_pairs[i] for i in order[rank::world]]  # a disjoint share each, as DistributedSampler does
        bar = _bar(len(mine), f"epoch {epoch + 1}/{config.epochs}", progress and rank == 0)
        losses = train_epoch(trainable, model, mine, optimizer, schedule, config, device, bar.update)
        bar.close()
        scores = evaluate(model, val_pairs, device=device)
        state["history"].append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_top1": scores["top1"],
                                 "val_top5": scores["top5"]})
        state["epoch"] = epoch + 1
        better = scores["top1"] > state["best"]
        state["stale"] = 0 if better else state["stale"] + 1
        state["best"] = max(state["best"], scores["top1"])
        if rank == 0:
            path = model.save(out / f"epoch_{epoch + 1}.pth", overwrite=True)
            if better:
                state["best_path"] = str(path)
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "schedule": schedule.state_dict(), "progress": json.dumps(state)}, state_path)
            plot(state["history"], out / "curves.png")
        if state["stale"] >= config.patience:
            break
    if distributed:
        torch.distributed.destroy_process_group()
    return {"best": state["best_path"], "best_top1": state["best"], "history": state["history"]}


def train_epoch(trainable, model: Quantizer, pairs, optimizer, schedule, config: TrainConfig, device: str,
                advance=lambda n: None) -> list[float]:
    """One pass over ``pairs`` in batches; returns each batch's loss. ``trainable`` is ``model``
    itself or its DistributedDataParallel wrapper (whose call syncs gradients)."""
    model.train()
    losses = []
    bfloat16 = trains_in_bfloat16(device)
    for first in range(0, len(pairs), config.batch_size):
        features, tokens, lengths = collate(pairs[first : first + config.batch_size])
        with torch.autocast(autocast_type(device), dtype=torch.bfloat16, enabled=bfloat16):
            loss = batch_loss(trainable, features.to(device), tokens.to(device))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), config.clip)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        advance(len(lengths))
    return losses


def batch_loss(model, features: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """features (B, T, in), tokens (B, T) with IGNORE at padding -> mean cross-entropy over real frames.

    Padding sits at the end and the LSTM runs forward, so padded frames never change a real one.
    """
    logits = model(features)  # (B, T, vocab)
    return nn.functional.cross_entropy(logits.flatten(0, 1).float(), tokens.flatten(), ignore_index=IGNORE)


def cosine_schedule(optimizer, steps: int):
    """Learning rate decaying from the optimizer's to 0 over ``steps`` (a half cosine), then held."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1))))


def _resume(state_path: Path, model, optimizer, schedule) -> dict:
    """Progress so far (and the model, optimizer and schedule restored) from ``state_path``, if any."""
    if not state_path.is_file():
        return {"epoch": 0, "best": -1.0, "best_path": None, "stale": 0, "history": []}
    from ..torch_compat import load_tensors

    saved = load_tensors(state_path, mmap=False)  # guarded, weights only; not mapped: it is rewritten in place
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    return json.loads(saved["progress"])


def _init_distributed(device: str) -> int:
    torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return torch.distributed.get_rank()


def _bar(total: int, desc: str, enabled: bool):
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="seq", file=sys.stderr, disable=not enabled, leave=False)


def plot(history: list[dict], path: Path) -> Path:
    """Loss and validation accuracy per epoch as a small PNG (drawn with Pillow)."""
    from PIL import Image, ImageDraw

    width, height, pad = 640, 320, 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([pad, pad, width - pad, height - pad], outline="black")
    curves = [("loss", "firebrick", [h["loss"] for h in history]), ("val top-1", "navy",
                                                                      [h["val_top1"] for h in history])]
    for n, (label, colour, values) in enumerate(curves):
        top = max(values) or 1.0
        points = [(pad + (width - 2 * pad) * i / max(len(values) - 1, 1), height - pad - (height - 2 * pad) * v / top)
                  for i, v in enumerate(values)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        draw.text((pad + 150 * n, 12), f"{label} (max {top:.3g})", fill=colour)
    draw.text((pad, height - pad + 8), f"epochs 1..{len(history)}", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
