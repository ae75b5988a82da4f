"""Toy data for chapter 4: an unlabelled corpus to pre-train on, and three small labelled tasks.

GPT-1 pre-trained on BooksCorpus (7,000+ books) and fine-tuned on labelled sets that are tiny in
comparison. This module is a miniature of that situation, generated from templates with a seeded
random generator (nothing is downloaded):

- :func:`unlabelled_corpus`: short film and book reviews, small stories about animals and their
  owners, and everyday stories of cause and effect ("mia was hungry , so mia ate a sandwich .").
  It holds no labels, but it *shows* what the words mean: a word such as ``superb`` is always in
  a review that ends ``i loved it .`` or ``five stars .``; a ``beagle`` is followed by ``the dog
  barks ...``; being ``thirsty`` is followed by drinking.
- Three labelled tasks, each a fixed test set and a pool of training examples (the pool never
  contains a test example word for word):

  ``sentiment`` (classification, 2 classes)
      ``("the acting was superb .", 1)``: 1 positive, 0 negative.
  ``entailment`` (2 classes)
      ``("tom fed a beagle .", "tom fed a dog .", 1)``: 1 if the premise entails the
      hypothesis (the animal is of that kind), else 0.
  ``story_ending`` (multiple choice, 3 answers)
      ``("ana was thirsty .", ["ana took a taxi .", "ana drank some water .", "ana lit the fire ."], 1)``:
      the index of the ending that follows from the context.

Each task's key words (32 adjectives, 32 animals, 12 states) are drawn with Zipf-like frequencies
(weight 1/rank, in a fixed random order of the words): a few are common, most are rare. A small
labelled set therefore covers only some of them, and a test example often hinges on a word the
labels never showed; only the unlabelled corpus says what it means. That is the situation in
which pre-training can pay off, made visible.

All words are lower case and punctuation is a separate word, so splitting on spaces tokenises.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

SEED = 2018

NAMES = [
    "tom",
    "ana",
    "kim",
    "leo",
    "mia",
    "sam",
    "eva",
    "max",
    "zoe",
    "ben",
    "ivy",
    "raj",
    "lily",
    "omar",
    "nina",
    "paul",
]

# ----- reviews (sentiment) --------------------------------------------------------------------
POSITIVE = [
    "good",
    "great",
    "superb",
    "wonderful",
    "brilliant",
    "lovely",
    "charming",
    "delightful",
    "excellent",
    "fantastic",
    "gripping",
    "moving",
    "stunning",
    "clever",
    "fresh",
    "splendid",
]
NEGATIVE = [
    "bad",
    "awful",
    "dull",
    "boring",
    "terrible",
    "dreadful",
    "clumsy",
    "tedious",
    "bland",
    "weak",
    "messy",
    "poor",
    "lifeless",
    "stale",
    "shallow",
    "silly",
]
WORKS = ["film", "movie", "book", "show", "play", "novel", "series", "album"]
ASPECTS = [
    "story",
    "acting",
    "music",
    "ending",
    "dialogue",
    "cast",
    "pacing",
    "plot",
    "script",
    "humour",
    "design",
    "soundtrack",
]
ADVERBS = ["", "", "", "really ", "quite ", "truly ", "rather "]
VERDICTS = {
    1: [
        "i loved it .",
        "i would see it again .",
        "five stars .",
        "a real treat .",
        "highly recommended .",
        "what a joy .",
        "i enjoyed every minute .",
    ],
    0: [
        "i hated it .",
        "a waste of time .",
        "one star .",
        "i want my money back .",
        "avoid it .",
        "what a letdown .",
        "i left early .",
    ],
}
WHEN = ["last night", "on sunday", "with friends", "at home", "yesterday", "on the train"]

# ----- animals (entailment) -------------------------------------------------------------------
ANIMALS = {
    "dog": ["beagle", "poodle", "collie", "terrier", "spaniel", "husky", "boxer", "pug"],
    "cat": ["siamese", "persian", "tabby", "manx", "sphynx", "bengal", "ragdoll", "burmese"],
    "bird": ["robin", "sparrow", "parrot", "finch", "owl", "eagle", "pigeon", "crow"],
    "fish": ["trout", "salmon", "goldfish", "carp", "pike", "perch", "tuna", "cod"],
}
KIND_OF = {item: kind for kind, items in ANIMALS.items() for item in items}
ANIMAL_DOINGS = {
    "dog": ["barked at the postman", "fetched a stick", "wagged its tail", "dug a hole", "went for a walk"],
    "cat": ["purred on the sofa", "chased a mouse", "slept in the sun", "licked its paws", "climbed the curtains"],
    "bird": ["sang at dawn", "built a nest", "flew over the roof", "pecked at seeds", "spread its wings"],
    "fish": ["swam in circles", "hid under a rock", "ate some flakes", "blew bubbles", "swam up the stream"],
}
SEE_VERBS = ["saw", "fed", "found", "drew", "painted", "watched", "photographed"]
PLACES = [
    "in the park",
    "at the market",
    "near the river",
    "by the lake",
    "in the garden",
    "at home",
    "at the zoo",
    "on the farm",
]
LOOKS = ["small", "big", "old", "young", "brown", "white", "black", "grey"]

# ----- cause and effect (multiple choice) ----------------------------------------------------
STATES = {
    "hungry": ["ate a sandwich", "cooked some pasta", "ordered a pizza"],
    "thirsty": ["drank some water", "poured a glass of juice", "bought a cold drink"],
    "tired": ["went to bed early", "took a long nap", "lay down on the sofa"],
    "cold": ["put on a warm coat", "lit the fire", "made a hot drink"],
    "hot": ["turned on the fan", "went for a swim", "opened the window"],
    "bored": ["read a book", "played a board game", "started a puzzle"],
    "sick": ["saw a doctor", "took some medicine", "stayed in bed"],
    "dirty": ["took a shower", "washed the clothes", "had a bath"],
    "late": ["ran to the bus", "took a taxi", "skipped breakfast"],
    "lonely": ["called a friend", "visited the neighbours", "wrote a letter"],
    "sad": ["cried a little", "talked to mum", "listened to some music"],
    "lost": ["looked at the map", "asked for directions", "checked the signs"],
}
BEFORE = [
    "after work",
    "after school",
    "in the morning",
    "at noon",
    "in the evening",
    "after the trip",
    "on monday",
    "at the weekend",
]


def zipf_choice(rng: random.Random, items: list, order_seed: int) -> Any:
    """One item, drawn with weight 1/rank in a fixed random order of ``items`` (a few common, most rare)."""
    order = sorted(items)
    random.Random(order_seed).shuffle(order)
    return rng.choices(order, weights=[1 / (r + 1) for r in range(len(order))])[0]


def zipf_ranking(items: list, order_seed: int) -> list:
    """The order :func:`zipf_choice` ranks ``items`` in, most frequent first."""
    order = sorted(items)
    random.Random(order_seed).shuffle(order)
    return order


# ---------------------------------------------------------------------------------------------
# The unlabelled corpus
# ---------------------------------------------------------------------------------------------


def _review(rng: random.Random) -> str:
    label = rng.randint(0, 1)
    words = POSITIVE if label else NEGATIVE
    a1, a2 = rng.sample(words, 2)
    s1, s2 = rng.sample(ASPECTS, 2)
    work = rng.choice(WORKS)
    verb = "read" if work in ("book", "novel") else ("heard" if work == "album" else "watched")
    verdict = rng.choice(VERDICTS[label])
    form = rng.randrange(4)
    if form == 0:
        return f"i {verb} the {work} {rng.choice(WHEN)} . the {s1} was {rng.choice(ADVERBS)}{a1} . {verdict}"
    if form == 1:
        return f"the {s1} was {a1} and the {s2} was {a2} . {verdict}"
    if form == 2:
        name = rng.choice(NAMES)
        return f"{name} said the {work} was {rng.choice(ADVERBS)}{a1} . {verdict}"
    return f"{verdict} the {s1} was {a1} , the {s2} {rng.choice(ADVERBS)}{a2} ."


def _animal(rng: random.Random) -> str:
    kind = rng.choice(list(ANIMALS))
    item = rng.choice(ANIMALS[kind])
    name = rng.choice(NAMES)
    doing = rng.choice(ANIMAL_DOINGS[kind])
    form = rng.randrange(4)
    if form == 0:
        return f"{name} has a {item} . the {kind} {doing} ."
    if form == 1:
        return (
            f"{name} {rng.choice(SEE_VERBS)} a {rng.choice(LOOKS)} {item} {rng.choice(PLACES)} . the {kind} {doing} ."
        )
    if form == 2:
        return f"a {item} is a kind of {kind} . it {doing} ."
    return f"the {item} {doing} . {name} loves that {kind} ."


def _story(rng: random.Random) -> str:
    state = rng.choice(list(STATES))
    action = rng.choice(STATES[state])
    name = rng.choice(NAMES)
    form = rng.randrange(3)
    if form == 0:
        return f"{name} was {state} , so {name} {action} ."
    if form == 1:
        return f"{rng.choice(BEFORE)} , {name} felt {state} . {name} {action} . then {name} felt better ."
    return f"{name} was {state} . {name} {action} ."


@lru_cache(maxsize=4)
def _corpus(n_docs: int, seed: int) -> tuple:
    rng = random.Random(seed)
    makers = [_review, _animal, _story]
    return tuple(makers[i % 3](rng) for i in range(n_docs))


def unlabelled_corpus(n_docs: int = 9000, seed: int = SEED) -> list:
    """``n_docs`` short unlabelled documents (reviews, animal stories, cause-and-effect stories in turn)."""
    return list(_corpus(n_docs, seed))


# ---------------------------------------------------------------------------------------------
# The labelled tasks
# ---------------------------------------------------------------------------------------------


def _sentiment_example(rng: random.Random):
    adjective = zipf_choice(rng, POSITIVE + NEGATIVE, SEED + 1)
    aspect = rng.choice(ASPECTS)
    text = f"the {aspect} was {rng.choice(ADVERBS)}{adjective} ."
    return text, int(adjective in POSITIVE)


def _entailment_example(rng: random.Random):
    item = zipf_choice(rng, list(KIND_OF), SEED + 2)
    name, verb = rng.choice(NAMES), rng.choice(SEE_VERBS)
    premise = f"{name} {verb} a {item} ."
    label = rng.randint(0, 1)
    kind = KIND_OF[item] if label else rng.choice([k for k in ANIMALS if k != KIND_OF[item]])
    return premise, f"{name} {verb} a {kind} .", label


def _story_ending_example(rng: random.Random, k: int = 3):
    state = zipf_choice(rng, list(STATES), SEED + 3)
    name = rng.choice(NAMES)
    others = rng.sample([s for s in STATES if s != state], k - 1)
    endings = [rng.choice(STATES[state])] + [rng.choice(STATES[s]) for s in others]
    order = list(range(k))
    rng.shuffle(order)
    answers = [f"{name} {endings[i]} ." for i in order]
    return f"{name} was {state} .", answers, order.index(0)


_MAKERS = {"sentiment": _sentiment_example, "entailment": _entailment_example, "story_ending": _story_ending_example}
#: The kind of each task, as :func:`gptcourse.ch04_gpt1.encode_task` expects it.
TASK_KIND = {"sentiment": "classification", "entailment": "entailment", "story_ending": "multiple_choice"}


def _key(example) -> str:
    return repr(example[:-1])


@lru_cache(maxsize=16)
def _task(name: str, n_test: int, n_pool: int, seed: int):
    make = _MAKERS[name]
    rng = random.Random(f"{name}-{seed}")
    test = [make(rng) for _ in range(n_test)]
    seen = {_key(ex) for ex in test}
    pool = []
    while len(pool) < n_pool:
        ex = make(rng)
        if _key(ex) not in seen:
            pool.append(ex)
    return tuple(pool), tuple(test)


def labelled_task(name: str, n_test: int = 400, n_pool: int = 512, seed: int = SEED) -> tuple[list[tuple], list[tuple]]:
    """(pool, test) of the task ``name`` ('sentiment', 'entailment' or 'story_ending').

    The pool is where training examples come from (take the first N, or a seeded sample, for a
    label budget of N); no pool example equals a test example.
    """
    if name not in _MAKERS:
        raise ValueError(f"unknown task {name!r}: choose one of {sorted(_MAKERS)}")
    pool, test = _task(name, n_test, n_pool, seed)
    return list(pool), list(test)
