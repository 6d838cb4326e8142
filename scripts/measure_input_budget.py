"""Peak memory of the audio inputs that used to take the machine's memory (docs/security.md).

    python scripts/measure_input_budget.py [WORK_DIR] [--package-root DIR] [--only NAME ...]

Writes the inputs into WORK_DIR (default /tmp/hq-input-budget): a 2-hour 8 kHz wav of speech
(espeak-ng, 115 MB), a 5-minute 192 kHz 8-channel FLAC of a constant signal (~0.5 MB), a sparse
2 GB wav at 192 kHz x 8 channels (11 minutes) and one at 8 kHz mono (35 hours: refused), and a wav
whose header claims 4 GB and holds 1 s. Then runs each front end on them in a fresh process under
``/usr/bin/time -v`` and prints file, size, seconds and peak RSS. ``--package-root`` runs another
copy of the package (e.g. ``git archive HEAD`` unpacked) for the figures before a change.
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "clip hint": "from hubert_quant.ui.clone_tab import clip_hint, clip_picture\n"
                 "print(clip_hint(PATH, 0, 0)); clip_picture(PATH, 0, 0)",
    "pick": "from hubert_quant.ui import Settings\nfrom hubert_quant.ui.clone_tab import do_pick\n"
            "import tempfile\nprint(do_pick(PATH, settings=Settings(speakers_dir=tempfile.mkdtemp()), "
            "progress=lambda *a, **k: None)[3])",
}


def speech_wav(path: Path, hours: float, rate: int = 8_000) -> None:
    """``hours`` of espeak-ng sentences with pauses, written in blocks."""
    import numpy as np
    import soundfile as sf

    sentences = ["The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore.",
                 "A journey of a thousand miles begins with a single step.", "Rain in the morning is no reason "
                 "to stay at home all day."]
    pieces = []
    for k, text in enumerate(sentences):
        raw = path.with_suffix(f".{k}.wav")
        subprocess.run(["espeak-ng", "-w", str(raw), text], check=True)
        x, r = sf.read(raw, dtype="float32")
        raw.unlink()
        from hubert_quant.audio import resample

        pieces += [resample(x, r, rate).numpy(), np.zeros(int(0.6 * rate), np.float32)]
    loop = np.concatenate(pieces)
    total = int(hours * 3600 * rate)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        written = 0
        while written < total:
            block = loop[: total - written]
            f.write(block)
            written += len(block)


def constant_flac(path: Path, rate: int, channels: int, seconds: int) -> None:
    import numpy as np
    import soundfile as sf

    with sf.SoundFile(path, "w", rate, channels, subtype="PCM_16", format="FLAC") as f:
        block = np.full((rate, channels), 0.25, dtype=np.float32)
        for _ in range(seconds):
            f.write(block)


def wav_header(rate: int, channels: int, data_bytes: int) -> bytes:
    block = channels * 2
    return (b"RIFF" + struct.pack("<I", min(0xFFFFFFFF, 36 + data_bytes)) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, 16) + b"data"
            + struct.pack("<I", min(0xFFFFFFFF, data_bytes)))


def make_inputs(work: Path) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    files = {"2-hour 8 kHz wav": work / "two-hours.wav", "5-min 192 kHz 8-ch FLAC": work / "constant.flac",
             "sparse 2 GB wav, 192 kHz 8 ch": work / "sparse-192k.wav",
             "sparse 2 GB wav, 8 kHz mono": work / "sparse-8k.wav", "header claims 4 GB, holds 1 s": work / "liar.wav"}
    if not files["2-hour 8 kHz wav"].exists():
        speech_wav(files["2-hour 8 kHz wav"], 2.0)
    if not files["5-min 192 kHz 8-ch FLAC"].exists():
        constant_flac(files["5-min 192 kHz 8-ch FLAC"], 192_000, 8, 300)
    sparse = (("sparse 2 GB wav, 192 kHz 8 ch", 192_000, 8), ("sparse 2 GB wav, 8 kHz mono", 8_000, 1))
    for name, rate, channels in sparse:
        with open(files[name], "wb") as f:
            f.write(wav_header(rate, channels, 2 * 10**9 - 44))
            f.truncate(2 * 10**9)
    import numpy as np

    one_second = (np.sin(np.arange(16_000) / 9) * 8000).astype("<i2").tobytes()
    files["header claims 4 GB, holds 1 s"].write_bytes(wav_header(16_000, 1, 0xFFFFFFFF) + one_second)
    return files


def peak(command: list[str], env: dict, cwd: Path) -> tuple[float, float, int, str]:
    """(seconds, peak RSS in MB, exit status, last line of output) of ``command``."""
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env, cwd=cwd)
    seconds = time.monotonic() - started
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1)) / 1024
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if line.strip() and not line.startswith("\t") and "Command being timed" not in line]
    return seconds, rss, result.returncode, (lines[-1] if lines else "")[:160]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("work", nargs="?", type=Path, default=Path("/tmp/hq-input-budget"))
    parser.add_argument("--package-root", type=Path, default=ROOT, help="where the hubert_quant package to run is")
    parser.add_argument("--only", nargs="*", default=None, help="run only the cases whose label contains these")
    parser.add_argument("--tiny", type=Path, default=None, help="tiny models folder (default: made in WORK_DIR)")
    args = parser.parse_args(argv)
    files = make_inputs(args.work)
    tiny = args.tiny or args.work / "tiny"
    if not (tiny / "hubert").exists():
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_tiny_models.py"), str(tiny)], check=True)
    env = {**os.environ, "PYTHONPATH": str(args.package_root)}
    models = ["--hubert", str(tiny / "hubert"), "--quantizer", str(tiny / "quantizer-v1.pth"),
              "--codec", str(tiny / "encodec_24khz.th"), "--device", "cpu"]
    runs = []
    for label, path in files.items():
        for case, code in CASES.items():
            runs.append((f"{case}: {label}", [sys.executable, "-c", code.replace("PATH", repr(str(path)))]))
        runs.append((f"clone --auto: {label}", [sys.executable, "-m", "hubert_quant", "clone", str(path), "--auto",
                                                "--force", "--out", str(args.work / "out.npz"), *models]))
        runs.append((f"clone (whole): {label}", [sys.executable, "-m", "hubert_quant", "clone", str(path), "--force",
                                                 "--out", str(args.work / "out.npz"), *models]))
    print(f"{'run':<60} {'file size':>10} {'seconds':>8} {'peak RSS':>10}  result")
    for label, command in runs:
        if args.only and not any(word in label for word in args.only):
            continue
        path = files[label.split(": ", 1)[1]]
        seconds, rss, status, last = peak(command, env, args.work)
        size = os.stat(path).st_size
        print(f"{label:<60} {size / 1e6:>8.1f} MB {seconds:>8.1f} {rss:>7.0f} MB  exit {status}: {last}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
