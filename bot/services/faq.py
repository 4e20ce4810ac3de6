"""FAQ answers for #pallets-eco: loading `bot/data/faq.toml` and matching messages to topics.

The matcher is deliberately simple and local: normalised word sets, precompiled at load time,
checked against concept groups that maintainers edit in TOML. Precision matters more than
recall: a bot that answers ordinary chat is worse than one that misses a question.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "FaqBook",
    "FaqError",
    "FaqLink",
    "FaqTopic",
    "Match",
    "is_question_like",
    "load_faq",
    "normalise",
    "topic_embed",
]

MAX_ANSWER = 4096  # Discord embed description limit
MAX_TITLE = 100  # autocomplete choice names are limited to 100 characters
MAX_LABEL = 80  # link button label limit
MAX_LINKS = 5  # one action row of link buttons
MAX_RAW = 4000  # longest message Discord delivers
MAX_PROCESSED = 1000  # FAQ questions are short: longer prose is an essay or a paste, never matched
MAX_LINES = 12  # pasted logs and configs are not FAQ questions
MAX_KEYWORD_SETS = 8  # `keywords` plus at most 7 `also_keywords` sets per topic: the listener tries each
TERSE_WORDS = 4  # a question this short may have no English function word at all
FUZZY_MIN = 6  # single-word terms this long also match a message word one typo away ("trnasfer", "contibute")
MAX_TYPO_WORDS = 16  # unknown long words per message that get typo keys (FAQ questions have a few)
MAX_FILE_BYTES = 256 * 1024  # the shipped FAQ is ~19 KB; a bigger file is a mistake (or an attack on start-up)

AUTOMATIC_FOOTER = 'Automatic answer. Not what you asked? Press "Not helpful".'
# Discord's embed limits (API docs, Message resource, "Embed Limits"): checked on every rendered topic at
# load, so a custom FAQ can't pass validation and then have every answer refused with 400.
EMBED_LIMITS = {"title": 256, "description": 4096, "field name": 256, "field value": 1024,
                "footer": 2048, "fields": 25, "total": 6000}

_ID_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_URL_OK = re.compile(r"https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}(?:[/?#]\S*)?")
_FORBIDDEN_IN_ANSWER = ("@everyone", "@here", "<@")

_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_ISSUE_URL = re.compile(r"https?://github\.com/\S+?/issues/\d+\S*", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_DISCORD_TOKENS = re.compile(r"<a?:\w+:\d+>|<(?:@[!&]?|#)\d+>|<t:\d+(?::\w)?>|@everyone|@here")
_MASS_MENTION = re.compile(r"@everyone|@here|<@&\d+>")
_LINE_BREAK = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# Keeps "\n": lines matter to matching. Apostrophes vanish so "don't" and "dont" are one word.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_DROP_APOSTROPHES = str.maketrans("", "", "'\u2018\u2019\u02bc")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_WORD = re.compile(r"[^\W_]+")

# First words (after greetings) that make a sentence a question even without "?".
_INTERROGATIVES = frozenset(
    "how hows what whats where wheres who whos whom why when which can could would should is are am "
    "do does did will may might has have any anyone anybody shall isnt cant please".split()
)
_FILLERS = frozenset(
    "hi hey hello heya yo all everyone folks guys people there so ok okay um hmm quick question q "
    "sorry btw also and but well good morning evening".split()
)
# Request phrasings that are questions in all but punctuation.
_CUES = tuple(
    f" {cue} "
    for cue in (
        "i want to, i wanna, id like to, would like to, wed like to, we want to, want to, looking for, "
        "looking to, wondering, not sure how, no idea how, dont know how, is it possible, how to, how do, "
        "how can, how would, help me, any idea, any ideas, anyone know, anybody know, what do i, "
        "what should i, can i, could i, can someone, can anyone, who do i, where do i, is there"
    ).split(", ")
)
# A crude language check: FAQ answers are English, so are the questions we may answer.
# Words too common to suggest a topic by themselves ("did you mean"): question words, fillers, small words.
_EVERYDAY_EXTRA = "help with about do get i can could would should my our your it this that one".split()
_ENGLISH = frozenset(
    "the a an i my is are to does can how what it of for in on we you this that be with any there "
    "im id and or where who should would could me your our if have has not get will about from at "
    "so just still need want like".split()
)
_FOREIGN = frozenset(
    "el la los las de que y en es por para con una un como mi puedo alguien sabe si del se lo le les "
    "des du et est qui une pour dans je mon ma comment avec sur pas ce sait der die das und ist ich "
    "wie kann meine mein zu mit nicht ein eine auf os da dos com um uma eu meu il di che sono het "
    "een ik hoe mijn van faco".split()
)


_EVERYDAY = _INTERROGATIVES | _FILLERS | _ENGLISH | frozenset(_EVERYDAY_EXTRA)


class FaqError(Exception):
    """The FAQ file is missing or invalid; the message names the file, topic and key."""


@dataclass(frozen=True)
class FaqLink:
    label: str
    url: str


@dataclass(frozen=True)
class FaqTopic:
    id: str
    title: str
    answer: str
    links: tuple[FaqLink, ...]
    triggers: tuple[str, ...]
    keywords: tuple[tuple[str, ...], ...] = ()
    exclude: tuple[str, ...] = ()
    also_keywords: tuple[tuple[tuple[str, ...], ...], ...] = ()


@dataclass(frozen=True)
class Match:
    topic: FaqTopic
    score: float  # 1.0 for a trigger phrase, 0.8 when every keyword group matched
    reason: str


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _typo_keys(word: str) -> set[str]:
    """`word` and every way of deleting one letter from it: two words one typo apart (a letter missing,
    added, changed, or two letters swapped) always share a key. Used for long words only."""
    keys = _deletions(word)
    keys.add(word)
    return keys


@dataclass(slots=True)
class _Words:
    padded: str  # " word word word " so phrases match on whole words with `in`
    words: frozenset[str]
    _typos: frozenset[str] | None = None
    # Set by FaqBook.match: every word its terms know exactly, and every typo key of their long words.
    vocabulary: frozenset[str] = frozenset()
    book_keys: frozenset[str] = frozenset()
    longest: int = 0  # the longest fuzzy term: a word 2+ letters longer can't be one typo away

    @property
    def typos(self) -> frozenset[str]:
        """Typo keys of the message's long words that no term knows exactly (a typo is never a known word),
        kept only when some term has the same key: built once, and only when a fuzzy term is tried.
        Empty for almost every message, so the fuzzy step costs nothing after that."""
        if self._typos is None:
            keys: set[str] = set()
            budget = MAX_TYPO_WORDS
            for word in self.words - self.vocabulary:
                if FUZZY_MIN - 1 <= len(word) <= self.longest + 1:
                    keys |= _typo_keys(word)
                    budget -= 1
                    if not budget:
                        break
            self._typos = self.book_keys.intersection(keys)
        return self._typos


@dataclass(frozen=True, slots=True)
class _Text:
    """A message reduced to what matching needs."""

    whole: _Words
    # Keyword groups must meet on one line: separate lines are separate thoughts.
    lines: tuple[_Words, ...]


def _clean(text: str) -> str:
    # Each pass is skipped when its marker character is absent: most chat has none of them.
    text = text[:MAX_RAW]
    if "`" in text:
        text = _INLINE_CODE.sub(" ", _CODE_BLOCK.sub(" ", text))
    if "://" in text or "www." in text:
        text = _URL.sub(" ", _ISSUE_URL.sub(" issue ", text))
    if "<" in text or "@" in text:
        text = _DISCORD_TOKENS.sub(" ", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text))
    return text


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold().translate(_DROP_APOSTROPHES))


def normalise(text: str) -> str:
    """Words of `text` as the matcher sees them, space-separated (used for terms and triggers)."""
    return " ".join(_words(_CONTROL.sub(" ", _clean(text)[:MAX_PROCESSED])))


def _mostly_foreign(text: str, words: list[str]) -> bool:
    if not text.isascii():
        letters = [c for c in text if c.isalpha()]
        if letters and sum(not c.isascii() for c in letters) > 0.15 * len(letters):
            return True
    english = len(_ENGLISH.intersection(words))
    foreign = len(_FOREIGN.intersection(words))
    if english == 0:
        # A terse ASCII question ("coc link?", "easy first tasks?") has no small English words to go by:
        # it counts as English unless a word is on the foreign list.
        return not (text.isascii() and len(words) <= TERSE_WORDS and foreign == 0)
    return foreign >= 2 and foreign >= english


def _question_like(has_mark: bool, words: list[str], padded: str) -> bool:
    if has_mark:
        return True
    first = next((w for w in words if w not in _FILLERS), "")
    return first in _INTERROGATIVES or any(cue in padded for cue in _CUES)


def _prepare(text: str) -> _Text | None:
    """Normalise a message, or None unless it is an English question worth answering."""
    if len(text) < 6 or _MASS_MENTION.search(text, 0, MAX_RAW):
        return None  # too short, or an announcement / spam aimed at many people
    if "Traceback (most recent call last)" in text:
        return None
    cleaned = _clean(text)
    if len(cleaned) > MAX_PROCESSED:
        return None
    if "\r" in cleaned or not cleaned.isascii():
        cleaned = _LINE_BREAK.sub("\n", cleaned)
    if cleaned.count("\n") > MAX_LINES:
        return None
    cleaned = _CONTROL.sub(" ", cleaned)
    lines = [_words(line) for line in cleaned.split("\n")]
    words = [word for line in lines for word in line]
    if len(words) < 2:
        return None
    padded = f" {' '.join(words)} "
    if not _question_like("?" in cleaned or "\uff1f" in cleaned, words, padded):
        return None
    if _mostly_foreign(cleaned, words):
        return None
    whole = _Words(padded, frozenset(words))
    if len(lines) == 1:
        return _Text(whole, (whole,))
    per_line = tuple(_Words(f" {' '.join(line)} ", frozenset(line)) for line in lines if line)
    return _Text(whole, per_line)


def is_question_like(text: str) -> bool:
    """True for English messages phrased as a question or a request ("I'd like to ...")."""
    return _prepare(text) is not None


@dataclass(frozen=True, slots=True)
class _Terms:
    """A compiled list of terms: whole words, phrases and word prefixes."""

    words: frozenset[str]
    # Phrases (" word word ") by their first word: only phrases whose first word is in the message are
    # searched for, so a long list costs one set intersection for most messages.
    phrases: dict[str, tuple[str, ...]]
    firsts: frozenset[str]  # the phrases' first words
    prefixes: re.Pattern[str] | None  # " (prefix...)" over the padded text: one search for all prefixes
    # Typo key -> the term it stands for (single words of FUZZY_MIN letters or more).
    fuzzy: dict[str, str] | None = None
    fuzzy_keys: frozenset[str] = frozenset()  # set & set walks the smaller one; set & dict walks the dict

    def find(self, text: _Words) -> str | None:
        if not self.words.isdisjoint(text.words):
            return min(self.words & text.words)
        if not self.firsts.isdisjoint(text.words):
            for first in self.firsts & text.words:
                for phrase in self.phrases[first]:
                    if phrase in text.padded:
                        return phrase.strip()
        if self.prefixes is not None:
            found = self.prefixes.search(text.padded)
            if found:
                return found[1]
        if self.fuzzy is not None:
            typos = text.typos
            if typos:
                near = typos & self.fuzzy_keys
                if near:
                    return f"~{self.fuzzy[min(near)]}"
        return None


@dataclass(frozen=True, slots=True)
class _Compiled:
    topic: FaqTopic
    triggers: _Terms
    groups: tuple[_Terms, ...]
    exclude: _Terms | None
    alternatives: tuple[tuple[_Terms, ...], ...] = ()

    def match(self, text: _Text, trigger: str | None) -> Match | None:
        """`trigger`: this topic's trigger found in the message (FaqBook looks for every topic's at once)."""
        if self.exclude is not None and self.exclude.find(text.whole) is not None:
            return None
        if trigger is None and self.triggers.prefixes is not None:
            trigger = self.triggers.find(text.whole)
        if trigger is not None:
            return Match(self.topic, 1.0, f"trigger {trigger!r}")
        for groups in (self.groups, *self.alternatives):
            if not groups:
                continue
            for line in text.lines:
                found = []
                for group in groups:
                    term = group.find(line)
                    if term is None:
                        break
                    found.append(term)
                else:
                    return Match(self.topic, 0.8, "keywords " + " + ".join(repr(t) for t in found))
        return None


class FaqBook:
    """The loaded FAQ: lookup by id, autocomplete search, and the message matcher."""

    def __init__(self, topics: tuple[FaqTopic, ...], compiled: tuple[_Compiled, ...]) -> None:
        self.topics = topics
        self._by_id = {topic.id: topic for topic in topics}
        self._compiled = compiled
        vocabulary: set[str] = set()
        keys: set[str] = set()
        for entry in compiled:
            for terms in (entry.triggers, entry.exclude, *entry.groups, *(g for s in entry.alternatives for g in s)):
                if terms is not None:
                    vocabulary |= terms.words
                    keys.update(terms.fuzzy or ())
        self._vocabulary = frozenset(vocabulary)
        self._fuzzy_keys = frozenset(keys)
        self._longest = max((len(key) for key in keys), default=0)  # a term itself is one of its keys
        # Every topic's trigger words and phrases in one index (topics in file order), searched once per message.
        trigger_words: dict[str, list[int]] = {}
        trigger_phrases: dict[str, list[tuple[str, int]]] = {}
        for index, entry in enumerate(compiled):
            for word in sorted(entry.triggers.words):
                trigger_words.setdefault(word, []).append(index)
            for first, phrases in entry.triggers.phrases.items():
                trigger_phrases.setdefault(first, []).extend((phrase, index) for phrase in phrases)
        self._trigger_words = trigger_words
        self._trigger_phrases = trigger_phrases
        self._trigger_firsts = frozenset(trigger_phrases) | frozenset(trigger_words)

    def _triggers(self, text: _Words) -> dict[int, str]:
        """Topic index -> a trigger of that topic found in the message."""
        found: dict[int, str] = {}
        if self._trigger_firsts.isdisjoint(text.words):
            return found
        for word in self._trigger_firsts & text.words:
            for index in self._trigger_words.get(word, ()):
                if index not in found or word < found[index]:
                    found[index] = word
            for phrase, index in self._trigger_phrases.get(word, ()):
                if index not in found and phrase in text.padded:
                    found[index] = phrase.strip()
        return found

    def get(self, topic_id: str) -> FaqTopic | None:
        return self._by_id.get(topic_id)

    def search(self, query: str, limit: int = 25) -> list[FaqTopic]:
        """Topics for autocomplete: id prefix first, then titles holding every word, then any word."""
        limit = max(0, min(limit, 25))
        query = query.casefold().strip()
        if not query:
            return list(self.topics[:limit])
        words = query.split()
        ranked: list[tuple[int, int, FaqTopic]] = []
        for index, topic in enumerate(self.topics):
            haystack = f"{topic.id} {topic.title.casefold()} {' '.join(topic.triggers)}"
            if topic.id.startswith(query):
                ranked.append((0, index, topic))
            elif all(w in haystack for w in words):
                ranked.append((1, index, topic))
            elif any(w in haystack for w in words if len(w) > 2):
                ranked.append((2, index, topic))
        ranked.sort(key=lambda item: item[:2])
        return [topic for _, _, topic in ranked[:limit]]

    def suggest(self, text: str, limit: int = 3) -> list[Match]:
        """Topics the message nearly matches, for a "did you mean" offer when the bot was asked directly and
        `match` found nothing: every group but one of a keyword set matched, with at least one word that
        is not an everyday one ("how", "the", "help"). Best first, then in file order; at most `limit`."""
        prepared = _prepare(text)
        if prepared is None or self.match(text) is not None:
            return []
        whole = prepared.whole
        whole.vocabulary, whole.book_keys, whole.longest = self._vocabulary, self._fuzzy_keys, self._longest
        ranked: list[tuple[float, int, Match]] = []
        for index, entry in enumerate(self._compiled):
            if entry.exclude is not None and entry.exclude.find(whole) is not None:
                continue
            best: tuple[float, list[str]] | None = None
            for groups in (entry.groups, *entry.alternatives):
                if len(groups) < 2:
                    continue
                found = [term for term in (group.find(whole) for group in groups) if term is not None]
                telling = [t for t in found if not set(t.lstrip("~").split()) <= _EVERYDAY]
                if len(found) >= len(groups) - 1 and telling:
                    score = len(found) / len(groups)
                    if best is None or score > best[0]:
                        best = (score, found)
            if best is not None:
                reason = "partly: " + " + ".join(repr(t) for t in best[1])
                ranked.append((-best[0], index, Match(entry.topic, round(0.5 * best[0], 2), reason)))
        ranked.sort(key=lambda item: item[:2])
        return [match for _, _, match in ranked[: max(0, limit)]]

    def match(self, text: str) -> Match | None:
        """The topic answering `text`, or None unless the message is clearly that question.

        Topics are tried in file order and the first match wins.
        """
        prepared = _prepare(text)
        if prepared is None:
            return None
        for words in {id(w): w for w in (prepared.whole, *prepared.lines)}.values():
            words.vocabulary = self._vocabulary
            words.book_keys = self._fuzzy_keys
            words.longest = self._longest
        triggers = self._triggers(prepared.whole)
        for index, compiled in enumerate(self._compiled):
            found = compiled.match(prepared, triggers.get(index))
            if found is not None:
                return found
        return None


# ---------------------------------------------------------------------------- rendering


def links_markdown(topic: FaqTopic) -> str:
    return "\n".join(f"[{link.label}]({link.url})" for link in topic.links)


def topic_embed(topic: FaqTopic, *, automatic: bool) -> dict[str, Any]:
    """The answer as a Discord embed object (the cog adds the colour): one rendering for posting and for
    the limit check at load."""
    embed: dict[str, Any] = {"type": "rich", "title": topic.title, "description": topic.answer}
    if topic.links:
        embed["fields"] = [{"name": "Links", "value": links_markdown(topic), "inline": True}]
    if automatic:
        embed["footer"] = {"text": AUTOMATIC_FOOTER}
    return embed


def embed_problems(embed: dict[str, Any]) -> list[str]:
    """Every Discord embed limit the embed breaks, as readable phrases."""
    problems = []

    def check(what: str, text: str | None) -> int:
        size = len(text or "")
        if size > EMBED_LIMITS[what]:
            problems.append(f"{what} is {size} characters, Discord allows {EMBED_LIMITS[what]}")
        return size

    total = check("title", embed.get("title")) + check("description", embed.get("description"))
    fields = embed.get("fields") or []
    if len(fields) > EMBED_LIMITS["fields"]:
        problems.append(f"{len(fields)} fields, Discord allows {EMBED_LIMITS['fields']}")
    for field in fields:
        before = len(problems)
        total += check("field name", field.get("name")) + check("field value", field.get("value"))
        problems[before:] = [f"{field.get('name')!r} {p.removeprefix('field ')}" for p in problems[before:]]
    total += check("footer", (embed.get("footer") or {}).get("text"))
    if total > EMBED_LIMITS["total"]:
        problems.append(f"all text together is {total} characters, Discord allows {EMBED_LIMITS['total']}")
    return problems


# ---------------------------------------------------------------------------- loading


def load_faq(path: Path) -> FaqBook:
    """Load and validate the FAQ file; any problem raises FaqError with one clear line."""
    name = path.name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FaqError(f"{path}: {size:,} bytes, at most {MAX_FILE_BYTES:,} allowed")
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)  # the file may grow between stat and read
        if len(raw) > MAX_FILE_BYTES:
            raise FaqError(f"{path}: more than {MAX_FILE_BYTES:,} bytes")
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise FaqError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqError(f"{path}: cannot read: {_one_line(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FaqError(f"{name}: invalid TOML: {_one_line(exc)}") from None
    except RecursionError:
        raise FaqError(f"{name}: invalid TOML: arrays or tables nested too deeply") from None
    _check_keys(data, required={"topic"}, optional={"concepts"}, where=name)
    concepts = _load_concepts(data.get("concepts", {}), name)
    raw_topics = data["topic"]
    if not isinstance(raw_topics, list) or not raw_topics:
        raise FaqError(f"{name}: 'topic' must be one or more [[topic]] tables")
    topics: list[FaqTopic] = []
    compiled: list[_Compiled] = []
    seen: set[str] = set()
    for number, raw in enumerate(raw_topics, start=1):
        topic, entry = _load_topic(raw, number, concepts, name)
        if topic.id in seen:
            raise FaqError(f"{name}: topic #{number}: duplicate id {topic.id!r}")
        seen.add(topic.id)
        for automatic in (True, False):
            problems = embed_problems(topic_embed(topic, automatic=automatic))
            if problems:
                raise FaqError(f"{name}: topic {topic.id!r}: the answer as posted breaks Discord's embed limits: "
                               f"{'; '.join(problems)}")
        topics.append(topic)
        compiled.append(entry)
    return FaqBook(tuple(topics), tuple(compiled))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def _check_keys(table: Any, *, required: set[str], optional: set[str], where: str) -> None:
    if not isinstance(table, dict):
        raise FaqError(f"{where}: expected a table")
    unknown = sorted(set(table) - required - optional)
    if unknown:
        raise FaqError(f"{where}: unknown key {unknown[0]!r}")
    missing = sorted(required - set(table))
    if missing:
        raise FaqError(f"{where}: missing key {missing[0]!r}")


def _string_list(value: Any, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise FaqError(f"{where}: must be a list of strings")
    if not value and not allow_empty:
        raise FaqError(f"{where}: must not be empty")
    return tuple(value)


def _load_concepts(raw: Any, name: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise FaqError(f"{name}: 'concepts' must be a table")
    return {key: _string_list(value, f"{name}: concepts.{key}") for key, value in raw.items()}


def _load_topic(raw: Any, number: int, concepts: dict[str, tuple[str, ...]], name: str) -> tuple[FaqTopic, _Compiled]:
    # Name the topic by id in errors as soon as one is readable: that is what maintainers search for.
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    label = repr(raw_id) if isinstance(raw_id, str) and _ID_RE.fullmatch(raw_id) else f"#{number}"
    where = f"{name}: topic {label}"
    _check_keys(
        raw,
        required={"id", "title", "answer", "links", "triggers"},
        optional={"keywords", "exclude", "also_keywords"},
        where=where,
    )
    topic_id = raw["id"]
    if not isinstance(topic_id, str) or len(topic_id) > 50 or not _ID_RE.fullmatch(topic_id):
        raise FaqError(f"{where}: key 'id': {topic_id!r} is not kebab-case (a-z, 0-9, '-'; max 50)")
    title = _text(raw["title"], f"{where}: key 'title'", MAX_TITLE)
    answer = _text(raw["answer"], f"{where}: key 'answer'", MAX_ANSWER).strip()
    for bad in _FORBIDDEN_IN_ANSWER:
        if bad in answer:
            raise FaqError(f"{where}: key 'answer': must not contain {bad!r} (it would ping people)")
    links = _load_links(raw["links"], f"{where}: key 'links'")
    triggers = _string_list(raw["triggers"], f"{where}: key 'triggers'")
    keywords_raw = raw.get("keywords", [])
    if not isinstance(keywords_raw, list) or len(keywords_raw) == 1:
        raise FaqError(f"{where}: key 'keywords': must be a list of at least two groups")
    keywords = tuple(
        _string_list(group, f"{where}: key 'keywords' group {i}") for i, group in enumerate(keywords_raw, start=1)
    )
    exclude = _string_list(raw.get("exclude", []), f"{where}: key 'exclude'", allow_empty=True)
    also_raw = raw.get("also_keywords", [])
    if not isinstance(also_raw, list) or len(also_raw) + 1 > MAX_KEYWORD_SETS:
        raise FaqError(f"{where}: key 'also_keywords': must be a list of at most {MAX_KEYWORD_SETS - 1} keyword sets")
    also: list[tuple[tuple[str, ...], ...]] = []
    for n, groups in enumerate(also_raw, start=1):
        here = f"{where}: key 'also_keywords' set {n}"
        if not isinstance(groups, list) or len(groups) < 2:
            raise FaqError(f"{here}: must be a list of at least two groups")
        also.append(tuple(_string_list(g, f"{here} group {i}") for i, g in enumerate(groups, start=1)))
    topic = FaqTopic(topic_id, title, answer, links, triggers, keywords, exclude, tuple(also))
    entry = _Compiled(
        topic,
        _compile(triggers, {}, f"{where}: key 'triggers'"),
        tuple(_compile(g, concepts, f"{where}: key 'keywords'", fuzzy=True) for g in keywords),
        _compile(exclude, concepts, f"{where}: key 'exclude'") if exclude else None,
        tuple(
            tuple(_compile(g, concepts, f"{where}: key 'also_keywords'", fuzzy=True) for g in groups)
            for groups in also
        ),
    )
    return topic, entry


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FaqError(f"{where}: must be a non-empty string")
    if len(value) > limit:
        raise FaqError(f"{where}: {len(value)} characters, at most {limit} allowed")
    return value


def _load_links(raw: Any, where: str) -> tuple[FaqLink, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_LINKS:
        raise FaqError(f"{where}: must be a list of at most {MAX_LINKS} links")
    links = []
    for i, item in enumerate(raw, start=1):
        _check_keys(item, required={"label", "url"}, optional=set(), where=f"{where}[{i}]")
        label = _text(item["label"], f"{where}[{i}] label", MAX_LABEL)
        url = item["url"]
        if not isinstance(url, str) or not _URL_OK.fullmatch(url):
            raise FaqError(f"{where}[{i}] url: {url!r} is not an https:// URL")
        links.append(FaqLink(label, url))
    return tuple(links)


def _compile(
    terms: tuple[str, ...], concepts: dict[str, tuple[str, ...]], where: str, *, fuzzy: bool = False
) -> _Terms:
    """Keyword groups (fuzzy=True) also match long words one typo away; triggers and excludes never do."""
    words: set[str] = set()
    phrases: dict[str, list[str]] = {}
    prefixes: list[str] = []
    for term in _expand(terms, concepts, where):
        prefix = term.endswith("*")
        normal = normalise(term.rstrip("*"))
        if not normal:
            raise FaqError(f"{where}: term {term!r} has no words")
        if prefix:
            if " " in normal:
                raise FaqError(f"{where}: prefix term {term!r} must be a single word")
            prefixes.append(normal)
        elif " " in normal:
            phrases.setdefault(normal.split(" ", 1)[0], []).append(f" {normal} ")
        else:
            words.add(normal)
    near: dict[str, str] = {}
    if fuzzy:
        for word in sorted(words):
            if len(word) >= FUZZY_MIN:
                for key in _typo_keys(word):
                    near.setdefault(key, word)
    prefix_re = re.compile(" ((?:" + "|".join(map(re.escape, prefixes)) + ")[^ ]*)") if prefixes else None
    return _Terms(
        frozenset(words), {first: tuple(p) for first, p in phrases.items()}, frozenset(phrases), prefix_re,
        near or None, frozenset(near),
    )


def _expand(terms: tuple[str, ...], concepts: dict[str, tuple[str, ...]], where: str) -> list[str]:
    expanded: list[str] = []
    for term in terms:
        if term.startswith("@"):
            if term[1:] not in concepts:
                raise FaqError(f"{where}: unknown concept {term!r}")
            expanded.extend(concepts[term[1:]])
        else:
            expanded.append(term)
    return expanded
