"""Training throughput: the batched trainer against a plain one-sequence-at-a-time loop.

    python scripts/bench_train.py [--sequences 16] [--seconds 10] [--batch-size 8] [--device cpu]

Full-size shapes (quantizer v1: 768 -> LSTM 1024 -> 4096 -> 10000), random features and
tokens; both sides train on the same sequences for one pass, measured in the same run.
The plain loop is the original trainer's shape: one unbatched sequence per step, LogSoftmax,
then a cross-entropy that applies log-softmax again.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each sequence (50 frames/s)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    import torch

    from hubert_quant.quantizer import Quantizer, QuantizerConfig
    from hubert_quant.training.dataset import collate

    torch.manual_seed(0)
    frames = int(args.seconds * 50)
    pairs = [(str(i), torch.randn(frames - 7 * (i % 5), 768).numpy(), torch.randint(0, 10_000, (frames - 7 * (i % 5),))
              .numpy()) for i in range(args.sequences)]

    def sync() -> float:
        """The clock, once the device has finished what was queued (a GPU runs asynchronously)."""
        if torch.device(args.device).type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    def plain() -> float:
        model = Quantizer(QuantizerConfig(version=1)).to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for _, features, tokens in pairs:
            out = torch.log_softmax(model(torch.from_numpy(features).to(args.device)), dim=-1)
            loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(tokens).to(args.device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return sync() - start

    def batched() -> float:
        model = Quantizer(QuantizerConfig(version=1)).to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for first in range(0, len(pairs), args.batch_size):
            features, tokens, _ = collate(pairs[first : first + args.batch_size])
            out = model(features.to(args.device))
            loss = torch.nn.functional.cross_entropy(out.flatten(0, 1), tokens.to(args.device).flatten(),
                                                     ignore_index=-100)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        return sync() - start

    def breakdown() -> dict[str, float]:
        """Where one batched step's time goes: the LSTM and the output layers, forward and backward, and Adam."""
        model = Quantizer(QuantizerConfig(version=1)).to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        features, tokens, _ = collate(pairs[: args.batch_size])
        features, tokens = features.to(args.device), tokens.to(args.device)
        marks = [sync()]
        hidden, _ = model.lstm(features)
        marks.append(sync())
        cut = hidden.detach().requires_grad_()
        loss = torch.nn.functional.cross_entropy(model._head(cut).flatten(0, 1), tokens.flatten(), ignore_index=-100)
        marks.append(sync())
        loss.backward()
        marks.append(sync())
        hidden.backward(cut.grad)
        marks.append(sync())
        optimizer.step()
        marks.append(sync())
        names = ("LSTM forward", "output layers forward", "output layers backward", "LSTM backward", "Adam")
        return {name: marks[i + 1] - marks[i] for i, name in enumerate(names)}

    if torch.device(args.device).type != "cpu":
        breakdown()  # the device's start-up (context, kernels, cuDNN) is paid before anything is timed
    t_plain, t_batched = plain(), batched()
    parts = breakdown()
    rate_plain, rate_batched = args.sequences / t_plain, args.sequences / t_batched
    print(f"{args.sequences} sequences of {args.seconds:g} s, quantizer v1 full size, {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"plain, one sequence per step: {rate_plain:.3f} sequences/s ({t_plain:.1f} s)")
    print(f"batched, {args.batch_size} per step: {rate_batched:.3f} sequences/s ({t_batched:.1f} s)")
    print(f"speed-up: {rate_batched / rate_plain:.2f}x")
    print("one batched step, seconds: " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in parts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
