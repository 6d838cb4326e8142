"""``hubert-quant dataset ...``, ``train`` and ``eval``: make quantizers for new languages."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import add_command, options, stage_bars


def add_train_parsers(commands) -> None:
    data = add_command(commands, "dataset", "build a training dataset (import, generate, features)", description=(
        "Build the pairs a quantizer learns from: Bark semantic tokens and the audio Bark made from them, "
        "imported or generated, then their HuBERT layer-9 features. Every step resumes where it stopped."),
        examples=("hubert-quant dataset import downloads/bark-semantic-training --out ds",
                  "hubert-quant dataset generate welsh-sentences.txt --out ds --device cuda",
                  "hubert-quant dataset features --out ds"))
    actions = data.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = add_command(actions, "import", "import (semantic .npy, wav) pairs: SOURCE/semantic/ + SOURCE/wav/ or zips",
                      parents=options(), examples=("hubert-quant dataset import downloads/pairs --out ds",))
    imp.add_argument("source", type=Path, help="a folder with semantic/ and wav/ (or semantic.zip and wav.zip)")
    gen = add_command(actions, "generate", "make pairs with Bark from a text file, one sentence per line",
                      parents=options(), examples=("hubert-quant dataset generate welsh.txt --out ds --device cuda",
                                                   "hubert-quant dataset generate welsh.txt --out ds --small"),
                      description=("Make pairs with Bark from a text file, one sentence per line. Under torchrun "
                                   "(torchrun --nproc-per-node 4 -m hubert_quant dataset generate ...) each process "
                                   "makes its share, into the same dataset; the result is the same as one process's."))
    gen.add_argument("sentences", type=Path, help="a UTF-8 text file, one sentence per line")
    gen.add_argument("--seed", type=int, default=0,
                     help="sentence i (its line, from 0) is made with seed + i, in any run or process")
    gen.add_argument("--small", action="store_true", help="Bark's small models")
    feats = add_command(actions, "features", "cache HuBERT layer-9 features for every pair (resumable)",
                        parents=options(), examples=("hubert-quant dataset features --out ds",))
    feats.add_argument("--hubert", default=None, help="HuBERT folder or Hub id (default facebook/hubert-base-ls960)")
    for action in (imp, gen, feats):
        action.add_argument("--out", "-o", type=Path, required=True, help="the dataset folder")
        action.add_argument("--val-percent", type=float, default=10.0, help="share of pairs for validation")
    imp.set_defaults(run=run_import)
    gen.set_defaults(run=run_generate)
    feats.set_defaults(run=run_features)

    train = add_command(commands, "train", "train a quantizer on a dataset (torchrun for several GPUs/machines)",
                        parents=options(), examples=(
                            "hubert-quant train ds --out runs/welsh --init 'Large English' --epochs 20",
                            "hubert-quant train ds --out runs/welsh   # again: resumes from runs/welsh/state.pt"))
    train.add_argument("dataset", type=Path, help="a folder made by 'hubert-quant dataset'")
    train.add_argument("--out", "-o", type=Path, required=True, help="folder for checkpoints, state and curves")
    train.add_argument("--init", default=None, help="fine-tune this checkpoint (a path or catalogue name)")
    train.add_argument("--version", type=int, choices=[0, 1], default=1, help="quantizer version (default 1)")
    train.add_argument("--input-size", type=int, default=768, help="HuBERT feature size (default 768)")
    train.add_argument("--hidden-size", type=int, default=1024, help="LSTM hidden size (default 1024)")
    train.add_argument("--output-size", type=int, default=10_000, help="vocabulary (Bark's: 10000)")
    train.add_argument("--epochs", type=int, default=20, help="at most this many passes over the data (default 20)")
    train.add_argument("--batch-size", type=int, default=16, help="sequences per step (default 16)")
    train.add_argument("--lr", type=float, default=1e-3,
                       help="peak learning rate, with cosine decay (default 0.001)")
    train.add_argument("--patience", type=int, default=5, help="stop after this many epochs without improvement")
    train.add_argument("--seed", type=int, default=0, help="for the initial weights and the batch order")
    train.set_defaults(run=run_train)

    ev = add_command(commands, "eval", "token accuracy of quantizers on a dataset, side by side", parents=options(),
                     examples=("hubert-quant eval ds runs/welsh/epoch_20.pth 'Large English'",
                               "hubert-quant eval ds German --split all --json german.json"))
    ev.add_argument("dataset", type=Path, help="a folder made by 'hubert-quant dataset' (with features)")
    ev.add_argument("quantizers", nargs="+", help="checkpoint paths or catalogue names")
    ev.add_argument("--split", choices=["val", "train", "all"], default="val",
                    help="which pairs: the validation share (default), the training share, or all")
    ev.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    ev.set_defaults(run=run_eval)


def run_import(args) -> int:
    from ..training.dataset import import_pairs

    report = import_pairs(args.source, args.out, val_percent=args.val_percent)
    print(f"imported {report['imported']} pairs ({report['skipped']} already there) into {args.out}")
    for side in ("semantic", "wav"):
        missing = report[f"unmatched_{side}"]
        if missing:
            print(f"unmatched {side} files ({len(missing)}): {', '.join(missing[:10])}"
                  + (" ..." if len(missing) > 10 else ""), file=sys.stderr)
    refused = report.get("refused", [])
    if refused:  # each line names the file (escaped) and why; nothing of it was read or written
        print(f"skipped {len(refused)} files that cannot be pairs:", file=sys.stderr)
        for line in refused[:20]:
            print(f"  {line}", file=sys.stderr)
        if len(refused) > 20:
            print(f"  ... and {len(refused) - 20} more", file=sys.stderr)
    return 0


def run_generate(args) -> int:
    from ..bark.adapter import BarkOptions
    from ..training.dataset import generate_pairs

    sentences = args.sentences.read_text(encoding="utf-8").splitlines()
    rank, world = _share()
    made = generate_pairs(sentences, args.out, val_percent=args.val_percent, progress=stage_bars(), rank=rank,
                          world=world, options=BarkOptions(seed=args.seed, small=args.small, device=args.device))
    print(f"generated {made} new pairs in {args.out}{_by_whom(rank, world)}")
    return 0


def _share() -> tuple[int, int]:
    """(rank, world): this process's share of a dataset job under torchrun (RANK, WORLD_SIZE), else (0, 1)."""
    from ..constants import env

    try:
        rank, world, local = int(env("RANK", "0")), int(env("WORLD_SIZE", "1")), int(env("LOCAL_RANK", "0"))
    except ValueError:
        raise ValueError("RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers (torchrun sets them)") from None
    if world > 1:
        import torch

        if torch.cuda.device_count() > 1:  # Bark and HuBERT take "cuda": each process its own GPU
            torch.cuda.set_device(local % torch.cuda.device_count())
    return rank, world


def _by_whom(rank: int, world: int) -> str:
    return f" (process {rank} of {world}: its share)" if world > 1 else ""


def run_features(args) -> int:
    from ..models import load_hubert
    from ..training.dataset import extract_features

    rank, world = _share()
    made = extract_features(args.out, load_hubert(args.hubert, device=args.device), progress=stage_bars(),
                            rank=rank, world=world)
    print(f"computed features for {made} pairs in {args.out / 'features'}{_by_whom(rank, world)}")
    return 0


def run_train(args) -> int:
    from ..quantizer import QuantizerConfig
    from ..training.train import TrainConfig, train

    init = None
    if args.init:
        from ..models import resolve_quantizer

        init = resolve_quantizer(args.init)
    result = train(args.dataset, args.out, init=init,
                   model_config=QuantizerConfig(args.input_size, args.hidden_size, args.output_size, args.version),
                   config=TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                      patience=args.patience, seed=args.seed, device=args.device))
    for row in result["history"]:
        print(f"epoch {row['epoch']}: loss {row['loss']:.4f}, val top-1 {row['val_top1']:.2%}, "
              f"top-5 {row['val_top5']:.2%}")
    if result["best"]:
        print(f"best: {result['best']} (val top-1 {result['best_top1']:.2%}); curves: {args.out / 'curves.png'}")
    return 0


def run_eval(args) -> int:
    from ..training.evaluate import evaluate_files

    results = evaluate_files(args.dataset, args.quantizers, split=None if args.split == "all" else args.split,
                             device=args.device)
    width = max(len(name) for name in results)
    print(f"{'quantizer'.ljust(width)}  top-1    top-5    tokens")
    for name, r in results.items():
        print(f"{name.ljust(width)}  {r['top1']:7.2%}  {r['top5']:7.2%}  {r['tokens']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0
