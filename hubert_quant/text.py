"""A long text cut into chunks Bark can speak, at sentence boundaries.

Bark's text stage speaks about 14 s per generation, so a text is cut into chunks of at most
``max_chars`` characters: at sentence ends (any script's marks, not after an abbreviation, an
initial or inside a number), a sentence too long for one chunk at its clauses, then its words
(or, in a script written without spaces, its characters); short sentences are joined up to
``target_chars``, never across a blank line. Chunks are exact, contiguous slices of the text:
joined, they give it back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_CHARS = 220  # about 14 s of speech: what Bark's text stage generates in one go
TARGET_CHARS = 150  # short sentences are joined up to this: fewer, more natural generations
_NEAR = 32  # how far around a mark its context is read (linear time on any text)

# Sentence marks of the scripts Bark speaks and their neighbours: Latin, Greek (;), Armenian, Arabic,
# Urdu, Devanagari, Ethiopic, Myanmar, CJK full-width and half-width, and the ellipsis.
_ENDS = ".!?…;։؟۔।॥።၊။。！？｡"
_FULL_WIDTH_ENDS = "。！？｡"  # CJK: a sentence ends here with no space after it
_CLOSERS = "\"'”’»›)]}」』】〉》）"  # kept with the sentence they close
_OPENERS = "\"'“‘«‹([{「『【〈《（"
_CLAUSES = ",;:–—、，；：)"
ORDINAL_DOT = ("de", "pl", "cs", "da", "no", "fi", "tr")  # "am 3. Mai": a dot after a number is an ordinal
_ABBREVIATIONS = {
    "en": "mr mrs ms dr prof st jr sr vs etc e.g i.e no vol fig approx dept est inc ltd co mt ft",
    "de": "z.b bzw usw ca dr prof nr str hr fr vgl evtl ggf inkl bzw u.a d.h s.o",
    "fr": "m mme mlle dr pr st av bd etc cf p.ex",
    "es": "sr sra srta dr dra ud uds etc p.ej núm pág",
    "it": "sig sig.ra dott prof ing ecc es",
    "pt": "sr sra dr dra prof etc ex",
    "pl": "np dr prof ok tzw itd itp ul św",
}


@dataclass(frozen=True)
class Chunk:
    """One piece of the text: ``text`` is its exact slice (with the whitespace after it), at ``start``."""

    text: str
    start: int

    @property
    def spoken(self) -> str:
        """What Bark is given: the slice with its runs of whitespace made single spaces."""
        return " ".join(self.text.split())


def split_text(text: str, *, language: str = "en", max_chars: int = MAX_CHARS,
               target_chars: int = TARGET_CHARS) -> list[Chunk]:
    """``text`` cut into chunks of at most ``max_chars`` spoken characters (see the module's docstring)."""
    if max_chars < 20 or not 0 < target_chars <= max_chars:
        raise ValueError(f"need 20 <= max_chars and 0 < target_chars <= max_chars, got {max_chars}, {target_chars}")
    pieces: list[tuple[int, int]] = []
    for start, end in sentence_spans(text, language):
        pieces += _fit(text, start, end, max_chars)
    chunks: list[tuple[int, int]] = []
    for start, end in pieces:
        if chunks and _joinable(text, chunks[-1], (start, end), target_chars):
            chunks[-1] = (chunks[-1][0], end)
        else:
            chunks.append((start, end))
    return [Chunk(text[start:end], start) for start, end in chunks if text[start:end].strip()] or (
        [Chunk(text, 0)] if text else [])


def sentence_spans(text: str, language: str = "en") -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, contiguous and covering it (whitespace after a sentence
    belongs to it)."""
    abbreviations = set(_ABBREVIATIONS.get(language.split("-")[0].lower(), "").split()) | set(
        _ABBREVIATIONS["en"].split())
    spans, start, i = [], 0, 0
    while i < len(text):
        if text[i] not in _ENDS or not _ends_sentence(text, i, language, abbreviations):
            i += 1
            continue
        end = i + 1
        while end < len(text) and (text[end] in _ENDS or text[end] in _CLOSERS):
            end += 1
        while end < len(text) and text[end].isspace():
            end += 1
        spans.append((start, end))
        start = i = end
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _ends_sentence(text: str, i: int, language: str, abbreviations: set[str]) -> bool:
    """Whether the mark at ``i`` ends a sentence (not "Dr.", "J. R.", "3.14", "z. B.", "am 3. Mai").
    Looks at most ``_NEAR`` characters either side, so a whole text is cut in linear time."""
    mark = text[i]
    after = i + 1
    while after < len(text) and after - i <= _NEAR and (text[after] in _CLOSERS or text[after] in _ENDS):
        after += 1
    if mark in _FULL_WIDTH_ENDS:  # no space after it; but a quote closed after it may go on: 「行こう。」と彼は言った。
        return (after == i + 1 or after == len(text) or text[after].isspace() or text[after] in _OPENERS
                or text[after - 1] not in _CLOSERS)
    if after < len(text) and not text[after].isspace():
        return False  # "3.14", "e.g.x", "Yahoo!Mail": no space, no end
    if mark == ";" and language.split("-")[0].lower() != "el":
        return False  # a semicolon ends a sentence in Greek only; elsewhere it joins clauses
    following = after
    while following < len(text) and following - after <= _NEAR and text[following].isspace():
        following += 1
    if following < len(text) and text[following].islower():
        return False  # 'He said "Stop!" and left.', "Wait... then go."
    if mark != ".":
        return True
    start = i
    while start > 0 and i - start < _NEAR and (text[start - 1].isalnum() or text[start - 1] in "._"):
        start -= 1
    word = text[start:i].lower()
    if word in abbreviations or (len(word) == 1 and word.isalpha()):
        return False  # an abbreviation or an initial
    return not (word.isdigit() and len(word) <= 2 and language.split("-")[0].lower() in ORDINAL_DOT)


def _fit(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """The span cut so each part is at most ``max_chars`` spoken characters: at clauses, then words,
    then characters."""
    if _spoken_len(text[start:end]) <= max_chars:
        return [(start, end)]
    for cuts in (_after(text, start, end, _CLAUSES), _after(text, start, end, None)):
        if len(cuts) > 2:  # a place to cut inside
            parts = _pack(text, cuts, max_chars)
            if all(_spoken_len(text[a:b]) <= max_chars for a, b in parts):
                return parts
            return [p for a, b in parts for p in _fit(text, a, b, max_chars)] if len(parts) > 1 else \
                _by_characters(start, end, max_chars)
    return _by_characters(start, end, max_chars)


def _after(text: str, start: int, end: int, marks: str | None) -> list[int]:
    """Places to cut inside start:end: after a clause mark and its spaces (``marks``), or between words."""
    cuts = [start]
    i = start
    while i < end:
        at_mark = marks is not None and text[i] in marks
        at_space = marks is None and text[i].isspace()
        if at_mark or at_space:
            j = i + 1
            while j < end and text[j].isspace():
                j += 1
            if j < end and j > cuts[-1]:
                cuts.append(j)
            i = j
        else:
            i += 1
    return cuts + [end]


def _pack(text: str, cuts: list[int], max_chars: int) -> list[tuple[int, int]]:
    """Consecutive pieces between ``cuts`` packed greedily into parts of at most ``max_chars``."""
    parts, first = [], cuts[0]
    for k in range(1, len(cuts) - 1):
        if _spoken_len(text[first:cuts[k + 1]]) > max_chars:
            parts.append((first, cuts[k]))
            first = cuts[k]
    parts.append((first, cuts[-1]))
    return parts


def _by_characters(start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    return [(a, min(a + max_chars, end)) for a in range(start, end, max_chars)]


def _joinable(text: str, left: tuple[int, int], right: tuple[int, int], target_chars: int) -> bool:
    """Whether two neighbouring pieces become one chunk: short enough together, no blank line between."""
    if re.search(r"\n\s*\n", text[left[0]:left[1]]):
        return False
    return _spoken_len(text[left[0]:right[1]]) <= target_chars


def _spoken_len(piece: str) -> int:
    return len(" ".join(piece.split()))
