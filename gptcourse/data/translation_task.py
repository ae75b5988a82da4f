"""The toy translation task of chapters 1, 2 and 3: English-like sentences into a made-up language.

Every model of chapters 1-3 (seq2seq, seq2seq with attention, the Transformer) is trained and
measured on this one task, with the same splits and the same metrics, so their accuracy-vs-length
curves can be drawn on one plot. Nothing is downloaded: the sentences come from a small grammar
and a seeded random generator.

The source language
-------------------
A sentence is one or more clauses joined by ``and``; a clause is ``subject verb object``; a noun
phrase is zero to two adjectives and a noun, singular or plural; the verb agrees with its subject
as in English. There are no articles::

    big dogs see small cat
    fox chases old red birds and frogs like fox

The target language (its endings are borrowed from Esperanto)
-------------------------------------------------------------
1. **Lexicon.** Each source word becomes one target word: ``cat -> kato``, ``big -> granda``,
   ``sees/see -> vidas``, ``and -> kaj`` (see :data:`NOUNS`, :data:`ADJECTIVES`, :data:`VERBS`).
2. **Reordering.** Adjectives follow their noun (``big dog -> hundo granda``), and the verb moves
   to the end of its clause (subject-verb-object becomes subject-object-verb).
3. **Agreement.** A plural noun *and its adjectives* take the ending ``-j``; the object noun
   phrase takes the accusative ending ``-n`` on the noun and on its adjectives (the ending is
   what still tells subject from object once the verb has moved). Verbs do not change.

Examples (:func:`translate`)::

    big dogs see small cat                       ->  hundoj grandaj katon etan vidas
    fox chases old red birds and frogs like fox  ->  vulpo birdojn maljunajn rugajn casas kaj ranoj vulpon satas

A target sentence has exactly as many words as its source sentence.

API
---
- :class:`Vocab`: word <-> id, with ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3.
- :func:`translate`: the rules above, source words -> target words; :func:`reference_alignment`: which
  source position each target word comes from.
- :func:`make_task` (seed) -> :class:`TranslationTask`: vocabularies and the splits ``train``,
  ``valid``, ``test`` (source lengths :data:`TRAIN_LENGTHS`) and ``long`` (source lengths
  :data:`LONG_LENGTHS`, all longer than any training sentence). Each split is a list of
  ``(source_words, target_words)`` pairs.
- :func:`collate` / :meth:`TranslationTask.batches`: pairs -> a padded :class:`Batch` of tensors.
- The buckets every chapter reports accuracy on: :data:`LENGTH_BUCKETS` (plus :data:`LONG_BUCKET` for
  ``long``); the metrics themselves are in :mod:`gptcourse.ch01_evaluation`.

Chapters 1-3 train their models with ``gptcourse.ch01_seq2seq.TrainConfig`` (300 steps of 128
sentences); a later chapter that wants its curve on the same plot evaluates with
:func:`gptcourse.ch01_evaluation.evaluate` on ``task.test`` and ``task.long`` of ``make_task(seed=0)``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import torch

from gptcourse.training import pad_sequences

# ---------------------------------------------------------------------------------------------
# The two languages
# ---------------------------------------------------------------------------------------------

#: source noun (singular, plural) -> target noun stem (``stem + "o"`` is the singular).
NOUNS = {
    ("cat", "cats"): "kat",
    ("dog", "dogs"): "hund",
    ("bird", "birds"): "bird",
    ("fox", "foxes"): "vulp",
    ("horse", "horses"): "cheval",
    ("frog", "frogs"): "ran",
}
#: source adjective -> target adjective stem (``stem + "a"``).
ADJECTIVES = {"happy": "felic", "big": "grand", "small": "et", "old": "maljun", "young": "jun", "red": "rug"}
#: Adjective classes, in the order English stacks them (opinion, size, age, colour): two adjectives
#: in one noun phrase come from two different classes, in this order ("happy old cat", "big red dog").
ADJECTIVE_ORDER = (("happy",), ("big", "small"), ("old", "young"), ("red",))
#: source verb (with a singular subject, with a plural subject) -> target verb (never inflected).
VERBS = {
    ("sees", "see"): "vidas",
    ("likes", "like"): "satas",
    ("chases", "chase"): "casas",
    ("helps", "help"): "helpas",
    ("follows", "follow"): "sekvas",
    ("feeds", "feed"): "nutras",
}
CONJUNCTION = ("and", "kaj")

#: Source sentence lengths (in words, inclusive) of the train, valid and test splits.
TRAIN_LENGTHS = (3, 14)
#: Source lengths of the held-out ``long`` split: longer than any training sentence.
LONG_LENGTHS = (15, 20)
#: The buckets (inclusive word-length ranges) every chapter reports accuracy on.
LENGTH_BUCKETS = ((3, 5), (6, 8), (9, 11), (12, 14))
#: The ``long`` split as one bucket.
LONG_BUCKET = LONG_LENGTHS

_NOUN_OF = {}  # source noun -> (stem, plural?)
for (_sg, _pl), _stem in NOUNS.items():
    _NOUN_OF[_sg], _NOUN_OF[_pl] = (_stem, False), (_stem, True)
_VERB_OF = {form: target for forms, target in VERBS.items() for form in forms}


def inflect(stem: str, pos: str, plural: bool, accusative: bool) -> str:
    """A target noun (``pos="noun"``, ending -o) or adjective (``"adj"``, -a), then -j if plural, then -n if object."""
    return stem + ("o" if pos == "noun" else "a") + ("j" if plural else "") + ("n" if accusative else "")


def _translate_noun_phrase(words: Sequence[str], accusative: bool) -> list[str]:
    """[adj ... adj noun] -> [noun adj ... adj], every word agreeing with the noun in number and case."""
    *adjectives, noun = words
    stem, plural = _NOUN_OF[noun]
    out = [inflect(stem, "noun", plural, accusative)]
    out += [inflect(ADJECTIVES[a], "adj", plural, accusative) for a in adjectives]
    return out


def _split_clause(clause: Sequence[str]) -> tuple[list[str], str, list[str]]:
    """(subject words, verb, object words) of one source clause."""
    v = next(i for i, w in enumerate(clause) if w in _VERB_OF)
    return list(clause[:v]), clause[v], list(clause[v + 1 :])


def translate(source: Sequence[str]) -> list[str]:
    """Apply the three rules (lexicon, reordering, agreement) to a source sentence (a list of words)."""
    out: list[str] = []
    clause: list[str] = []
    for word in list(source) + [CONJUNCTION[0]]:
        if word != CONJUNCTION[0]:
            clause.append(word)
            continue
        subject, verb, obj = _split_clause(clause)
        out += _translate_noun_phrase(subject, accusative=False)
        out += _translate_noun_phrase(obj, accusative=True)
        out.append(_VERB_OF[verb])
        out.append(CONJUNCTION[1])
        clause = []
    return out[:-1]  # no "kaj" after the last clause


def reference_alignment(source: Sequence[str]) -> list[int]:
    """For each word of ``translate(source)``, the position in ``source`` of the word it translates.

    >>> reference_alignment("big dogs see small cat".split())  # hundoj grandaj katon etan vidas
    [1, 0, 4, 3, 2]
    """
    out: list[int] = []
    start = 0
    for end in [i for i, w in enumerate(source) if w == CONJUNCTION[0]] + [len(source)]:
        v = next(i for i in range(start, end) if source[i] in _VERB_OF)
        out += [v - 1] + list(range(start, v - 1))  # subject: the noun, then its adjectives
        out += [end - 1] + list(range(v + 1, end - 1))  # object: the same
        out += [v, end]  # the verb, then "and"
        start = end + 1
    return out[:-1]


# ---------------------------------------------------------------------------------------------
# Generating sentences
# ---------------------------------------------------------------------------------------------

_SG_NOUNS = [sg for sg, _ in NOUNS]
_PL_NOUNS = [pl for _, pl in NOUNS]


def _noun_phrase(rng: random.Random, n_adjectives: int) -> tuple[list[str], bool]:
    plural = rng.random() < 0.5
    noun = rng.choice(_PL_NOUNS if plural else _SG_NOUNS)
    classes = sorted(rng.sample(range(len(ADJECTIVE_ORDER)), n_adjectives))
    return [rng.choice(ADJECTIVE_ORDER[c]) for c in classes] + [noun], plural


def random_sentence(rng: random.Random, length: int) -> list[str]:
    """A random source sentence of exactly ``length`` words (>= 3).

    A clause has 3 words plus 0-4 adjectives (at most 2 per noun phrase); clauses are joined by
    ``and``. The number of clauses is drawn among those that can reach ``length``.
    """
    if length < 3:
        raise ValueError(f"random_sentence: the shortest sentence has 3 words, asked for {length}")
    # c clauses have 4c - 1 words without adjectives and room for 4c adjectives
    choices = [c for c in range(1, length + 1) if 4 * c - 1 <= length <= 8 * c - 1]
    n_clauses = rng.choice(choices)
    n_adjectives = length - (4 * n_clauses - 1)
    slots = [0] * (2 * n_clauses)
    for _ in range(n_adjectives):  # spread the adjectives over noun phrases, at most 2 each
        slots[rng.choice([i for i, s in enumerate(slots) if s < 2])] += 1
    words: list[str] = []
    for c in range(n_clauses):
        subject, plural = _noun_phrase(rng, slots[2 * c])
        obj, _ = _noun_phrase(rng, slots[2 * c + 1])
        verbs = rng.choice(list(VERBS))
        if c:
            words.append(CONJUNCTION[0])
        words += subject + [verbs[1] if plural else verbs[0]] + obj
    return words


# ---------------------------------------------------------------------------------------------
# Vocabularies and batches
# ---------------------------------------------------------------------------------------------

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIALS = (PAD, SOS, EOS, UNK)


class Vocab:
    """Word <-> integer id. ``<pad>`` = 0, ``<sos>`` = 1, ``<eos>`` = 2, ``<unk>`` = 3, then the words sorted.

    >>> v = Vocab(["b", "a"]); v.encode(["a", "b", "zzz"], eos=True)
    [4, 5, 3, 2]
    >>> v.decode([1, 4, 5, 2, 0, 0])
    ['a', 'b']
    """

    pad_id, sos_id, eos_id, unk_id = 0, 1, 2, 3

    def __init__(self, words: Iterable[str]) -> None:
        self.itos: list[str] = list(SPECIALS) + sorted(set(words) - set(SPECIALS))
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} entries: {', '.join(self.itos[:8])}, ...)"

    def encode(self, words: Sequence[str], sos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``words`` (unknown words -> ``<unk>``), optionally framed by ``<sos>`` / ``<eos>``."""
        ids = [self.stoi.get(w, self.unk_id) for w in words]
        return ([self.sos_id] if sos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Iterable[int] | torch.Tensor) -> list[str]:
        """Words of ``ids`` up to the first ``<eos>``, with ``<pad>`` and ``<sos>`` dropped."""
        words = []
        for i in ids.tolist() if hasattr(ids, "tolist") else ids:
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.sos_id):
                words.append(self.itos[i])
        return words


Pair = tuple[list[str], list[str]]


@dataclass
class Batch:
    """A padded batch (batch-first). ``S``: longest source, ``T``: longest target + 1.

    - ``src`` (B, S): source ids, padded with 0;  ``src_lengths`` (B,): true lengths.
    - ``tgt_in`` (B, T): ``<sos> y_1 ... y_n``, the decoder's inputs under teacher forcing.
    - ``tgt_out`` (B, T): ``y_1 ... y_n <eos>``, what the decoder must predict at each step.
    """

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt_in: torch.Tensor
    tgt_out: torch.Tensor

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(*(t.to(device) for t in (self.src, self.src_lengths, self.tgt_in, self.tgt_out)))


def collate(pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab) -> Batch:
    """Encode and pad a list of (source words, target words) pairs into a :class:`Batch`."""
    src = [src_vocab.encode(s) for s, _ in pairs]
    tgt = [tgt_vocab.encode(t, sos=True, eos=True) for _, t in pairs]
    return Batch(
        src=pad_sequences(src),
        src_lengths=torch.tensor([len(s) for s in src], dtype=torch.long),
        tgt_in=pad_sequences([t[:-1] for t in tgt]),
        tgt_out=pad_sequences([t[1:] for t in tgt]),
    )


# ---------------------------------------------------------------------------------------------
# The task: splits with fixed seeds
# ---------------------------------------------------------------------------------------------


@dataclass
class TranslationTask:
    """The vocabularies and the four splits (lists of ``(source words, target words)`` pairs)."""

    src_vocab: Vocab
    tgt_vocab: Vocab
    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]
    long: list[Pair]
    seed: int = 0
    splits: tuple[str, ...] = field(default=("train", "valid", "test", "long"), repr=False)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={len(getattr(self, s))}" for s in self.splits)
        return f"TranslationTask(seed={self.seed}, {sizes}, |src vocab|={len(self.src_vocab)}, |tgt vocab|={len(self.tgt_vocab)})"

    def collate(self, pairs: Sequence[Pair]) -> Batch:
        return collate(pairs, self.src_vocab, self.tgt_vocab)

    def batches(
        self, split: str = "train", batch_size: int = 64, shuffle: bool = True, seed: int = 0
    ) -> Iterator[Batch]:
        """One pass over a split in batches; ``shuffle`` uses its own seeded generator."""
        pairs = list(getattr(self, split))
        if shuffle:
            random.Random(seed).shuffle(pairs)
        for i in range(0, len(pairs), batch_size):
            yield self.collate(pairs[i : i + batch_size])

    def endless_batches(self, split: str = "train", batch_size: int = 64, seed: int = 0) -> Iterator[Batch]:
        """Batches of a split without end: pass after pass, each shuffled anew (pass k with seed ``seed + k``)."""
        epoch = 0
        while True:
            yield from self.batches(split, batch_size, shuffle=True, seed=seed + epoch)
            epoch += 1


def _sample_split(rng: random.Random, n: int, lengths: tuple[int, int], exclude: set) -> list[Pair]:
    """``n`` distinct sentences, lengths cycling through ``lengths`` so every length is equally common,
    except the shortest ones, which run out of distinct sentences (then the other lengths fill in)."""
    pairs, seen = [], set(exclude)
    todo = list(range(lengths[0], lengths[1] + 1))
    misses = dict.fromkeys(todo, 0)
    while len(pairs) < n:
        length = todo[len(pairs) % len(todo)]
        source = random_sentence(rng, length)
        key = tuple(source)
        if key in seen:
            misses[length] += 1
            if misses[length] > 200:  # (nearly) every sentence of this length is taken
                todo.remove(length)
            continue
        misses[length] = 0
        seen.add(key)
        pairs.append((source, translate(source)))
    return pairs


def make_task(
    seed: int = 0, n_train: int = 20_000, n_valid: int = 600, n_test: int = 1_200, n_long: int = 600
) -> TranslationTask:
    """The task with its splits: deterministic for a given ``seed``; no sentence is in two splits.

    ``train``, ``valid`` and ``test`` have source lengths :data:`TRAIN_LENGTHS` (each length
    equally common); ``long`` has :data:`LONG_LENGTHS`. The vocabularies hold every word the
    grammar can produce, so no split has an ``<unk>``.
    """
    rng = random.Random(seed)
    test = _sample_split(rng, n_test, TRAIN_LENGTHS, set())
    valid = _sample_split(rng, n_valid, TRAIN_LENGTHS, {tuple(s) for s, _ in test})
    train = _sample_split(rng, n_train, TRAIN_LENGTHS, {tuple(s) for s, _ in test + valid})
    long = _sample_split(rng, n_long, LONG_LENGTHS, set())
    rng.shuffle(train)
    src_words = [w for forms in list(NOUNS) + list(VERBS) for w in forms] + list(ADJECTIVES) + [CONJUNCTION[0]]
    tgt_words = [
        inflect(stem, pos, pl, acc)
        for stems, pos in ((NOUNS.values(), "noun"), (ADJECTIVES.values(), "adj"))
        for stem in stems
        for pl in (False, True)
        for acc in (False, True)
    ]
    tgt_words += list(VERBS.values()) + [CONJUNCTION[1]]
    return TranslationTask(Vocab(src_words), Vocab(tgt_words), train, valid, test, long, seed=seed)
