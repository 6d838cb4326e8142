"""A whole text read in one voice: cut into chunks, each spoken from the speaker's own prompt (never
from the previous output, so the voice cannot drift), several takes per chunk with the best kept,
the chunks joined with a pause into one wav, and a report beside it (``OUT.json``).

    text --split_text--> chunks --Bark x takes, each from the speaker's prompt--> best take per chunk
         --joined with pauses, streamed--> OUT.wav (+ OUT.json)

Finished chunks are kept in ``OUT.parts/`` (one wav and one report each), so an interrupted run
continues where it stopped; memory does not grow with the text (chunks are joined from disk). That
folder is untrusted like any other: it must be a real folder (not a link), one run at a time holds
it (a second is refused at once), and only regular files in it are read, each with a size cap, a
chunk's audio only if its digest is the one its report recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import secrets
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import files
from ..constants import BARK_SAMPLE_RATE
from ..errors import OutputExistsError, WriteError, explain_out_of_memory
from ..files import atomic_write, atomic_write_bytes
from ..text import MAX_CHARS, split_text
from . import takes as judging
from .adapter import BarkOptions
from .speak import Stages, resolve_speaker, wav_path

SEED_STEP = 1000  # chunk i's takes use seeds seed + i * SEED_STEP + attempt * takes + take
MAX_RECORD_BYTES = 1 << 20  # a chunk's report or the plan: far more than they hold
MAX_PART_BYTES = 64 << 20  # a chunk's audio: 14 s at 24 kHz is 0.7 MB
REFERENCE_SECONDS = 600.0  # of a reference recording: its voice is heard in far less (as compare does)


@dataclass(frozen=True)
class Reading:
    """What :func:`read_text` wrote: the wav, the report, and the report's content."""

    wav: Path
    report: Path
    chunks: list[dict]


def read_text(text: str, out: str | os.PathLike, *, speaker=None, options: BarkOptions | None = None,
              takes: int = 1, pause: float = 0.3, language: str = "en", max_chars: int = MAX_CHARS,
              voice: judging.VoiceJudge | str | None = "auto", overwrite: bool = False, progress=None,
              stages: Stages | None = None, only: set[int] | None = None,
              reference: str | os.PathLike | None = None, limits=None) -> Reading:
    """Read ``text`` in ``speaker``'s voice into ``out`` (a 24 kHz wav) and ``out``.json.

    takes: Bark generations per chunk; the best by :func:`takes.judge` is kept. voice: a judge of how
        alike a take's voice is to the speaker's; "auto": the speaker-similarity model
        (:mod:`hubert_quant.voice`) against the speaker's prompt, heard, where the model is installed and
        there is a speaker, and also against the recording it was cloned from where that lies beside the
        speaker file (found by the name and sha256 its metadata holds) or is given as ``reference`` (its
        first 10 minutes are heard; ``limits``: what that file may be, :class:`~hubert_quant.audio.AudioLimits`);
        None: none. pause: seconds of silence between chunks.
    only: chunk indexes to make again, with new seeds (a different take); the others are reused from
        ``OUT.parts/``.
    The same ``options.seed`` gives the same result; without one, a seed is drawn and kept in the
    parts folder, so a re-run continues with it.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("there is no text to read; give a text or a text file")
    if takes < 1 or not 0 <= pause <= 10:
        raise ValueError(f"takes must be at least 1 and pause 0 to 10 s, got {takes} and {pause}")
    options, stages = options or BarkOptions(), stages or (lambda *_: None)
    wav = wav_path(out)
    report_path = wav.with_suffix(".json")
    replace = overwrite or only is not None  # making chunks again replaces the reading they belong to
    for path in (wav, report_path):
        if os.path.lexists(path) and not replace:
            raise OutputExistsError(f"{path} already exists; pass --force to replace it")
    prompt = resolve_speaker(speaker)
    history = None if prompt is None else prompt.arrays()
    chunks = split_text(text, language=language, max_chars=max_chars)
    parts = wav.with_suffix(".parts")
    if os.path.islink(parts) or (os.path.lexists(parts) and not parts.is_dir()):
        raise WriteError(f"{parts} is not a folder a reading made (a link or a file): remove it, or choose "
                         "another output")
    parts.mkdir(parents=True, exist_ok=True)
    busy = (f"another run is writing {wav.name} (its {parts.name} folder is in use): let it finish, or choose "
            "another output")
    with files.folder_lock(parts, ".lock", "the reading's lock file", busy=busy):
        return _read(chunks, wav, report_path, parts, prompt, history, speaker, options, takes, pause,
                     language, max_chars, voice, replace, only, progress, stages,
                     lambda: _recordings(speaker, prompt, reference, limits))


def speak(text: str, folder: str | os.PathLike, *, speaker=None, options: BarkOptions | None = None,
          stages: Stages | None = None) -> np.ndarray:
    """``text`` in ``speaker``'s voice however long it is: float32 (m,) at 24 kHz. A text Bark speaks at
    once is one generation (:func:`~.speak.say`); a longer one is read chunk by chunk (:func:`read_text`)
    into a new folder in ``folder``, where its wav and report stay."""
    import tempfile

    from ..audio import load_audio
    from .speak import say

    if len(split_text(text)) <= 1:
        return say(text, speaker=speaker, options=options, stages=stages)
    out = Path(tempfile.mkdtemp(prefix="reading-", dir=folder)) / "reading.wav"
    return load_audio(read_text(text, out, speaker=speaker, options=options, stages=stages).wav)[0]


def _read(chunks, wav, report_path, parts, prompt, history, speaker, options, takes, pause, language, max_chars,
          voice, replace, only, progress, stages, recordings) -> Reading:
    from .adapter import load_stages, semantic_to_audio, text_to_semantic

    plan = _plan(parts, options.seed, takes, prompt, language, max_chars)
    base = plan["seed"]
    todo = [i for i, chunk in enumerate(chunks) if (only is not None and i in only)
            or _done(parts, i, chunk.spoken, base, takes) is None]
    if todo and len(todo) < len(chunks) and only is None:
        stages(f"continuing: {len(chunks) - len(todo)} of {len(chunks)} chunks were made before ({parts.name})", 1, 1)
    if todo:
        recordings = recordings() if voice == "auto" else []  # a bad reference fails here, before Bark
        stages("loading Bark", 1, 1)
        load_stages(("text", "coarse", "fine", "codec"), options, progress=progress)
        if voice == "auto":
            voice = _voice_judge(prompt, options, recordings, stages)
    steps, step = len(todo) * takes, 0
    with explain_out_of_memory("running Bark", options.device):
        for i in todo:
            spoken, judged, kept_audio = chunks[i].spoken, [], None
            attempt = _next_attempt(parts, i, spoken, base, takes) if only is not None and i in only else 0
            first = _first_seed(base, i, takes, attempt)
            for t in range(takes):
                step += 1
                stages(f"chunk {i + 1}/{len(chunks)}, take {t + 1}/{takes}", step, steps)
                seed = first + t
                take_options = dataclasses.replace(options, seed=seed)
                semantic = text_to_semantic(spoken, history, take_options)  # the speaker's own prompt, always
                audio = semantic_to_audio(semantic, history, take_options, seed_offset=1)[0]
                judged.append(judging.judge(audio, spoken, seed, voice=voice))
                if judging.best(judged) == t:
                    kept_audio = audio
            _keep(parts, i, spoken, first, attempt, judged, kept_audio)
    return _assemble(chunks, parts, base, takes, wav, report_path, pause, speaker, replace)


def _voice_judge(prompt, options: BarkOptions, recordings: list, stages: Stages) -> judging.VoiceJudge | None:
    """Takes judged against the speaker's own prompt as Bark hears it: the fine codes Bark reads (the last
    512 frames, 6.8 s), decoded. Never more: a prompt file of a few KB can hold minutes of codes, and
    decoding them all took gigabytes. Each of ``recordings`` ((name, samples, rate)) counts as much."""
    from .. import voice
    from ..speaker import BARK_FINE_HISTORY
    from .adapter import decode_fine

    if prompt is None or not voice.usable():
        if recordings:  # given with --reference: say why it is not heard rather than drop it in silence
            why = ("there is no speaker's prompt to judge takes by" if prompt is None else
                   f"the speaker-similarity model is not installed or not usable ({voice.INSTALL})")
            stages(f"{', '.join(name for name, _, _ in recordings)} is not heard: {why}", 1, 1)
        return None
    heard = ", ".join(["the speaker's prompt"] + [name for name, _, _ in recordings])
    stages(f"takes judged by their voice's similarity to {heard}", 1, 1)
    return voice.judge_against(decode_fine(prompt.fine[:, -BARK_FINE_HISTORY:], options), BARK_SAMPLE_RATE,
                               *[(samples, rate) for _, samples, rate in recordings])


def _recordings(speaker, prompt, reference, limits=None) -> list[tuple[str, np.ndarray, int]]:
    """The recordings of the speaker's voice besides its prompt, (name, samples (n,), rate): ``reference``
    (its first 10 minutes), else the recording the speaker was cloned from where it lies beside the
    speaker file (the part cloned; see :func:`hubert_quant.speaker.source_recording`)."""
    from .. import voice
    from ..audio import load_audio
    from ..speaker import source_recording

    if reference is not None:
        return [(Path(reference).name, *load_audio(reference, end=REFERENCE_SECONDS, rate=16_000, limits=limits))]
    if (prompt is None or not isinstance(speaker, (str, os.PathLike)) or Path(speaker).suffix.lower() != ".npz"
            or not voice.usable()):  # without the model nothing would hear it: not read at all
        return []
    found = source_recording(Path(os.path.expanduser(speaker)), prompt, seconds=REFERENCE_SECONDS, rate=16_000)
    return [] if found is None else [(*found, 16_000)]


def _plan(parts: Path, seed: int | None, takes: int, prompt, language: str, max_chars: int) -> dict:
    """The parts folder's record of what its chunks were made with; a different seed, speaker or
    cutting starts the folder afresh (its chunks would not match)."""
    speaker = hashlib.sha256(prompt.semantic.tobytes() + prompt.fine.tobytes()).hexdigest() if prompt else "random"
    path = parts / "plan.json"
    plan = _record(path)
    wanted = {"speaker": speaker, "language": language, "max_chars": max_chars}
    if (plan and all(plan.get(k) == v for k, v in wanted.items()) and _is_int(plan.get("seed"))
            and (seed is None or plan.get("seed") == seed)):
        return plan
    # Not the random module: Bark's seeding (device.seed_everything) resets it, so in one process every
    # unseeded reading would draw the same seed (a host's page showed seed 0 each time).
    plan = {**wanted, "seed": seed if seed is not None else secrets.randbelow(2**31 - SEED_STEP * 10_000)}
    for old in parts.glob("chunk-*"):
        if os.path.islink(old) or old.is_file():  # a link goes, not what it points to; a folder stays
            old.unlink()
    atomic_write_bytes(path, json.dumps(plan).encode(), overwrite=True)
    return plan


def _record(path: Path) -> dict | None:
    """The JSON object in ``path`` if it is a regular file (no link followed) of sane size, else None."""
    try:
        with os.fdopen(files.open_plain(path), "rb") as f:
            data = f.read(MAX_RECORD_BYTES + 1)
        record = json.loads(data) if len(data) <= MAX_RECORD_BYTES else None
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _first_seed(base: int, i: int, takes: int, attempt: int) -> int:
    """The seed of chunk ``i``'s first take; each attempt (making the chunk again) draws new ones."""
    return base + i * SEED_STEP + (attempt * takes) % (SEED_STEP - takes + 1)


def _next_attempt(parts: Path, i: int, spoken: str, base: int, takes: int) -> int:
    """The attempt after the one chunk ``i`` was last made with (0 if it was never made)."""
    record = _done(parts, i, spoken, base, takes)
    return record["attempt"] + 1 if record is not None else 0


def _done(parts: Path, i: int, spoken: str, base: int, takes: int) -> dict | None:
    """The report of chunk ``i`` kept in ``parts``, if it was made from this text, seed and number of takes."""
    record = _record(parts / f"chunk-{i:05d}.json")
    attempt = record.get("attempt") if record is not None else None
    if (record is None or record.get("text") != spoken or not _is_int(attempt) or not 0 <= attempt < 10**6
            or record.get("seed") != _first_seed(base, i, takes, attempt)
            or not isinstance(record.get("takes"), list) or len(record["takes"]) != takes
            or not _is_int(record.get("kept")) or not 0 <= record["kept"] < takes
            or not isinstance(record.get("sha256"), str)):
        return None
    return record if _part_audio(parts, i, record) is not None else None


def _part_audio(parts: Path, i: int, record: dict) -> bytes | None:
    """Chunk ``i``'s kept audio (wav bytes) if it is a regular file of sane size with the recorded digest."""
    try:
        with os.fdopen(files.open_plain(parts / f"chunk-{i:05d}.wav"), "rb") as f:
            data = f.read(MAX_PART_BYTES + 1)
    except OSError:
        return None
    ok = len(data) <= MAX_PART_BYTES and hashlib.sha256(data).hexdigest() == record["sha256"]
    return data if ok else None


def _keep(parts: Path, i: int, spoken: str, first: int, attempt: int, judged: list, audio: np.ndarray) -> None:
    from .speak import save_wav

    written = save_wav(audio, parts / f"chunk-{i:05d}.wav", overwrite=True)
    record = {"text": spoken, "seed": first, "attempt": attempt, "takes": [t.report() for t in judged],
              "kept": judging.best(judged), "sha256": hashlib.sha256(written.read_bytes()).hexdigest()}
    atomic_write_bytes(parts / f"chunk-{i:05d}.json", json.dumps(record).encode(), overwrite=True)


def _frames(data: bytes | None) -> bytes | None:
    """The 16-bit mono frames at Bark's rate of a part's wav bytes; None for anything else."""
    try:
        with wave.open(io.BytesIO(data or b"")) as part:
            if (part.getnchannels(), part.getsampwidth(), part.getframerate()) != (1, 2, BARK_SAMPLE_RATE):
                return None
            return part.readframes(part.getnframes())
    except (wave.Error, EOFError):
        return None


def _assemble(chunks, parts: Path, base: int, takes: int, wav: Path, report_path: Path, pause: float, speaker,
              overwrite: bool) -> Reading:
    """Join the kept takes with pauses into ``wav``, streamed from the parts (memory: one chunk). The
    parts are our own 16-bit wavs at Bark's rate: their frames are copied as they are (``wave``), not
    decoded again (audio files of the user's are opened by :mod:`hubert_quant.audio` only)."""
    silence = bytes(2 * int(round(pause * BARK_SAMPLE_RATE)))
    entries, at = [], 0

    def write(f) -> None:
        nonlocal at
        with wave.open(f, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(BARK_SAMPLE_RATE)
            for i, chunk in enumerate(chunks):
                record = _done(parts, i, chunk.spoken, base, takes)
                frames = _frames(_part_audio(parts, i, record)) if record is not None else None
                if frames is None:
                    raise WriteError(f"chunk {i + 1} of {len(chunks)} changed in {parts} while it was read; run again")
                if i:
                    out.writeframes(silence)
                    at += len(silence) // 2
                out.writeframes(frames)
                entries.append({"index": i, "text": chunk.text, "start_char": chunk.start,
                                "start_s": round(at / BARK_SAMPLE_RATE, 3),
                                "end_s": round((at + len(frames) // 2) / BARK_SAMPLE_RATE, 3),
                                "seed": record["seed"], "attempt": record["attempt"], "takes": record["takes"],
                                "kept": record["kept"]})
                at += len(frames) // 2

    atomic_write(wav, write, overwrite=overwrite)
    report = {"wav": wav.name, "speaker": str(speaker) if isinstance(speaker, (str, os.PathLike)) else None,
              "seed": base, "takes": takes, "pause_s": pause, "sample_rate": BARK_SAMPLE_RATE, "chunks": entries}
    atomic_write_bytes(report_path, json.dumps(report, indent=1, ensure_ascii=False).encode(), overwrite=overwrite)
    return Reading(wav, report_path, entries)
