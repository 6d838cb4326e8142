import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import ROOT, run_cli, speech_like

from hubert_quant import load_speaker


@pytest.fixture
def model_args(tiny):
    return ["--hubert", str(tiny / "hubert"), "--quantizer", str(tiny / "quantizer-v1.pth"),
            "--codec", str(tiny / "encodec_24khz.th"), "--device", "cpu"]


@pytest.mark.slow
def test_console_script_clones_one_file(tmp_path, voice_wav, model_args):
    """The acceptance command, through the installed `hubert-quant` entry point."""
    script = Path(sys.executable).with_name("hubert-quant")
    assert script.exists(), "install the project (pip install -e .) so the console script exists"
    result = subprocess.run([str(script), "clone", str(voice_wav), "--out", "spk.npz", *model_args],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "saved" in result.stderr
    assert load_speaker(tmp_path / "spk.npz").fine.shape[0] == 8


@pytest.mark.slow
def test_several_files_go_to_a_folder(tmp_path, model_args):
    inputs = []
    for i, rate in enumerate((8_000, 48_000)):
        sf.write(tmp_path / f"take{i}.flac", speech_like(2.0, rate, seed=i), rate)
        inputs.append(str(tmp_path / f"take{i}.flac"))
    result = run_cli("clone", *inputs, "--out", str(tmp_path / "speakers"), *model_args)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "speakers").iterdir()) == ["take0.npz", "take1.npz"]


@pytest.mark.slow
def test_an_interrupted_batch_is_finished_with_skip_existing(tmp_path, model_args):
    inputs = []
    for i in range(3):
        sf.write(tmp_path / f"take{i}.wav", speech_like(2.0, 16_000, seed=i), 16_000)
        inputs.append(str(tmp_path / f"take{i}.wav"))
    out = tmp_path / "speakers"
    out.mkdir()
    (out / "take1.npz").write_bytes(b"finished earlier")  # never read, never replaced
    stopped = run_cli("clone", *inputs, "--out", str(out), *model_args)
    assert stopped.returncode == 1 and "--skip-existing" in stopped.stderr
    finished = run_cli("clone", *inputs, "--out", str(out), "--skip-existing", *model_args)
    assert finished.returncode == 0, finished.stderr
    assert "skipping 1 already cloned" in finished.stderr
    assert sorted(p.name for p in out.iterdir()) == ["take0.npz", "take1.npz", "take2.npz"]
    assert (out / "take1.npz").read_bytes() == b"finished earlier"
    both = run_cli("clone", *inputs, "--out", str(out), "--skip-existing", "--force", *model_args)
    assert both.returncode == 1 and "pick one" in both.stderr


@pytest.mark.slow
def test_a_long_recording_gets_a_word_before_it_is_cloned_whole(tmp_path, model_args):
    sf.write(tmp_path / "podcast.wav", speech_like(70.0, 8_000), 8_000)
    whole = run_cli("clone", str(tmp_path / "podcast.wav"), "--out", str(tmp_path / "a.npz"), *model_args)
    assert whole.returncode == 0, whole.stderr
    assert "podcast.wav is 1.2 minutes long" in whole.stderr and "--start/--end" in whole.stderr
    part = run_cli("clone", str(tmp_path / "podcast.wav"), "--out", str(tmp_path / "b.npz"), "--start", "60",
                   *model_args)
    assert part.returncode == 0 and "minutes long" not in part.stderr


@pytest.mark.slow
def test_a_ten_minute_clone_shows_each_stage_progressing(tmp_path, model_args):
    sf.write(tmp_path / "lecture.wav", speech_like(600.0, 8_000), 8_000)
    result = run_cli("clone", str(tmp_path / "lecture.wav"), "--out", str(tmp_path / "a.npz"), *model_args)
    assert result.returncode == 0, result.stderr
    # tqdm's bars, in the order the work happens: HuBERT in 30 s windows (20), EnCodec streamed 6 s at a time (100).
    finished = [line.split("\r")[-1] for line in result.stderr.replace("\r", "\n\r").split("\n")]
    order = [next(i for i, line in enumerate(finished) if line.startswith(stage) and "100%" in line)
             for stage in ("decoding", "HuBERT features", "quantizer", "EnCodec")]
    assert order == sorted(order), result.stderr
    assert any("HuBERT features" in line and "20/20" in line for line in finished)
    assert any("EnCodec" in line and "100/100" in line for line in finished)
    assert any("HuBERT features" in line and " 0/20" in line for line in finished)  # seen before it finished
    short = run_cli("clone", str(tmp_path / "lecture.wav"), "--out", str(tmp_path / "b.npz"), "--end", "10",
                    *model_args)
    assert short.returncode == 0 and "HuBERT features" not in short.stderr  # no bars for a short clip


@pytest.mark.slow
def test_one_bad_file_among_many(tmp_path, voice_wav, model_args):
    (tmp_path / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    result = run_cli("clone", str(voice_wav), str(tmp_path / "broken.wav"), "--out", str(tmp_path / "out"),
                     *model_args)
    assert result.returncode == 1
    assert (tmp_path / "out" / "voice.npz").is_file() and not (tmp_path / "out" / "broken.npz").exists()
    assert "broken.wav: cannot decode" in result.stderr and "1 of 2 files failed" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("make,match", [
    (lambda d: sf.write(d / "x.wav", np.zeros(32_000, np.float32), 16_000), "silent"),
    (lambda d: sf.write(d / "x.wav", speech_like(0.4, 16_000), 16_000), r"0\.40 s long; at least 1\.0 s"),
    (lambda d: (d / "x.wav").write_text("hello"), "cannot decode"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, model_args, make, match):
    make(tmp_path)
    result = run_cli("clone", str(tmp_path / "x.wav"), "--out", str(tmp_path / "x.npz"), *model_args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert __import__("re").search(match, lines[0])
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.slow
def test_existing_output_needs_force(tmp_path, voice_wav, model_args):
    (tmp_path / "me.npz").write_bytes(b"mine")
    result = run_cli("clone", str(voice_wav), "--out", str(tmp_path / "me.npz"), *model_args)
    assert result.returncode == 1 and "--force" in result.stderr
    assert (tmp_path / "me.npz").read_bytes() == b"mine"
    result = run_cli("clone", str(voice_wav), "--out", str(tmp_path / "me.npz"), "--force", *model_args)
    assert result.returncode == 0 and load_speaker(tmp_path / "me.npz").semantic.size > 0


def test_same_stem_twice_is_refused_before_work(tmp_path, model_args):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        sf.write(tmp_path / sub / "take.wav", speech_like(1.5, 16_000), 16_000)
    result = run_cli("clone", str(tmp_path / "a/take.wav"), str(tmp_path / "b/take.wav"), "--out",
                     str(tmp_path / "out"), *model_args)
    assert result.returncode == 1 and "would both be saved as" in result.stderr
    assert not (tmp_path / "out").exists()


NO_MODELS = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": "/nonexistent/hf", "TORCH_HOME": "/nonexistent/torch",
             "XDG_CACHE_HOME": "/nonexistent/cache"}  # every model missing: an output error must come first


def unwritable_outputs(tmp_path: Path) -> dict[str, str]:
    """--out values no file can be written under, for root too: a file where a folder should be, a folder
    inside it, and a folder of /proc (a kernel file system that takes no new file)."""
    (tmp_path / "a-file").write_text("in the way")
    return {"a file": str(tmp_path / "a-file") + "/", "a folder in a file": str(tmp_path / "a-file" / "new") + "/",
            "a read-only file system": "/proc/hubert-quant-out/"}


@pytest.mark.parametrize("where", ["a file", "a folder in a file", "a read-only file system"])
def test_outputs_that_cannot_be_written_are_found_before_any_model_loads(tmp_path, where):
    """Before: the models loaded and each file was cloned (about 20 s each), then every write failed."""
    inputs = []
    for name in ("one", "two"):
        sf.write(tmp_path / f"{name}.wav", speech_like(1.5, 16_000), 16_000)
        inputs.append(str(tmp_path / f"{name}.wav"))
    out = unwritable_outputs(tmp_path)[where]
    for command in (["clone", *inputs, "--out", out], ["clone", *inputs, "--one-speaker", "both", "--out", out],
                    ["say", "hello", "--out", out + "hello.wav"], ["mask", inputs[0], "--out", out + "masked.wav"]):
        result = run_cli(*command, env=NO_MODELS)
        assert result.returncode == 1 and "Traceback" not in result.stderr, (command, result.stderr)
        said = result.stderr.strip().splitlines()
        assert len(said) == 1 and said[0].startswith("error: cannot write ") and "missing" not in said[0], said
        named = {"clone": ["one.npz", "two.npz"], "say": ["hello.wav"], "mask": ["masked.wav"]}[command[0]]
        if "--one-speaker" in command:
            named = ["both.npz"]
        assert all(name in said[0] for name in named), (named, said)  # every input of a batch at once
    assert (tmp_path / "a-file").read_text() == "in the way"


def test_an_existing_output_in_a_batch_is_found_before_any_model_loads(tmp_path):
    inputs = []
    for name in ("one", "two", "three"):
        sf.write(tmp_path / f"{name}.wav", speech_like(1.5, 16_000), 16_000)
        inputs.append(str(tmp_path / f"{name}.wav"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "three.npz").write_bytes(b"the user's")
    result = run_cli("clone", *inputs, "--out", str(tmp_path / "out"), env=NO_MODELS)
    assert result.returncode == 1 and "three.npz already exists; pass --force" in result.stderr, result.stderr
    assert "--skip-existing" in result.stderr and "missing" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["three.npz"]


@pytest.mark.slow
def test_a_first_clone_say_and_mask_print_only_our_lines_and_debug_shows_the_libraries(tiny, tmp_path):
    """Before: the first clone printed transformers' `loss_type=None` note (it arises while HuBERT is traced)."""
    from conftest import fake_hub_cache

    env = {**fake_hub_cache(tiny, tmp_path / "cache"), "HOME": str(tmp_path / "home")}  # nothing traced yet
    # transformers 4.44 (audio-webui's) moves an old cache layout once per machine, at its first import, and
    # says so: not a clone's output, so it is done before.
    subprocess.run([sys.executable, "-c", "import transformers.utils.hub"], env={**os.environ, **env},
                   capture_output=True, timeout=300)
    sf.write(tmp_path / "v.wav", speech_like(3.0, 16_000), 16_000)
    runs = [run_cli("clone", str(tmp_path / "v.wav"), "--out", str(tmp_path / "v.npz"), "--device", "cpu", env=env),
            run_cli("say", "hello", "--speaker", str(tmp_path / "v.npz"), "--out", str(tmp_path / "s.wav"),
                    "--device", "cpu", env=env),
            run_cli("mask", str(tmp_path / "v.wav"), "--out", str(tmp_path / "m.wav"), "--device", "cpu", env=env)]
    ours = re.compile(r"^(saved |loading Bark|semantic tokens|Bark |note: )")
    for result in runs:
        assert result.returncode == 0, result.stderr[-3000:]
        foreign = [line for line in result.stderr.splitlines() if line.strip() and not ours.match(line)]
        assert foreign == [], foreign
    (tmp_path / "v2.npz").unlink(missing_ok=True)
    shutil.rmtree(tmp_path / "cache" / "xdg" / "hubert-quant", ignore_errors=True)  # traced again, with --debug
    debug = run_cli("clone", str(tmp_path / "v.wav"), "--out", str(tmp_path / "v2.npz"), "--device", "cpu", "--debug",
                    env=env)
    # the libraries' own lines again (which ones depends on the stack: transformers' loss_type note in the
    # standalone one, torch 2.1's and the tracer's warnings in audio-webui's)
    assert debug.returncode == 0 and ("loss_type" in debug.stderr or "Warning:" in debug.stderr), debug.stderr[-3000:]


@pytest.mark.slow
def test_a_short_clip_gets_the_same_word_as_in_the_app(tmp_path, model_args):
    sf.write(tmp_path / "short.wav", speech_like(1.5, 16_000), 16_000)
    result = run_cli("clone", str(tmp_path / "short.wav"), "--out", str(tmp_path / "short.npz"), *model_args)
    assert result.returncode == 0 and "note: short.wav: only 1.5 s was cloned; short clips give weak clones" \
        in result.stderr, result.stderr


def test_the_app_says_which_option_to_change_when_its_port_or_folder_cannot_be_used(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = run_cli("ui", "--port", str(port), "--speakers-dir", str(tmp_path / "speakers"), cwd=tmp_path)
    assert taken.returncode == 1 and f"error: port {port} is in use by another program: pass another one, e.g. " \
        "--port 7870" in taken.stderr, taken.stderr[-2000:]
    (tmp_path / "a-file").write_text("in the way")
    folder = run_cli("ui", "--speakers-dir", str(tmp_path / "a-file" / "speakers"), cwd=tmp_path)
    assert folder.returncode == 1 and "cannot keep speakers in" in folder.stderr
    assert "choose another folder with --speakers-dir" in folder.stderr and "Traceback" not in folder.stderr


def test_help_is_useful_and_states_consent():
    top = run_cli("--help")
    clone = run_cli("clone", "--help")
    assert top.returncode == 0 and clone.returncode == 0
    for text in (top.stdout, clone.stdout):
        assert "owners agreed" in " ".join(text.split())
    for flag in ("--out", "--quantizer", "--hubert", "--codec", "--device", "--start", "--end", "--force"):
        assert flag in clone.stdout


def every_command(parser, path=()):
    """(command path, its parser) for the program and every command and sub-command under it."""
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from every_command(sub, (*path, name))


def test_every_command_and_option_has_help_and_each_command_its_own_examples():
    import argparse
    import shlex

    from hubert_quant.cli import build_parser

    commands = list(every_command(build_parser()))
    assert len(commands) >= 19  # the program, 8 commands, 7 models and 3 dataset actions
    for path, parser in commands:
        assert parser.description, f"'hubert-quant {' '.join(path)}' has no description"
        undocumented = [a.option_strings or a.dest for a in parser._actions if not a.help
                        and not isinstance(a, (argparse._HelpAction, argparse._VersionAction,
                                               argparse._SubParsersAction))]
        undocumented += [c.dest for a in parser._actions if isinstance(a, argparse._SubParsersAction)
                         for c in a._choices_actions if not c.help]  # each command's line in its parent's help
        assert undocumented == [], (path, undocumented)
        examples = [line.strip() for line in (parser.epilog or "").splitlines() if "hubert-quant" in line]
        assert examples, f"'hubert-quant {' '.join(path)} --help' shows no example"
        for line in examples:  # its own command, and accepted by the program as written
            words = shlex.split(line.split(" #")[0])
            words = words[words.index("hubert-quant") + 1:]
            if path and words[:len(path)] != list(path):
                raise AssertionError(f"'hubert-quant {' '.join(path)} --help' shows another command's example: {line}")
            if "COMMAND" not in words and "ACTION" not in words:
                build_parser().parse_args(words)


def test_import_and_help_do_not_load_torch():
    code = ("import sys, hubert_quant; from hubert_quant import cli; cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'transformers', 'torchaudio') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr


ENTRY = """
import atexit, sys
from hubert_quant.cli import entry
atexit.register(lambda: print("interpreter teardown ran", file=sys.stderr))
sys.argv = ["hubert-quant", *sys.argv[1:]]
sys.exit(entry())
"""


@pytest.mark.slow
def test_the_program_ends_without_teardown_once_its_files_are_written(tmp_path, voice_wav, model_args):
    """The console entry skips the interpreter's teardown (0.7 s of a one-shot clone) after the
    command: the output is complete, the messages are all there, the exit status is kept."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ok = subprocess.run([sys.executable, "-c", ENTRY, "clone", str(voice_wav), "--out", "spk.npz", *model_args],
                        cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert ok.returncode == 0, ok.stderr
    said = ok.stderr.splitlines()  # every message, the last one printed included
    assert "saved spk.npz" in said and said[-1].startswith("note: voice.wav: only") and "teardown ran" not in ok.stderr
    assert load_speaker(tmp_path / "spk.npz").fine.shape[0] == 8
    bad = subprocess.run([sys.executable, "-c", ENTRY, "clone", str(tmp_path / "missing.wav"), *model_args],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert bad.returncode == 1 and "no such file" in bad.stderr and "teardown ran" not in bad.stderr


def test_main_called_from_python_returns_and_leaves_the_interpreter_alone(tmp_path, voice_wav, model_args):
    from hubert_quant import cli

    assert cli.main(["clone", str(voice_wav), "--out", str(tmp_path / "a.npz"), *model_args]) == 0
    assert (tmp_path / "a.npz").is_file()  # and this test is still running: no os._exit


@pytest.mark.parametrize("out", ["new/", "new" + os.sep, "deeper/new/"])
def test_out_a_new_folder_with_a_slash_is_a_folder(tmp_path, voice_wav, model_args, out):
    from hubert_quant import cli

    assert cli.main(["clone", str(voice_wav), "--out", str(tmp_path) + "/" + out, *model_args]) == 0
    folder = tmp_path / out.rstrip("/" + os.sep)
    assert [p.name for p in folder.iterdir()] == [f"{voice_wav.stem}.npz"]
    assert not folder.with_suffix(".npz").exists()


@pytest.mark.parametrize("out", ["one.npz", "existing-file", "two.NPZ"])
def test_out_a_file_for_several_recordings_says_so(tmp_path, model_args, out, capsys):
    from hubert_quant import cli

    (tmp_path / "existing-file").write_bytes(b"mine")
    inputs = []
    for i in range(2):
        sf.write(tmp_path / f"take{i}.wav", speech_like(1.5, 16_000, seed=i), 16_000)
        inputs.append(str(tmp_path / f"take{i}.wav"))
    assert cli.main(["clone", *inputs, "--out", str(tmp_path / out), *model_args]) == 1
    line = capsys.readouterr().err.strip()
    assert "is a file, but 2 recordings were given" in line and "--one-speaker" in line and "exists" not in line
    assert (tmp_path / "existing-file").read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["existing-file", "take0.wav", "take1.wav"])
