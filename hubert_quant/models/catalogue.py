"""The models hubert-quant knows by name: quantizers, HuBERT, EnCodec and Bark.

Two files ship with the package: ``quantizers.json`` (the community quantizer list, in the
upstream JSON shape) and ``base_models.json`` (HuBERT, EnCodec and Bark's checkpoints).
Users add quantizers of their own to a user catalogue in the same shape as the upstream
list, ``$HUBERT_QUANT_HOME/quantizers.json`` (default ``~/.config/hubert-quant/``), either
by hand or with ``hubert-quant models add``. A user entry names a Hub repo and file, or a
local file under the key ``path``.

Names match case-insensitively; a language ("German", "ger") matches too, preferring the
official, then the newest, quantizer for that language.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..constants import DEFAULT_CODEC, DEFAULT_HUBERT, DEFAULT_QUANTIZER, user_config_dir  # noqa: F401 - re-exported
from ..errors import CatalogueError, ModelNotFoundError

KINDS = ("quantizer", "hubert", "codec", "bark", "tokenizer")

LANGUAGES = {
    "ENG": "English", "POL": "Polish", "GER": "German", "SPA": "Spanish", "POR": "Portuguese",
    "JA": "Japanese", "TUR": "Turkish", "ITA": "Italian",
}


@dataclass(frozen=True)
class ModelEntry:
    """One model the catalogue knows.

    files: what is fetched from ``repo`` (or ``url``); ``a|b`` means "a if the repo has it,
        else b" (HuBERT: safetensors first).
    size: approximate download size in bytes, for messages before anything is fetched.
    host_file: the name audio-webui keeps this quantizer under in ``data/models/hubert/``.
    """

    name: str
    kind: str
    repo: str = ""
    files: tuple[str, ...] = ()
    url: str = ""
    path: str = ""
    language: str = ""
    author: str = ""
    version: int | None = None
    official: bool = False
    host_file: str = ""
    size: int | None = None
    dataset: str = ""
    user: bool = False

    @property
    def language_name(self) -> str:
        return LANGUAGES.get(self.language.upper(), self.language)

    @property
    def source(self) -> str:
        """Where it comes from, for listings and messages."""
        if self.path:
            return self.path
        if self.url:
            return self.url
        return f"{self.repo}/{self.files[0]}" if len(self.files) == 1 else self.repo


def user_catalogue_path() -> Path:
    """``$HUBERT_QUANT_HOME/quantizers.json``; the folder defaults to ``~/.config/hubert-quant``."""
    return user_config_dir() / "quantizers.json"


def entries(kind: str | None = None) -> list[ModelEntry]:
    """Every known model (shipped first, then the user's), optionally of one ``kind``.

    A broken user entry (or a broken user catalogue) is left out, never fatal: every other
    model keeps working. :func:`user_problems` says what was left out and why.
    """
    found = _shipped() + _user_entries()[0]
    return [e for e in found if kind is None or e.kind == kind]


def user_problems() -> list[str]:
    """What is wrong in the user catalogue: one line per entry (or file) that is left out."""
    return _user_entries()[1]


def find(name: str, kind: str | None = None) -> ModelEntry:
    """The entry called ``name`` (or its file, host file or language), any case.

    Raises :class:`ModelNotFoundError` listing the known names when nothing matches.
    """
    wanted = name.strip().casefold()
    candidates = entries(kind)
    for entry in candidates:
        keys = {entry.name, entry.host_file, *(f for part in entry.files for f in part.split("|"))}
        if wanted in {k.casefold() for k in keys if k}:
            return entry
    by_language = [
        e for e in candidates
        if e.kind == "quantizer" and wanted in (e.language.casefold(), e.language_name.casefold())
    ]
    if by_language:
        return max(by_language, key=lambda e: (e.official, e.version or 0))
    known = ", ".join(e.name for e in candidates)
    raise ModelNotFoundError(
        f"no model called {name.strip()!r}. Known names: {known}. "
        "Run `hubert-quant models list` to see them, or `hubert-quant models add` to add your own."
    )


def add_quantizer(
    name: str,
    *,
    repo: str | None = None,
    file: str | None = None,
    path: str | os.PathLike | None = None,
    language: str = "",
    version: int | None = None,
) -> ModelEntry:
    """Add a quantizer to the user catalogue: a Hub ``repo`` + ``file``, or a local ``path``."""
    name = name.strip()
    if not name:
        raise CatalogueError("a catalogue entry needs a name")
    if (path is None) == (repo is None and file is None):
        raise CatalogueError("give either --repo and --file (a file on the Hub) or --path (a local file)")
    clash = next((e for e in entries() if e.name.casefold() == name.casefold()), None)
    if clash is not None:
        raise CatalogueError(f"{name!r} is already in the catalogue ({clash.source}); pick another name")
    # Names are matched before languages, so an entry called "GER" would take over `--quantizer ger`.
    if any(name.casefold() in (e.language.casefold(), e.language_name.casefold()) for e in entries("quantizer")
           if e.language):
        raise CatalogueError(f"{name!r} is the name of a language, which picks the official quantizer for it; "
                             "pick another name (for example 'My German')")
    row: dict = {"name": name, "language": language.upper(), "author": "", "official": False}
    if version is not None:
        row["quant_version"] = version
    if path is not None:
        local = Path(os.path.expanduser(path)).resolve()
        if not local.is_file():
            raise CatalogueError(f"{local}: no such file")
        _check_quantizer_file(local)
        row["path"] = str(local)
    else:
        if not repo or not file or not _REPO_ID.fullmatch(repo):
            raise CatalogueError(
                f"--repo must look like 'owner/name' and --file must be given (got {repo!r}, {file!r})"
            )
        if file.startswith("/") or ".." in Path(file).parts:
            raise CatalogueError(f"--file must be a path inside the repo, got {file!r}")
        row.update(repo=repo, file=file)
    rows = _read_user_rows()
    rows.append(row)
    _write_user_rows(rows)
    return _from_upstream(row, user=True)


def _check_quantizer_file(path: Path) -> None:
    """Refuse, when it is added rather than at the first clone, a file that is not a quantizer."""
    from ..errors import CheckpointError, ModelNotFoundError
    from ..quantizer import read_config

    try:
        read_config(path)  # the zip and its .info entry: cheap, and nothing is unpickled
    except (CheckpointError, ModelNotFoundError) as e:
        reason = str(e).removeprefix(f"{path}: ").removesuffix(" Download it again.").rstrip(".")
        raise CatalogueError(f"{path} was not added: {reason}. Give the quantizer's .pth file (a torch.save zip); "
                             "if it was downloaded, download it again") from e


def forget(name: str) -> ModelEntry | None:
    """Remove a user entry from the user catalogue (shipped entries cannot be removed).

    Works on an entry left out as broken too (returns None for it): that is how it is fixed.
    """
    wanted = name.strip().casefold()
    rows = _read_user_rows()
    kept = [r for r in rows if not (isinstance(r, dict) and str(r.get("name", "")).strip().casefold() == wanted)]
    if len(kept) < len(rows):
        entry = next((e for e in _user_entries()[0] if e.name.casefold() == wanted), None)
        _write_user_rows(kept)
        return entry
    entry = find(name)
    raise CatalogueError(f"{entry.name!r} ships with hubert-quant and cannot be removed from the catalogue")


_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _shipped() -> list[ModelEntry]:
    package = resources.files(__package__)
    quantizers = json.loads(package.joinpath("quantizers.json").read_text(encoding="utf-8"))
    base = json.loads(package.joinpath("base_models.json").read_text(encoding="utf-8"))
    return [_from_upstream(row) for row in quantizers] + [
        ModelEntry(**{**row, "files": tuple(row.get("files", ()))}) for row in base
    ]


def _from_upstream(row: dict, *, user: bool = False) -> ModelEntry:
    """An entry from the upstream quantizer-list shape (plus ``path`` for local files)."""
    extra = row.get("extra") or {}
    return ModelEntry(
        name=str(row["name"]),
        kind="quantizer",
        repo=str(row.get("repo", "")),
        files=(str(row["file"]),) if row.get("file") else (),
        path=str(row.get("path", "")),
        language=str(row.get("language", "")),
        author=str(row.get("author", "")),
        version=row.get("quant_version"),
        official=bool(row.get("official", False)),
        host_file=str(row.get("dlfilename", "")),
        size=extra.get("size"),
        dataset=str(extra.get("dataset", "")),
        user=user,
    )


def _user_entries() -> tuple[list[ModelEntry], list[str]]:
    """(usable user entries, problems); each bad row costs only itself."""
    path = user_catalogue_path()
    try:
        rows = _read_user_rows()
    except CatalogueError as e:
        return [], [str(e)]
    result, problems = [], []
    for i, row in enumerate(rows):
        problem = _row_problem(row)
        if problem:
            problems.append(f"{path}: entry {i + 1} is left out: {problem}; fix it or `hubert-quant models remove "
                            "NAME --forget`")
            continue
        result.append(_from_upstream(row, user=True))
    return result, problems


def _row_problem(row) -> str:
    """Why a user-catalogue row cannot be used ("" if it can)."""
    if not isinstance(row, dict) or not str(row.get("name") or "").strip():
        return "it needs a 'name'"
    if not (row.get("path") or (row.get("repo") and row.get("file"))):
        return "it needs either 'repo' + 'file' or 'path'"
    if row.get("repo") and not _REPO_ID.fullmatch(str(row["repo"])):
        return f"'repo' must look like 'owner/name', not {str(row['repo'])[:80]!r}"
    file = str(row.get("file") or "")
    if file and (file.startswith(("/", "\\")) or ".." in Path(file.replace("\\", "/")).parts):
        return f"'file' must be a path inside the repo, not {file[:80]!r}"
    version = row.get("quant_version")
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        return "'quant_version' must be a whole number"
    return ""


def _read_user_rows() -> list:
    path = user_catalogue_path()
    if not path.is_file():
        return []
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CatalogueError(f"{path}: not valid JSON ({e}); fix or delete the file") from e
    if not isinstance(rows, list):
        raise CatalogueError(f"{path}: must hold a JSON list of entries, like the upstream quantizer list")
    return rows


def _write_user_rows(rows: list) -> None:
    from ..files import atomic_write_bytes

    path = user_catalogue_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(rows, indent=2, ensure_ascii=False) + "\n").encode("utf-8"), overwrite=True)
