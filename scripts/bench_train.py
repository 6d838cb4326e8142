"""Training throughput: the batched trainer against a plain one-sequence-at-a-time loop.

    python scripts/bench_train.py [--sequences 16] [--seconds 10] [--batch-size 8] [--device cpu] [--curve 20]

Full-size shapes (quantizer v1: 768 -> LSTM 1024 -> 4096 -> 10000), random features and
tokens; both sides train on the same sequences for one pass, measured in the same run.
The plain loop is the original trainer's shape: one unbatched sequence per step, LogSoftmax,
then a cross-entropy that applies log-softmax again. The batched trainer is timed in fp32 and,
where `hubert-quant train` uses it (a GPU; a CPU with AVX512-BF16 or AMX), in bfloat16 autocast.

--curve N: N steps of a learnable task (each frame's token a fixed function of its features)
from the same start, fp32 and bfloat16, and fp32 from another start as the size of noise: the
loss curves and how far apart they are.
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
    parser.add_argument("--curve", type=int, default=0, metavar="STEPS", help="also compare loss curves (see above)")
    args = parser.parse_args(argv)
    import torch

    from hubert_quant.device import autocast_type, trains_in_bfloat16
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

    def step(model, optimizer, features, tokens, bfloat16: bool) -> float:
        """One step of the batched trainer (`train.train_epoch`); returns the loss."""
        with torch.autocast(autocast_type(args.device), dtype=torch.bfloat16, enabled=bfloat16):
            out = model(features.to(args.device))
        loss = torch.nn.functional.cross_entropy(out.flatten(0, 1).float(), tokens.to(args.device).flatten(),
                                                 ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return loss.item()

    def batched(bfloat16: bool = False) -> float:
        model = Quantizer(QuantizerConfig(version=1)).to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        start = time.perf_counter()
        for first in range(0, len(pairs), args.batch_size):
            features, tokens, _ = collate(pairs[first : first + args.batch_size])
            step(model, optimizer, features, tokens, bfloat16)
        return sync() - start

    def curve(seed: int, bfloat16: bool) -> list[float]:
        """Losses of args.curve steps on a task the model can learn: token = argmax of 16 fixed projections."""
        data = torch.Generator().manual_seed(1)
        projection = torch.randn(768, 16, generator=data)
        torch.manual_seed(seed)
        model = Quantizer(QuantizerConfig(version=1)).to(args.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        losses = []
        for _ in range(args.curve):
            features = torch.randn(args.batch_size, frames, 768, generator=data)
            losses.append(step(model, optimizer, features, (features @ projection).argmax(-1) * 601, bfloat16))
        return losses

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
    bfloat16 = trains_in_bfloat16(args.device)
    t_plain, t_batched = plain(), batched()
    t_bfloat16 = batched(bfloat16=True) if bfloat16 else None
    parts = breakdown()
    rate_plain, rate_batched = args.sequences / t_plain, args.sequences / t_batched
    print(f"{args.sequences} sequences of {args.seconds:g} s, quantizer v1 full size, {args.device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"plain, one sequence per step: {rate_plain:.3f} sequences/s ({t_plain:.1f} s)")
    print(f"batched, {args.batch_size} per step, fp32: {rate_batched:.3f} sequences/s ({t_batched:.1f} s), "
          f"{rate_batched / rate_plain:.2f}x")
    if t_bfloat16 is not None:
        rate = args.sequences / t_bfloat16
        print(f"batched, {args.batch_size} per step, bfloat16 autocast (as `hubert-quant train` here): {rate:.3f} "
              f"sequences/s ({t_bfloat16:.1f} s), {rate / rate_plain:.2f}x")
    else:
        print("bfloat16 autocast: not used on this device (no AVX512-BF16 or AMX), so not timed")
    print("one batched step (fp32), seconds: " + ", ".join(f"{name} {sec:.2f}" for name, sec in parts.items()))
    if args.curve:
        reference, other, half = curve(0, False), curve(1, False), curve(0, True)

        def gap(a: list[float], b: list[float]) -> float:
            return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)

        for name, losses in (("fp32", reference), ("fp32, another start", other), ("bfloat16", half)):
            print(f"loss curve, {name}: " + " ".join(f"{loss:.4f}" for loss in losses))
        print(f"mean |bfloat16 - fp32| over the curve: {gap(half, reference):.4f}; "
              f"between the two fp32 starts (noise): {gap(other, reference):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
