"""Finding a model's files: a path the user gave, a host's copy, the Hugging Face cache (checked
against its hash), else a download with progress, unless offline; then the error names what is
missing, how big it is and every way to get it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..constants import DEFAULT_CODEC, DEFAULT_HUBERT, DEFAULT_QUANTIZER, ENV_ENCODEC_URL, env
from ..errors import DownloadError, IntegrityError, ModelNotFoundError
from ..files import human_size
from . import hub, imported, paths
from .catalogue import ModelEntry, entries, find

# ---- finding files -------------------------------------------------------------------------------


def locate(entry: ModelEntry) -> Path | None:
    """Where ``entry`` is on this machine (a file, or HuBERT's folder), without any network request."""
    if entry.path:
        return Path(entry.path) if Path(entry.path).is_file() else None
    if entry.kind == "codec":
        return _existing(paths.torch_checkpoints_dir() / entry.files[0])
    if entry.kind == "bark":
        return _existing(paths.bark_dir() / entry.files[0])
    if entry.kind == "quantizer":
        for folder in paths.host_dirs():
            for name in host_names(entry):
                if (folder / name).is_file():
                    return folder / name
    found = [_cached_choice(entry.repo, name) for name in entry.files]
    if not all(found):
        return None
    return found[0] if entry.kind == "quantizer" else found[0].parent


def ensure(entry: ModelEntry, *, progress: hub.Progress | None = None) -> Path:
    """``entry``'s file (or folder), downloading what is missing; cached files are hash-checked first."""
    path = locate(entry)
    if path is not None and _cache_ok(entry):
        return path
    if entry.path:
        raise ModelNotFoundError(f"{entry.name!r}: its file {entry.path} is gone; fix the path in the user catalogue")
    if hub.is_offline():
        raise _missing(ModelNotFoundError(_offline_message(entry)), entry, "HF_HUB_OFFLINE is set")
    if reason := hub.download_refusal():  # a visitor of an exposed app: the server fetches nothing for them
        fetch = f"hubert-quant models download {_quoted(entry.name)}"
        raise _missing(ModelNotFoundError(
            f"{entry.kind} {entry.name!r} is not on this machine and is not downloaded on request: {reason}. "
            f"Whoever runs it can fetch it: {fetch}."), entry, reason)
    try:
        return _download(entry, progress or hub.tqdm_progress())
    except DownloadError as e:  # the network is down (or the server failed): say how to get it by hand too
        missing = DownloadError(f"{e}. {_offline_message(entry, 'it could not be downloaded')}")
        raise _missing(missing, entry, "they could not be downloaded", str(e).rstrip(".")) from e


def _missing(error: Exception, entry: ModelEntry, reason: str, detail: str = "") -> Exception:
    """``error``, carrying what :func:`gather` needs to name several missing models in one message:
    the entries, why in a few words ("HF_HUB_OFFLINE is set"), and what failed (a server's error)."""
    error.missing_entries, error.missing_reason, error.missing_detail = [entry], reason, detail
    return error


def missing_summary(error: BaseException) -> str | None:
    """A missing-model error in a few words, without the server's folders (for a web page):
    "3 models are missing (HF_HUB_OFFLINE is set): quantizer 'Large English' (about 210 MB), ...".
    None for errors that do not say which catalogue models are missing."""
    entries = getattr(error, "missing_entries", None)
    if not entries:
        return None
    listed = ", ".join(f"{e.kind} '{e.name}'" + (f" (about {_size(e)})" if e.size else "") for e in entries)
    count = f"{len(entries)} models are missing" if len(entries) > 1 else "A model is missing"
    names = " ".join(_quoted(e.name) for e in entries)
    why, detail = error.missing_reason, getattr(error, "missing_detail", "") or ""
    if detail.startswith("could not reach "):  # the network, not the model: say so (not "download it again")
        why += f": this machine {detail.split(' to download')[0]}"
    return f"{count} ({why}): {listed}. On the server: hubert-quant models download {names}."


def _download(entry: ModelEntry, progress: hub.Progress) -> Path:
    if entry.kind == "codec":
        url = env(ENV_ENCODEC_URL) or entry.url
        return hub.download_url(
            url, paths.torch_checkpoints_dir() / entry.files[0], expected=hub.expected_digest(url.rsplit("/", 1)[-1]),
            progress=progress, label=entry.files[0],
        )
    if entry.kind == "bark":
        return hub.fetch_hub_file_to(entry.repo, entry.files[0], paths.bark_dir() / entry.files[0], progress=progress)
    found = [_fetch_choice(entry.repo, name, progress) for name in entry.files]
    return found[0] if entry.kind == "quantizer" else found[0].parent


def host_names(entry: ModelEntry) -> list[str]:
    """Names a host may keep a quantizer under: audio-webui's (``tokenizer_large.pth``) and the
    Hub file's own (what TTS-WebUI's old clone extension saved in ``data/models/hubert``)."""
    names = [entry.host_file] if entry.host_file else []
    return names + [name for part in entry.files for name in part.split("|")]


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def _cached_choice(repo: str, names: str) -> Path | None:
    for name in names.split("|"):
        if path := hub.cached_file(repo, name):
            return path
    return None


def _fetch_choice(repo: str, names: str, progress) -> Path:
    """The first of ``a|b|...`` the repo has (HuBERT: safetensors, else the pickle-free-loaded .bin)."""
    choices = names.split("|")
    for i, name in enumerate(choices):
        if path := hub.cached_file(repo, name):
            return path
        try:
            return hub.fetch_hub_file(repo, name, progress=progress)
        except ModelNotFoundError:
            if i == len(choices) - 1:
                raise
    raise AssertionError("unreachable")


def _cache_ok(entry: ModelEntry) -> bool:
    """Re-check cached Hub files against their hashes; a bad one is deleted, never loaded."""
    if entry.kind not in ("quantizer", "hubert", "tokenizer") or not entry.repo:
        return True
    for names in entry.files:
        path = _cached_choice(entry.repo, names)
        if path is not None and hub.check_cached(path, trust_verified=True) is False:
            if imported.record(path):  # the user's own file: reported, never deleted by us
                raise IntegrityError(
                    f"{entry.name}: {path.name} changed since it was imported (it was kept). Import it again: "
                    f"`hubert-quant models import {_quoted(entry.name)} {_what(entry).upper()}`.")
            hub.remove_hub_file(entry.repo, path.name)
            if hub.is_offline():
                raise IntegrityError(
                    f"{entry.name}: the cached {path.name} did not match its hash, so it was deleted. "
                    f"Download it again: `hubert-quant models download {_quoted(entry.name)}`."
                )
            print(f"{entry.name}: the cached {path.name} was damaged; downloading it again", file=sys.stderr)
            return False
    return True


def _offline_message(entry: ModelEntry, reason: str = "HF_HUB_OFFLINE is set") -> str:
    size = f", about {_size(entry)}" if entry.size else ""
    fetch = f"`hubert-quant models download {_quoted(entry.name)}`"
    where, by_hand = _by_hand(entry)
    return (
        f"{entry.kind} {entry.name!r} ({entry.source}{size}) is not on this machine and {reason}. "
        f"On a connected machine run {fetch}, then copy {where} from there to the same place here (or, with the "
        f"{_what(entry)} at hand, run {_import_command(entry)}); {by_hand}."
    )


def several_missing(errors: list[Exception]) -> str:
    """One message for several missing models: what they are, why, and every way to get them."""
    entries = [entry for e in errors for entry in e.missing_entries]
    reason = errors[0].missing_reason + (f" ({errors[0].missing_detail})" if errors[0].missing_detail else "")
    names = " ".join(_quoted(e.name) for e in entries)
    each = "; ".join(
        f"{e.kind} {e.name!r}{f' (about {_size(e)})' if e.size else ''}: {_import_command(e)}, "
        f"{_by_hand(e)[1].removeprefix('or ')}, or copy {_by_hand(e)[0]}"
        for e in entries
    )
    return (f"{len(entries)} models are missing and {reason}. On a connected machine run "
            f"`hubert-quant models download {names}` and copy what it fetched to the same places here. With the "
            f"files at hand: {each}.")


def _by_hand(entry: ModelEntry) -> tuple[str, str]:
    """(where the model goes, the other way to give it) for messages about a missing model."""
    if entry.kind == "quantizer":
        by_hand = "or copy the .pth file here and pass --quantizer PATH"
        if entry.host_file and paths.host_dirs():
            by_hand += f", or put it in {paths.host_dirs()[0]} as {entry.host_file}"
        return f"the folder {hub.repo_folder(entry.repo)}", by_hand
    if entry.kind in ("hubert", "tokenizer"):
        by_hand = "or pass --hubert FOLDER" if entry.kind == "hubert" else "or set HF_HUB_CACHE to a cache that has it"
        return f"the folder {hub.repo_folder(entry.repo)}", by_hand
    if entry.kind == "codec":
        return f"{paths.torch_checkpoints_dir() / entry.files[0]}", "or pass --codec PATH"
    return f"{paths.bark_dir() / entry.files[0]}", "or download it by hand into that folder"


def _what(entry: ModelEntry) -> str:
    return "folder" if entry.kind in ("hubert", "tokenizer") else "file"


def _import_command(entry: ModelEntry) -> str:
    return f"`hubert-quant models import {_quoted(entry.name)} {_what(entry).upper()}`"


# ---- resolving what the user asked for -----------------------------------------------------------


def resolve_quantizer(source: str | os.PathLike | None = None, *, progress: hub.Progress | None = None) -> Path:
    """Path of the quantizer checkpoint named by ``source`` (default: Large English)."""
    path = Path(os.path.expanduser(source or DEFAULT_QUANTIZER))
    if path.is_file():
        return path
    return ensure(find(str(source or DEFAULT_QUANTIZER), "quantizer"), progress=progress)


def resolve_hubert(source: str | os.PathLike | None = None, *, progress: hub.Progress | None = None) -> Path:
    """HuBERT folder (``config.json`` + weights) for a folder, catalogue name or Hub id."""
    path = Path(os.path.expanduser(source or DEFAULT_HUBERT))
    if path.is_dir():
        return path
    name = str(source or DEFAULT_HUBERT)
    entry = next((e for e in entries("hubert") if name.casefold() in (e.name.casefold(), e.repo.casefold())), None)
    if entry is None:
        if "/" not in name:
            raise ModelNotFoundError(f"HuBERT {name!r} is neither a folder nor a Hub id like 'owner/name'")
        entry = ModelEntry(name=name, kind="hubert", repo=name, files=find(DEFAULT_HUBERT, "hubert").files)
    return ensure(entry, progress=progress)


def resolve_codec(source: str | os.PathLike | None = None, *, progress: hub.Progress | None = None) -> Path:
    """EnCodec 24 kHz weights: a state_dict path, or the encodec package's own file."""
    if source is not None:
        return Path(source)
    return ensure(find(DEFAULT_CODEC, "codec"), progress=progress)


def _quoted(name: str) -> str:
    return f'"{name}"' if " " in name else name


def _size(entry: ModelEntry) -> str:
    return human_size(entry.size, decimals=0)  # "210 MB": a catalogue size is an estimate
