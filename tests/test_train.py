"""Training and evaluation on a tiny, learnable, synthetic task (no HuBERT needed)."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import ROOT, fake_hub_cache, run_cli, speech_like

from hubert_quant import device as devices
from hubert_quant.quantizer import Quantizer, QuantizerConfig
from hubert_quant.training import dataset
from hubert_quant.training.evaluate import evaluate
from hubert_quant.training.train import IGNORE, TrainConfig, collate, cosine_schedule, train, train_epoch

pytestmark = pytest.mark.slow  # Bark runs, training or long audio: minutes on 2 cores

SMALL = QuantizerConfig(input_size=32, hidden_size=32, output_size=32, version=0)  # "any sizes"


def synthetic(folder, n=240, seed=0):
    """Features (N, 32) whose token is a fixed function of the frame: 7 x (2 [f0 > 0] + [f1 > 0])."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        length = int(rng.integers(30, 90))
        features = rng.standard_normal((length, 32)).astype(np.float16)
        tokens = 7 * (2 * (features[:, 0] > 0) + (features[:, 1] > 0)).astype(np.int64)
        pair_id = f"p{i:03d}"
        for kind, array in (("features", features), ("semantic", tokens.astype(np.int64))):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            np.save(folder / kind / f"{pair_id}.npy", array)
        split = "val" if i % 6 == 0 else "train"
        rows.append({"id": pair_id, "seconds": length / 50, "tokens": length, "split": split})
    dataset.write_manifest(folder, rows)
    return folder


FAST = TrainConfig(epochs=8, batch_size=8, lr=2e-2, patience=8, seed=3, device="cpu")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    data = synthetic(root / "data")
    with pytest.MonkeyPatch.context() as patch:  # fp32 on every CPU: the reference the bfloat16 run is held to
        patch.setattr(devices, "_cpu_bfloat16", lambda: False)
        first = train(data, root / "a", model_config=SMALL, config=FAST, progress=False)
        again = train(data, root / "b", model_config=SMALL, config=FAST, progress=False)
    return data, root, first, again


def test_training_learns_far_above_chance_and_repeats_exactly(trained):
    _, root, first, again = trained
    assert first["best_top1"] > 0.8  # chance: 1/4 for the four target classes, 1/10000 by vocabulary
    assert first["history"] == again["history"]
    assert (root / "a" / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("native", [True, False])
def test_training_runs_in_bfloat16_only_where_the_cpu_has_it(monkeypatch, native, pretend_bfloat16):
    """bfloat16 autocast for the forward pass on a CPU with AVX512-BF16 or AMX; fp32 weights and loss either way."""
    monkeypatch.setattr(devices, "_cpu_bfloat16", lambda: native)
    torch.manual_seed(0)
    model = Quantizer(SMALL)
    seen = []
    model.register_forward_hook(lambda _module, _args, out: seen.append(out.dtype))
    rng = np.random.default_rng(0)
    pairs = [(str(i), rng.standard_normal((40, 32)).astype(np.float32), rng.integers(0, 32, 40)) for i in range(4)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = train_epoch(model, model, pairs, optimizer, cosine_schedule(optimizer, 2),
                         TrainConfig(batch_size=2, device="cpu"), "cpu")
    assert seen == [torch.bfloat16 if native else torch.float32] * 2
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_training_in_bfloat16_learns_as_well(monkeypatch, trained, tmp_path, pretend_bfloat16):
    data, _, first, _ = trained
    monkeypatch.setattr(devices, "_cpu_bfloat16", lambda: True)
    result = train(data, tmp_path / "bf16", model_config=SMALL, config=FAST, progress=False)
    assert result["best_top1"] > 0.8
    assert abs(result["best_top1"] - first["best_top1"]) < 0.05


def test_exported_checkpoint_loads_in_the_core_loader_and_gives_the_evaluated_accuracy(trained):
    data, _, first, _ = trained
    model = Quantizer.load(first["best"])
    pairs = dataset.load_split(data, "val")
    hits = sum(int((model.tokens(torch.from_numpy(f)) == torch.from_numpy(t)).sum()) for _, f, t in pairs)
    assert hits / sum(len(t) for _, _, t in pairs) == pytest.approx(first["best_top1"])
    assert evaluate(model, pairs)["top1"] == pytest.approx(first["best_top1"])


def test_padding_does_not_change_the_loss_of_the_unpadded_items():
    torch.manual_seed(0)
    model = Quantizer(SMALL).eval()
    rng = np.random.default_rng(1)
    short = ("a", rng.standard_normal((20, 32)).astype(np.float32), rng.integers(0, 10_000, 20))
    long = ("b", rng.standard_normal((55, 32)).astype(np.float32), rng.integers(0, 10_000, 55))
    features, tokens, _ = collate([short, long])
    assert (tokens[0, 20:] == IGNORE).all()
    batched = model(features)[0, :20]
    alone = model(torch.from_numpy(short[1]))
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=1e-5)


def test_fine_tuning_starts_from_the_loaded_weights(trained, tmp_path):
    data, _, first, _ = trained
    frozen = TrainConfig(epochs=1, batch_size=8, lr=0.0, seed=3, device="cpu")
    result = train(data, tmp_path / "ft", init=first["best"], config=frozen, progress=False)
    start, after = Quantizer.load(first["best"]).state_dict(), Quantizer.load(result["best"]).state_dict()
    assert all(torch.equal(start[k], after[k]) for k in start)
    assert result["history"][0]["val_top1"] == pytest.approx(first["best_top1"])


def test_resume_continues_where_it_stopped(trained, tmp_path, monkeypatch):
    data, _, first, _ = trained
    monkeypatch.setattr(devices, "_cpu_bfloat16", lambda: False)  # as the reference run
    stopped = train(data, tmp_path / "r", model_config=SMALL, config=FAST, progress=False, stop_after=4)
    assert len(stopped["history"]) == 4
    resumed = train(data, tmp_path / "r", model_config=SMALL, config=FAST, progress=False)
    assert resumed["history"] == first["history"]


def test_torchrun_with_two_processes_trains_the_same_kind_of_checkpoint(trained, tmp_path):
    data, _, _, _ = trained
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "-m", "hubert_quant", "train",
               str(data), "--out", str(tmp_path / "ddp"), "--epochs", "2", "--batch-size", "8", "--lr", "0.01",
               "--version", "0", "--input-size", "32", "--hidden-size", "32", "--output-size", "32", "--device", "cpu"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    model = Quantizer.load(tmp_path / "ddp" / "epoch_2.pth")
    assert model.config == SMALL and "val top-1" in result.stdout


def make_published(folder, names, *, zipped=False, extra_semantic=(), extra_wav=()):
    semantic = {f"{n}_semantic.npy": np.arange(20 + i) % 10_000 for i, n in enumerate(names)}
    semantic.update({f"{n}_semantic.npy": np.arange(5) for n in extra_semantic})
    wavs = {f"{n}_wav.wav": speech_like(0.5, 24_000, seed=i) for i, n in enumerate([*names, *extra_wav])}
    for kind, files in (("semantic", semantic), ("wav", wavs)):
        target = folder / kind
        target.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (np.save if kind == "semantic" else lambda p, d: sf.write(p, d, 24_000))(target / name, data)
        if zipped:
            with zipfile.ZipFile(folder / f"{kind}.zip", "w") as z:
                for path in target.iterdir():
                    z.write(path, f"{kind}/{path.name}")
            for path in target.iterdir():
                path.unlink()
            target.rmdir()


@pytest.mark.parametrize("zipped", [False, True])
def test_import_of_the_published_layout_reports_unmatched_files(tmp_path, zipped):
    make_published(tmp_path / "src", ["0", "1", "2"], zipped=zipped, extra_semantic=["7"], extra_wav=["9"])
    report = dataset.import_pairs(tmp_path / "src", tmp_path / "ds")
    assert report == {"imported": 3, "skipped": 0, "unmatched_semantic": ["7"], "unmatched_wav": ["9"]}
    rows = dataset.read_manifest(tmp_path / "ds")
    assert [r["id"] for r in rows] == ["0", "1", "2"] and rows[1]["tokens"] == 21
    assert dataset.import_pairs(tmp_path / "src", tmp_path / "ds")["skipped"] == 3  # again: nothing twice


def test_split_is_stable_and_roughly_the_asked_share():
    splits = [dataset.split_of(f"id{i}", 10) for i in range(2000)]
    assert splits == [dataset.split_of(f"id{i}", 10) for i in range(2000)]
    assert 0.07 < splits.count("val") / 2000 < 0.13


def test_cli_generate_features_train_eval_end_to_end(tiny, tmp_path):
    """Bark (tiny) makes pairs, tiny HuBERT features, a few epochs, then eval against the result."""
    env = {**fake_hub_cache(tiny, tmp_path / "cache"), "HUBERT_QUANT_HOME": str(tmp_path / "home")}
    (tmp_path / "sentences.txt").write_text("hello world\nthis is a test\nmy voice speaks\nthe clone\nbark in\n")
    ds = tmp_path / "ds"
    made = run_cli("dataset", "generate", str(tmp_path / "sentences.txt"), "--out", str(ds), "--device", "cpu",
                   "--val-percent", "40", env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    again = run_cli("dataset", "generate", str(tmp_path / "sentences.txt"), "--out", str(ds), env=env)
    assert "generated 0 new pairs" in again.stdout  # resumable: nothing is made twice
    feats = run_cli("dataset", "features", "--out", str(ds), "--hubert", str(tiny / "hubert"), "--device", "cpu",
                    env=env)
    assert feats.returncode == 0 and "for 5 pairs" in feats.stdout, feats.stderr[-2000:]
    rows = dataset.read_manifest(ds)
    if {r["split"] for r in rows} != {"train", "val"}:
        pytest.fail(f"the 40% split should give both sides for these five sentences: {rows}")
    trained = run_cli("train", str(ds), "--out", str(tmp_path / "q"), "--epochs", "2", "--version", "0",
                      "--input-size", "32", "--hidden-size", "16", "--device", "cpu", env=env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    scores = run_cli("eval", str(ds), str(tmp_path / "q" / "epoch_2.pth"), "--json", str(tmp_path / "e.json"), env=env)
    assert scores.returncode == 0, scores.stderr[-2000:]
    result = json.loads((tmp_path / "e.json").read_text())
    assert 0.0 <= result[str(tmp_path / "q" / "epoch_2.pth")]["top1"] <= 1.0


SENTENCES = "hello world\nthis is a test\n\nmy voice speaks\nthe clone\nbark in\nsix of them\nhello world\n"


def _dataset_files(ds):
    """What a dataset holds, to compare two: its manifest and every pair's tokens and audio, byte for byte."""
    rows = dataset.read_manifest(ds)
    return rows, {p.relative_to(ds).as_posix(): p.read_bytes() for kind in ("semantic", "wav")
                  for p in sorted((ds / kind).iterdir())}


def test_torchrun_shares_dataset_generate_and_features_and_gives_one_processs_dataset(tiny, tmp_path):
    """Two processes (gloo-free: each takes every second sentence by its RANK) give the dataset one process
    gives with the same seed; a process that died is made up for by running again, nothing made twice."""
    env = {**fake_hub_cache(tiny, tmp_path / "cache"), "HUBERT_QUANT_HOME": str(tmp_path / "home"),
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}  # torchrun's threads, in both runs
    (tmp_path / "sentences.txt").write_text(SENTENCES)
    one = run_cli("dataset", "generate", str(tmp_path / "sentences.txt"), "--out", str(tmp_path / "one"), "--seed",
                  "3", "--device", "cpu", env=env)
    assert one.returncode == 0, one.stderr[-2000:]

    ds = tmp_path / "two"
    # Process 1 of 2 died before it made anything: only process 0's share is there.
    alone = run_cli("dataset", "generate", str(tmp_path / "sentences.txt"), "--out", str(ds), "--seed", "3",
                    "--device", "cpu", env={**env, "RANK": "0", "WORLD_SIZE": "2"})
    assert alone.returncode == 0 and "generated 3 new pairs" in alone.stdout and "process 0 of 2" in alone.stdout
    assert len(dataset.read_manifest(ds)) == 3
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "-m", "hubert_quant",
               "dataset", "generate", str(tmp_path / "sentences.txt"), "--out", str(ds), "--seed", "3",
               "--device", "cpu"]
    import os

    both = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    assert both.returncode == 0, both.stderr[-3000:]
    # Each process says what it made itself: process 0 had done its share, process 1 made its own.
    assert "generated 0 new pairs" in both.stdout and "process 0 of 2" in both.stdout
    assert "generated 3 new pairs" in both.stdout and "process 1 of 2" in both.stdout
    assert _dataset_files(ds) == _dataset_files(tmp_path / "one")  # the same pairs, byte for byte
    assert len(dataset.read_manifest(ds)) == 6  # "hello world" twice is one pair, made once (from line 0)
    assert os.stat(ds / ".manifest.lock").st_mode & 0o777 == 0o600  # no other user can hold the lock
    with pytest.raises(ValueError, match="at least one process"):
        dataset.generate_pairs(["a"], tmp_path / "none", rank=0, world=0)

    command[command.index("generate"):] = ["features", "--out", str(ds), "--hubert", str(tiny / "hubert"),
                                           "--device", "cpu"]
    feats = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, **env})
    assert feats.returncode == 0, feats.stderr[-3000:]
    assert feats.stdout.count("computed features for 3 pairs") == 2  # each process its half
    assert len(dataset.load_split(ds, None)) == 6
