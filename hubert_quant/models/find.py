"""Finding a model's files: a path the user gave, a host's copy, the Hugging Face cache (checked
against its hash), else a download with progress, unless offline; then the error names what is
missing, how big it is and every way to get it.
"""

from __future__ import annotations

import os
import re
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
        raise _missing(ModelNotFoundError, [entry], "HF_HUB_OFFLINE is set", "copy")
    if reason := hub.download_refusal():  # a visitor of an exposed app: the server fetches nothing for them
        raise _missing(ModelNotFoundError, [entry], f"it is not downloaded on request ({reason})", "owner")
    try:
        return _download(entry, progress or hub.tqdm_progress())
    except DownloadError as e:  # the network is down (or the server failed): say how to get it by hand too
        unreachable = re.match(r"could not reach (\S+) to download \S+ (\(.*?\))\. Check the connection", str(e),
                               flags=re.S)
        if unreachable:
            raise _missing(DownloadError, [entry], "this machine could not reach " + " ".join(unreachable.groups()),
                           "network") from e
        raise _missing(DownloadError, [entry], f"it could not be downloaded ({str(e).rstrip('.')})", "copy") from e


def _missing(kind: type[Exception], entries: list[ModelEntry], reason: str, advice: str) -> Exception:
    """A ``kind`` error naming ``entries``, carrying what :func:`several_missing` needs to name several
    missing models in one message: the entries, why ("HF_HUB_OFFLINE is set") and which advice fits
    ("copy": from a connected machine; "network": check it first; "owner": whoever runs the app)."""
    error = kind(missing_message(entries, reason, advice))
    error.missing_entries, error.missing_reason, error.missing_advice = entries, reason, advice
    return error


def missing_summary(error: BaseException) -> str | None:
    """A missing-model error for a web page: the same first line and one line per model as the command
    line's message, without commands or the server's folders. None for errors that do not say which
    catalogue models are missing."""
    entries = getattr(error, "missing_entries", None)
    if not entries:
        return None
    return missing_message(entries, error.missing_reason, error.missing_advice, how=False)


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


def missing_message(entries: list[ModelEntry], reason: str, advice: str, *, how: bool = True) -> str:
    """What is missing and why in a short first line, then one line per model (its size and, with ``how``,
    the command or option that gives it), then how to fetch them all. ``how=False``: the first two parts
    only, for a web page (no command, no server folder)."""
    if len(entries) > 1:
        reason = reason.replace("it is not", "they are not").replace("it could not", "they could not")
    lines = [(f"{len(entries)} models are missing" if len(entries) > 1 else "A model is missing") + f": {reason}."]
    for e in entries:
        line = f"  {e.kind} {e.name!r}" + (f", about {_size(e)}" if e.size else "")
        lines.append(line + (f": {_import_command(e)}{_by_hand(e)}" if how else ""))
    if how:
        fetch = f"hubert-quant models download {' '.join(_quoted(e.name) for e in entries)}"
        them = "them" if len(entries) > 1 else "it"
        copy = (f"On a connected machine: `{fetch}`, then copy what it fetched to the same folders here "
                "(`hubert-quant models where`).")
        if advice == "owner":
            lines.append(f"Whoever runs it can fetch {them}: `{fetch}`.")
            return "\n".join(lines)
        if reason == "HF_HUB_OFFLINE is set":  # not the download command alone: it is what refused
            lines.append(f"Unset HF_HUB_OFFLINE to download {them} here.")
        elif advice == "network":
            lines.append("Check the connection (and HF_ENDPOINT if you use a mirror).")
        lines.append(copy)
    return "\n".join(lines)


def several_missing(errors: list[Exception]) -> Exception:
    """One error for several missing models (each error from :func:`_missing`): the first one's reason
    and advice, every model on a line of its own."""
    kind = DownloadError if any(isinstance(e, DownloadError) for e in errors) else ModelNotFoundError
    return _missing(kind, [entry for e in errors for entry in e.missing_entries], errors[0].missing_reason,
                    errors[0].missing_advice)


def _by_hand(entry: ModelEntry) -> str:
    """The other way to give a missing model than importing it ("" when there is none)."""
    if entry.kind == "quantizer":
        by_hand = ", or --quantizer PATH"
        if entry.host_file and paths.host_dirs():
            by_hand += f", or put it in {paths.host_dirs()[0]} as {entry.host_file}"
        return by_hand
    return {"hubert": ", or --hubert FOLDER", "codec": ", or --codec PATH",
            "tokenizer": ", or set HF_HUB_CACHE to a cache that has it"}.get(entry.kind, "")


def _what(entry: ModelEntry) -> str:
    return "folder" if entry.kind in ("hubert", "tokenizer") else "file"


def _import_command(entry: ModelEntry) -> str:
    return f"hubert-quant models import {_quoted(entry.name)} {_what(entry).upper()}"


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
