"""Mini-WebText: a small, deterministic web of documents in which tasks occur naturally.

GPT-2 (Radford et al. 2019) was trained on WebText, the text of 8 million web pages, and nothing
else. Its Table 1 shows why that can teach tasks: English-French pairs simply *occur* in web text
("... like they say in French: Je ne suis pas un imbecile [I'm not a fool]"). This module
generates a miniature of that situation from templates and a seeded random generator (nothing is
downloaded). Every document belongs to one of seven domains:

``review``
    a review of a film, a book, a restaurant or a hotel that ends with a verdict
    (``... overall , it was great .``, ``one star .``).
``encyclopedia``
    an article about a (fictional) town: its country, its river, what it is known for.
``qa``
    the odd question-and-answer page about some of those towns (``Q: which country is velmor in ?
    A: dorune .``).
``lesson``
    a language-learning page that says what a word means in the toy language *Lumic*
    (``in lumic , the word for bread is pazo .``).
``wordlist``
    a glossary of Lumic words, one ``english = lumic`` pair a line, for some of the words.
``story``
    a short story; its last word is the name of a pet introduced much earlier (the owner's or
    the one a friend has), as in LAMBADA.
``news``
    a local news item followed by ``TL;DR:`` and a one-line summary, as on Reddit.

The held-out evaluation sets (:func:`evaluation_sets`) are drawn with other seeds and are never
in the training text: the stories, reviews and news items are new; the QA questions ask about
towns that no Q/A page covers (the facts are only in encyclopedia articles); the translation
queries ask for words that no glossary lists (they only occur in lesson sentences); and the
sentiment prompt ends with a phrase, ``... to sum up , the <thing> was``, that no training
document contains. ``tests/test_mini_webtext.py`` checks all of this.

All words are lower case and punctuation is a separate word, so the text splits on spaces; the
markers ``Q:``, ``A:`` and ``TL;DR:`` are written as on the web. Documents are joined with
:data:`EOT` (``<|endoftext|>``), as GPT-2 joins its documents.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

SEED = 2019
EOT = "<|endoftext|>"  # the document separator, as in GPT-2
BLANK = "___"  # the gap in a cloze item

# ---------------------------------------------------------------------------------------------
# 1. The world the documents talk about
# ---------------------------------------------------------------------------------------------

COUNTRIES = ["aldoria", "bresk", "calvany", "dorune", "estmark", "felland"]
RIVERS = ["osk", "lune", "tamber", "rill", "varn", "esse", "morrow", "kell"]
PRODUCTS = ["salt", "wool", "glass", "cheese", "paper", "rope", "honey", "timber", "silver", "pottery"]
_TOWN_HEADS = [
    "vel",
    "tar",
    "os",
    "bran",
    "cor",
    "dun",
    "fal",
    "gor",
    "hal",
    "kel",
    "lor",
    "mar",
    "nor",
    "pel",
    "ros",
    "sel",
    "tor",
    "var",
    "wen",
    "yar",
]
_TOWN_TAILS = ["mor", "vik", "by", "dale", "ford", "holm", "ton", "wick", "stead", "gate"]
N_TOWNS = 60  # half of them have Q/A pages; questions about the other half are the QA test

PEOPLE = [
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
    "rosa",
    "hugo",
    "emma",
    "finn",
    "tara",
    "jon",
    "lena",
    "ravi",
]
PET_NAMES = [
    "rufus",
    "bella",
    "pip",
    "milo",
    "luna",
    "oscar",
    "daisy",
    "biscuit",
    "shadow",
    "pepper",
    "coco",
    "ziggy",
    "bramble",
    "nutmeg",
    "pickle",
    "socks",
]
ANIMALS = ["dog", "cat", "horse", "goat", "parrot", "rabbit"]

#: English words the Lumic lessons teach (a third of them never appear in a glossary).
ENGLISH_WORDS = [
    "house",
    "tree",
    "water",
    "bread",
    "fire",
    "stone",
    "sun",
    "moon",
    "bird",
    "fish",
    "road",
    "door",
    "hand",
    "eye",
    "milk",
    "apple",
    "star",
    "rain",
    "snow",
    "wind",
    "boat",
    "bed",
    "cup",
    "book",
    "song",
    "child",
    "friend",
    "king",
    "horse",
    "cat",
    "dog",
    "salt",
    "river",
    "mountain",
    "forest",
    "flower",
    "egg",
    "ship",
    "key",
    "window",
    "table",
    "chair",
    "shoe",
    "hat",
    "coat",
    "bell",
    "candle",
    "cloud",
    "sea",
    "island",
    "wolf",
    "bear",
    "mouse",
    "goat",
    "honey",
    "cheese",
    "knife",
    "ring",
    "gold",
    "iron",
    "sword",
    "field",
    "garden",
    "bridge",
    "tower",
    "village",
    "market",
    "school",
    "letter",
    "clock",
    "lamp",
    "basket",
    "rope",
    "wheel",
    "feather",
    "leaf",
    "root",
    "seed",
    "grass",
    "sand",
]
_LUMIC_CONSONANTS = "bdfgklmnprstvz"
_LUMIC_VOWELS = "aeiou"

# ----- reviews -------------------------------------------------------------------------------
POSITIVE = [
    "good",
    "great",
    "wonderful",
    "superb",
    "lovely",
    "excellent",
    "brilliant",
    "charming",
    "delightful",
    "fine",
]
NEGATIVE = ["bad", "terrible", "awful", "dull", "dreadful", "bland", "poor", "boring", "clumsy", "weak"]
THINGS = {  # what is reviewed -> the aspects a review talks about
    "film": ["story", "acting", "music", "ending", "camera work", "cast"],
    "book": ["story", "plot", "ending", "writing", "characters", "cover"],
    "restaurant": ["food", "service", "soup", "bread", "wine", "staff"],
    "hotel": ["room", "bed", "staff", "breakfast", "view", "service"],
}
ADVERBS = ["", "", "", "really ", "quite ", "very ", "rather "]
#: How training reviews end, by sentiment (1 positive, 0 negative); ``{adj}`` is a word of that sentiment.
VERDICTS = {
    1: [
        "overall , it was {adj} .",
        "i loved it .",
        "five stars .",
        "i would go again .",
        "highly recommended .",
        "in the end , a {adj} {thing} .",
    ],
    0: [
        "overall , it was {adj} .",
        "i hated it .",
        "one star .",
        "never again .",
        "a waste of money .",
        "in the end , a {adj} {thing} .",
    ],
}
#: The held-out sentiment prompt: a review, then this phrase (it occurs in no training document);
#: the model's answer is read off its probabilities for the POSITIVE and the NEGATIVE words.
SENTIMENT_PROMPT = "to sum up , the {thing} was"

# ----- stories -------------------------------------------------------------------------------
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEATHER = ["rain", "snow", "wind", "heat", "fog"]
FOODS = ["bread", "apples", "cheese", "eggs", "fish", "honey", "milk", "soup"]
OBJECTS = ["lamp", "basket", "hat", "coat", "clock", "rope", "cup", "knife"]
NOUNS_FOR_CLOZE = ANIMALS + ["market", "river", "garden", "letter", "bridge", "kitchen"]

# ----- news ------------------------------------------------------------------------------------
EVENTS = ["fair", "festival", "market day", "boat race", "concert", "parade", "harvest feast", "horse show"]
ROLES = ["mayor", "teacher", "baker", "doctor", "judge", "captain"]


@dataclass(frozen=True)
class Town:
    """One town of the encyclopedia: its name and its three facts."""

    name: str
    country: str
    river: str
    product: str


@dataclass(frozen=True)
class World:
    """Everything the corpus states as fact, fixed by :data:`SEED`.

    ``qa_towns`` have Q/A pages in the training text; questions about ``test_towns`` are the QA
    test. ``lexicon`` maps an English word to its Lumic word; ``glossary_words`` appear in
    ``english = lumic`` glossaries, ``test_words`` only in lesson sentences.
    """

    towns: tuple
    qa_towns: tuple
    test_towns: tuple
    lexicon: dict
    glossary_words: tuple
    test_words: tuple

    def town(self, name: str) -> Town:
        return next(t for t in self.towns if t.name == name)


def _lumic_word(rng: random.Random) -> str:
    return "".join(rng.choice(_LUMIC_CONSONANTS) + rng.choice(_LUMIC_VOWELS) for _ in range(2))


@lru_cache(maxsize=1)
def world() -> World:
    """The fixed world: 60 towns with their facts, and the 80-word English-Lumic lexicon."""
    rng = random.Random(SEED)
    names = sorted({h + t for h in _TOWN_HEADS for t in _TOWN_TAILS})
    rng.shuffle(names)
    towns = tuple(Town(n, rng.choice(COUNTRIES), rng.choice(RIVERS), rng.choice(PRODUCTS)) for n in names[:N_TOWNS])
    taken = set(ENGLISH_WORDS) | set(names) | set(COUNTRIES) | set(RIVERS) | set(PET_NAMES) | set(PEOPLE)
    lexicon = {}
    for word in ENGLISH_WORDS:
        lumic = _lumic_word(rng)
        while lumic in taken:
            lumic = _lumic_word(rng)
        taken.add(lumic)
        lexicon[word] = lumic
    words = list(ENGLISH_WORDS)
    rng.shuffle(words)
    n_test_words = len(words) // 3
    return World(
        towns=towns,
        qa_towns=towns[: N_TOWNS // 2],
        test_towns=towns[N_TOWNS // 2 :],
        lexicon=lexicon,
        glossary_words=tuple(words[n_test_words:]),
        test_words=tuple(words[:n_test_words]),
    )


# ---------------------------------------------------------------------------------------------
# 2. One generator per domain (each takes a random.Random and returns plain text)
# ---------------------------------------------------------------------------------------------


def review_body(rng: random.Random, label: int, thing: str) -> str:
    """The sentences of a review of ``thing`` with sentiment ``label`` (1 positive, 0 negative), no verdict.

    Most sentences carry the review's sentiment; some reviews grant one aspect of the other sign.
    """
    own, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
    aspects = rng.sample(THINGS[thing], 3)
    opener = rng.choice(
        [
            f"we tried the {thing} last {rng.choice(DAYS)} .",
            f"i went with {rng.choice(PEOPLE)} .",
            f"this {thing} is in {rng.choice(world().towns).name} .",
            "",
        ]
    )
    sentences = [opener] if opener else []
    sentences.append(f"the {aspects[0]} was {rng.choice(ADVERBS)}{rng.choice(own)} .")
    if rng.random() < 0.3:
        sentences.append(f"only the {aspects[1]} was {rng.choice(other)} .")
    else:
        sentences.append(f"the {aspects[1]} was {rng.choice(own)} too .")
    sentences.append(
        rng.choice(
            [
                f"i found the {aspects[2]} {rng.choice(own)} .",
                f"and the {aspects[2]} ? {rng.choice(own)} .",
                f"{rng.choice(PEOPLE)} said the {aspects[2]} was {rng.choice(own)} .",
            ]
        )
    )
    return " ".join(sentences)


def review(rng: random.Random) -> str:
    """A review that ends with a verdict."""
    label, thing = rng.randint(0, 1), rng.choice(sorted(THINGS))
    verdict = rng.choice(VERDICTS[label]).format(adj=rng.choice(POSITIVE if label else NEGATIVE), thing=thing)
    return f"{thing} review : {review_body(rng, label, thing)} {verdict}"


def encyclopedia(rng: random.Random, town: Town) -> str:
    """An article about ``town``: its three facts in one of several phrasings, in a random order."""
    facts = [
        rng.choice(
            [
                f"{town.name} is a town in {town.country} .",
                f"{town.name} lies in the north of {town.country} .",
                f"the town of {town.name} is in {town.country} .",
            ]
        ),
        rng.choice(
            [
                f"it lies on the river {town.river} .",
                f"the river {town.river} flows through {town.name} .",
                f"{town.name} was built on the banks of the river {town.river} .",
            ]
        ),
        rng.choice(
            [
                f"it is known for its {town.product} .",
                f"{town.name} is famous for {town.product} .",
                f"most people in {town.name} make {town.product} .",
            ]
        ),
    ]
    rng.shuffle(facts)
    extra = rng.choice(
        [
            "it has a market every week .",
            "the winters there are long .",
            "about a thousand people live there .",
            "the old bridge is worth a visit .",
            "its school is the oldest in the region .",
            "",
        ]
    )
    return " ".join([f"{town.name} ( town ) :"] + facts + ([extra] if extra else []))


QA_TEMPLATES = [  # (question, attribute of Town)
    ("which country is {name} in ?", "country"),
    ("which river flows through {name} ?", "river"),
    ("what is {name} known for ?", "product"),
]


def qa_page(rng: random.Random) -> str:
    """A page of three or four questions and answers about towns that have Q/A pages."""
    towns = rng.sample(world().qa_towns, rng.randint(2, 3))
    lines = []
    for town in towns:
        for question, attribute in rng.sample(QA_TEMPLATES, 2):
            lines.append(f"Q: {question.format(name=town.name)} A: {getattr(town, attribute)} .")
    return "\n".join(["questions and answers about towns"] + lines[: rng.randint(3, 4)])


def lesson(rng: random.Random) -> str:
    """A language-learning page: what two or three English words are in Lumic, in varied phrasings."""
    lex = world().lexicon
    words = rng.sample(ENGLISH_WORDS, rng.randint(2, 3))
    forms = [
        "in lumic , the word for {e} is {l} .",
        "the lumic word {l} means {e} .",
        "{l} is lumic for {e} .",
        "if you want to say {e} in lumic , say {l} .",
        "a {e} is called a {l} in lumic .",
    ]
    sentences = [rng.choice(forms).format(e=w, l=lex[w]) for w in words]
    return " ".join([rng.choice(["lumic lesson :", "learn lumic :", "my lumic notes :"])] + sentences)


def wordlist(rng: random.Random) -> str:
    """A glossary of four to six ``english = lumic`` lines, only for the glossary words."""
    lex = world().lexicon
    words = rng.sample(world().glossary_words, rng.randint(4, 6))
    return "\n".join(["english to lumic :"] + [f"{w} = {lex[w]}" for w in words])


@dataclass(frozen=True)
class Story:
    """A story and the parts an evaluation needs: its text, its last word, and who is who."""

    text: str  # the whole story; it ends with ``ending``, then `` target .``
    ending: str
    target: str
    owner: str
    friend: str
    pet: str
    animal: str
    other_pet: str
    other_animal: str


def story(rng: random.Random) -> Story:
    """A LAMBADA-like story: the last word names a pet introduced several sentences earlier.

    ``owner`` has a pet ``pet`` (an ``animal``), meets ``friend``, who has ``other_pet`` (an
    ``other_animal``). The last sentence asks for one of the names, and only the earlier sentences
    say which: e.g. ``... the horse came running . ana smiled and said hello to`` -> ``rufus``.
    """
    owner, friend = rng.sample(PEOPLE, 2)
    pet, other_pet = rng.sample(PET_NAMES, 2)
    animal, other_animal = rng.sample(ANIMALS, 2)
    town = rng.choice(world().towns).name
    opening = rng.choice(
        [
            f"{owner} lived in {town} with a {animal} called {pet} .",
            f"{owner} had a {animal} named {pet} .",
            f"{pet} was a young {animal} who lived with {owner} in {town} .",
        ]
    )
    about_pet = rng.choice(
        [
            f"{owner} took {pet} for a walk by the river .",
            f"{pet} slept by the fire all morning .",
            f"{pet} was hungry , so {owner} gave the {animal} some {rng.choice(FOODS)} .",
        ]
    )
    fillers = [
        f"one {rng.choice(DAYS)} , {owner} went to the market .",
        f"there was a lot of {rng.choice(WEATHER)} that week .",
        f"{owner} bought some {rng.choice(FOODS)} and a new {rng.choice(OBJECTS)} .",
        f"the river was high after the {rng.choice(WEATHER)} .",
        "it was a long walk back .",
        "the market was full of people .",
    ]
    rng.shuffle(fillers)
    meeting = rng.choice(
        [
            f"at the market , {owner} met {friend} , who had a {other_animal} called {other_pet} .",
            f"on the way , {owner} met {friend} and a {other_animal} called {other_pet} .",
        ]
    )
    middle = [about_pet] + fillers[:1] + [meeting] + fillers[1 : 1 + rng.randint(1, 3)]
    if rng.random() < 0.6:
        target = pet
        ending = rng.choice(
            [
                f"when {owner} came home , the {animal} came running . {owner} smiled and said hello to",
                f"that evening , {owner} fed the {animal} . there was nobody {owner} loved more than",
                f"back at home , {owner} told the {animal} about the day . the {animal} was",
            ]
        )
    else:
        target = other_pet
        ending = rng.choice(
            [
                f"{friend} waved goodbye and walked home with the {other_animal} , good old",
                f"later , {owner} thought about the {other_animal} at the market . its name was",
            ]
        )
    text = " ".join([opening] + middle + [ending, target, "."])
    return Story(text, ending, target, owner, friend, pet, animal, other_pet, other_animal)


@dataclass(frozen=True)
class NewsItem:
    """A news article, its TL;DR summary, and the three facts a summary must get right."""

    article: str
    summary: str
    town: str
    event: str
    host: str


def news(rng: random.Random, distractor: bool = False) -> NewsItem:
    """A local news item and its one-line TL;DR (the town, the event and who opened it).

    ``distractor=True`` (held-out tests only; no training item has one) adds a sentence about
    last year's event, opened by someone else, somewhere among the others: a summary must not
    take its details.
    """
    town, other = rng.sample(world().towns, 2)
    event, role = rng.choice(EVENTS), rng.choice(ROLES)
    host, seller = rng.sample(PEOPLE, 2)
    sentences = [
        f"{town.name} held its {event} on {rng.choice(DAYS)} .",
        f"{host} , the {role} , opened the {event} .",
        f"about {rng.choice(['two', 'three', 'five', 'eight'])} hundred people came , some from {other.name} .",
        rng.choice(
            [
                f"the {rng.choice(WEATHER)} did not stop anyone .",
                "the weather was fine all day .",
                "the band played until late .",
            ]
        ),
        f"{seller} sold {town.product} at a stall by the river {town.river} .",
    ]
    first, rest = sentences[0], sentences[1:]
    rng.shuffle(rest)
    summary = rng.choice(
        [f"{town.name} had its {event} , opened by {host} .", f"the {role} {host} opened the {event} in {town.name} ."]
    )
    if distractor:
        last_host = rng.choice([p for p in PEOPLE if p not in (host, seller)])
        last_role = rng.choice([r for r in ROLES if r != role])
        last_event = rng.choice([e for e in EVENTS if e != event])
        rest.insert(
            rng.randrange(len(rest) + 1), f"last year , {last_host} , the {last_role} , opened the {last_event} ."
        )
    return NewsItem(" ".join([first] + rest), summary, town.name, event, host)


def news_document(item: NewsItem) -> str:
    return f"local news : {item.article}\nTL;DR: {item.summary}"


# ---------------------------------------------------------------------------------------------
# 3. The training corpus
# ---------------------------------------------------------------------------------------------

#: How often each domain occurs in the training corpus (documents per 100).
MIX = {"review": 20, "encyclopedia": 22, "qa": 6, "lesson": 14, "wordlist": 5, "story": 20, "news": 13}


@dataclass(frozen=True)
class Document:
    domain: str
    text: str


def document(rng: random.Random, domain: str) -> str:
    """One document of ``domain`` (see :data:`MIX`)."""
    if domain == "review":
        return review(rng)
    if domain == "encyclopedia":
        return encyclopedia(rng, rng.choice(world().towns))
    if domain == "qa":
        return qa_page(rng)
    if domain == "lesson":
        return lesson(rng)
    if domain == "wordlist":
        return wordlist(rng)
    if domain == "story":
        return story(rng).text
    if domain == "news":
        return news_document(news(rng))
    raise ValueError(f"unknown domain {domain!r}; the domains are {sorted(MIX)}")


@lru_cache(maxsize=2)
def _documents(n_docs: int, seed: int) -> tuple:
    rng = random.Random(seed)
    domains = rng.choices(sorted(MIX), weights=[MIX[d] for d in sorted(MIX)], k=n_docs)
    return tuple(Document(d, document(rng, d)) for d in domains)


N_TRAIN_DOCS = 12000


def training_documents(n_docs: int = N_TRAIN_DOCS, seed: int = SEED) -> list:
    """The training corpus: ``n_docs`` :class:`Document` s, the domains mixed as in :data:`MIX`."""
    return list(_documents(n_docs, seed))


def training_text(n_docs: int = N_TRAIN_DOCS, seed: int = SEED) -> str:
    """The training corpus as one string, documents joined by :data:`EOT` (what the model is trained on)."""
    return f" {EOT} ".join(d.text for d in training_documents(n_docs, seed))


def corpus_statistics(docs: Iterable[Document]) -> dict[str, tuple[int, int]]:
    """{domain: (documents, words)} for a list of documents."""
    stats = Counter(), Counter()
    for d in docs:
        stats[0][d.domain] += 1
        stats[1][d.domain] += len(d.text.split())
    return {domain: (stats[0][domain], stats[1][domain]) for domain in sorted(stats[0])}


# ---------------------------------------------------------------------------------------------
# 4. Held-out evaluation sets (other seeds; never in the training text)
# ---------------------------------------------------------------------------------------------

EVAL_SEED = SEED + 1000


@dataclass(frozen=True)
class LastWordItem:
    """LAMBADA-style: predict the last word of ``context``; ``target`` is the word (no leading space)."""

    context: str
    target: str


@dataclass(frozen=True)
class ClozeItem:
    """CBT-style: ``text`` contains :data:`BLANK` once; ``candidates[answer]`` fills it correctly."""

    text: str
    candidates: tuple
    answer: int


@dataclass(frozen=True)
class PromptTask:
    """A task asked with a prompt ``template`` (``{x}`` the input, ``{y}`` the answer, at the end).

    ``queries``: (x, candidate answers, index of the right one). ``demonstrations``: (x, y) pairs
    for few-shot prompts, drawn from what the training text states in the same format (glossary
    words, towns with Q/A pages), never a query.
    """

    name: str
    template: str
    queries: tuple
    demonstrations: tuple


def lambada_set(n: int = 80, seed: int = EVAL_SEED) -> list:
    """``n`` held-out stories, cut before their last word."""
    rng = random.Random(seed)
    items = []
    for _ in range(n):
        s = story(rng)
        context = s.text[: -len(f" {s.target} .")]
        items.append(LastWordItem(context, s.target))
    return items


def cloze_set(kind: str, n: int = 40, seed: int = EVAL_SEED + 1, n_candidates: int = 6) -> list:
    """CBT-style cloze on held-out stories, ``kind`` ``"NE"`` (a named entity) or ``"CN"`` (a common noun).

    A word of the story's last two sentences is blanked and the candidates are words of the same
    kind. NE: the last word (a pet's name), among the story's other names and names it does not
    use; the text ends at the blank. CN: the animal the ending mentions, among the story's other
    animal and other nouns; the rest of the story follows the blank and helps decide. Either way
    only the earlier sentences say which candidate is right.
    """
    if kind not in ("NE", "CN"):
        raise ValueError(f"kind must be 'NE' or 'CN', got {kind!r}")
    rng = random.Random(seed if kind == "NE" else seed + 1)
    items = []
    for _ in range(n):
        s = story(rng)
        head = s.text[: len(s.text) - len(s.ending) - len(s.target) - 4]
        used = s.text.split()
        if kind == "NE":
            answer = s.target
            own = [w for w in (s.owner, s.friend, s.pet, s.other_pet) if w != answer]
            pool = [w for w in PET_NAMES + PEOPLE if w not in used]
            tail = f"{s.ending} {BLANK}"
        else:
            answer = s.animal if s.target == s.pet else s.other_animal
            own = [s.other_animal if answer == s.animal else s.animal]
            pool = [w for w in NOUNS_FOR_CLOZE if w not in (s.animal, s.other_animal)]
            tail = f"{s.ending} {s.target} .".replace(f" {answer} ", f" {BLANK} ", 1)
        candidates = [answer] + own + rng.sample(pool, n_candidates - 1 - len(own))
        rng.shuffle(candidates)
        items.append(ClozeItem(f"{head} {tail}", tuple(candidates), candidates.index(answer)))
    return items


def sentiment_set(n: int = 80, seed: int = EVAL_SEED + 3) -> list:
    """Held-out reviews without a verdict, ending in :data:`SENTIMENT_PROMPT`: (prompt, label), 1 positive."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        label, thing = i % 2, rng.choice(sorted(THINGS))
        prompt = f"{thing} review : {review_body(rng, label, thing)} {SENTIMENT_PROMPT.format(thing=thing)}"
        items.append((prompt, label))
    return items


def translation_task(n_candidates: int = 8, seed: int = EVAL_SEED + 4) -> PromptTask:
    """English -> Lumic for the words no glossary lists, asked as ``word =`` (the glossary format)."""
    rng = random.Random(seed)
    w = world()
    queries = []
    for word in w.test_words:
        others = rng.sample([x for x in w.test_words if x != word], n_candidates - 1)
        candidates = [w.lexicon[word]] + [w.lexicon[x] for x in others]
        rng.shuffle(candidates)
        queries.append((word, tuple(candidates), candidates.index(w.lexicon[word])))
    demos = tuple((x, w.lexicon[x]) for x in w.glossary_words)
    return PromptTask("translation", "{x} = {y}", tuple(queries), demos)


def qa_task(seed: int = EVAL_SEED + 5) -> PromptTask:
    """Questions about the towns no Q/A page covers (their facts are only in encyclopedia articles).

    The candidates are every value the asked attribute can take (6 countries, 8 rivers, 10 products).
    """
    w = world()
    values = {"country": COUNTRIES, "river": RIVERS, "product": PRODUCTS}
    queries = []
    for town in w.test_towns:
        for question, attribute in QA_TEMPLATES:
            candidates = tuple(values[attribute])
            queries.append((question.format(name=town.name), candidates, candidates.index(getattr(town, attribute))))
    rng = random.Random(seed)
    demos = [(q.format(name=t.name), getattr(t, a)) for t in w.qa_towns for q, a in QA_TEMPLATES]
    rng.shuffle(demos)
    return PromptTask("qa", "Q: {x} A: {y}", tuple(queries), tuple(demos))


def tldr_set(n: int = 10, seed: int = EVAL_SEED + 6, distractor: bool = False) -> list:
    """Held-out :class:`NewsItem` s; with ``distractor``, each also tells of last year's event (never seen in training)."""
    rng = random.Random(seed + int(distractor))
    return [news(rng, distractor) for _ in range(n)]


def heldout_documents(n_docs: int = 24, seed: int = EVAL_SEED + 7) -> list:
    """Held-out documents of every domain, mixed as in training: the test set for perplexity.

    Templated text repeats itself (an encyclopedia article has only so many phrasings), so a
    new document can be word for word one the model was trained on; such documents are left out,
    as GPT-2's authors removed Wikipedia from WebText to keep their test sets unseen.
    """
    seen = training_text()
    return [d for d in _documents(2 * n_docs, seed) if d.text not in seen][:n_docs]


def evaluation_sets() -> dict:
    """Every held-out set, by name (what chapter 6 evaluates)."""
    return {
        "lambada": lambada_set(),
        "cbt_ne": cloze_set("NE"),
        "cbt_cn": cloze_set("CN"),
        "sentiment": sentiment_set(),
        "translation": translation_task(),
        "qa": qa_task(),
        "tldr": tldr_set(),
        "tldr_distractor": tldr_set(distractor=True),
        "heldout": heldout_documents(),
    }
