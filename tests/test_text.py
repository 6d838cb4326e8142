"""Cutting long texts into chunks Bark can speak (hubert_quant.text)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubert_quant.text import MAX_CHARS, sentence_spans, split_text


def sentences(text: str, language: str = "en") -> list[str]:
    return [text[a:b].strip() for a, b in sentence_spans(text, language)]


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("Dr. Smith arrived at 3.30 p.m. on Monday. He left early.", "en",
     ["Dr. Smith arrived at 3.30 p.m. on Monday.", "He left early."]),
    ("J. R. R. Tolkien wrote it, e.g. in 1937. Really?", "en", ["J. R. R. Tolkien wrote it, e.g. in 1937.", "Really?"]),
    ('He said "Stop!" and left. "Why?" she asked. (It was late.) Then silence…', "en",
     ['He said "Stop!" and left.', '"Why?" she asked.', "(It was late.)", "Then silence…"]),
    ("It cost $3.50. The total was 1,000.00 dollars! Was it?", "en",
     ["It cost $3.50.", "The total was 1,000.00 dollars!", "Was it?"]),
    ("Wir treffen uns am 3. Mai, z. B. um 10 Uhr. Das ist gut.", "de",
     ["Wir treffen uns am 3. Mai, z. B. um 10 Uhr.", "Das ist gut."]),
    ("今日は晴れです。明日は雨でしょう！本当ですか？", "ja",
     ["今日は晴れです。", "明日は雨でしょう！", "本当ですか？"]),
    ("「行こう。」と彼は言った。「うん。」", "ja", ["「行こう。」と彼は言った。", "「うん。」"]),
    ("यह एक वाक्य है। यह दूसरा है।", "hi", ["यह एक वाक्य है।", "यह दूसरा है।"]),
    ("هل أنت هنا؟ نعم.", "ar", ["هل أنت هنا؟", "نعم."]),
    ("Τι κάνεις; Καλά.", "el", ["Τι κάνεις;", "Καλά."]),
])
def test_sentences_end_where_their_script_ends_them_and_nowhere_else(text, language, expected):
    assert sentences(text, language) == expected


def test_a_sentence_too_long_is_cut_at_clauses_then_words_and_short_ones_are_joined():
    clause = "the river ran on through the quiet valley under the old stone bridge"
    long = ", ".join([clause] * 6).capitalize() + "."  # ~420 characters: 2 chunks at least
    text = f"Hi. Yes. {long} Words {'word ' * 120}end. Fine."
    chunks = split_text(text)
    assert "".join(c.text for c in chunks) == text  # joined, the chunks give the text back
    assert all(len(c.spoken) <= MAX_CHARS for c in chunks)
    assert chunks[0].spoken == "Hi. Yes."  # two short sentences, one chunk
    long_parts = [c.spoken for c in chunks if clause in c.spoken]
    assert len(long_parts) >= 2 and all(p.endswith((",", ".")) for p in long_parts)  # cut after a clause
    assert chunks[-1].spoken.endswith("Fine.")


def test_a_script_without_spaces_is_cut_by_characters_when_it_must_be():
    text = "あ" * 500 + "。"
    chunks = split_text(text, language="ja")
    assert "".join(c.text for c in chunks) == text and all(len(c.spoken) <= MAX_CHARS for c in chunks)


def test_a_blank_line_is_never_joined_over():
    chunks = split_text("One.\n\nTwo.")
    assert [c.spoken for c in chunks] == ["One.", "Two."]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc XYZ.,!?;:\"'()\n。、—…1234567890")), max_size=900),
       st.integers(20, 300))
def test_any_text_is_covered_exactly_and_no_chunk_is_over_the_limit(text, max_chars):
    chunks = split_text(text, max_chars=max_chars, target_chars=max(1, max_chars // 2))
    assert "".join(c.text for c in chunks) == text
    assert all(len(c.spoken) <= max_chars for c in chunks)
    assert [c.start for c in chunks] == [sum(len(c.text) for c in chunks[:k]) for k in range(len(chunks))]
