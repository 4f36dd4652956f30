"""The values a task writes for the inputs of its skills ("refund payment pi_3Mt..." gives
``payment_id``), read without an LLM.

The planner asks two things of it: whether the task gives an input (then no producer is planned
for it) and what the value is (a run passes it). A value counts only where reading it is safe:
right after the input is named, in the same clause, of the input's type and among its allowed
values; an allowed value the task uses; the one e-mail address (URL, date, place after "in",
currency, file, amount of money) it writes, for an input named like one, and each side of a pair
it writes (a conversion's currencies, a span's dates) for the inputs of those sides; the one
phone number for a phone or an SMS recipient; the one pair of coordinates for a latitude and a
longitude; the e-mail addresses written as one list for a list of recipients; what follows
"named" or "titled" for a name or title; the one message ("saying ...") or subject ("with
subject ...") for a message or subject input.

It also says what of a task is text for a tool to carry (``carried_texts``), which the planner
does not route (``routing_text``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from orchestrator.planning._decompose import clause_end
from orchestrator.planning._fields import DESTINATION_WORDS, ID_WORDS, FieldRef
from orchestrator.routing._text import field_tokens, identifier_words

__all__ = ["Carried", "TaskText", "carried_texts", "naming_words", "routing_text"]

# Words saying an input takes a code, which a name written in the task ("in Boston") is not:
# ``city_iata`` ("City IATA code") is named like a place but wants "BOS".
_CODE_WORDS = ID_WORDS | frozenset(field_tokens("iata icao"))
# A value written as a code: "LIS", "BOS", "CA".
_CODE = re.compile(r"[A-Z0-9]{2,4}")
# An e-mail address.
_ADDRESS = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
# A quoted value: a quote opens and closes at a word's edge, so apostrophes ("Corp's stock ...
# I've") quote nothing.
_QUOTED = r"(?<!\w)'[^']+'(?!\w)|\"[^\"]+\""
_QUOTED_VALUE = re.compile(_QUOTED)
# A value written in the task: a quoted string, a token with a digit, an e-mail address.
_LITERAL = re.compile(rf"""{_QUOTED}|\b\w*\d\w*\b|\S+@\S+""")
# What is not part of an unquoted value written in the task: punctuation at its edges, a
# possessive ("pi_3Mt's").
_EDGES = ".,;:!?()[]{}<>"
_PAIRS = {"(": ")", "[": "]", "{": "}", "<": ">"}


def _trimmed(piece: str) -> str:
    """``piece`` without the punctuation at its edges, brackets only where they are not
    closed within it: "(o-42)," gives "o-42", "rate(x[5m])." keeps its brackets."""
    while piece:
        first, last = piece[0], piece[-1]
        if last in _PAIRS.values():
            opener = next(o for o, c in _PAIRS.items() if c == last)
            if piece.count(last) > piece.count(opener):
                piece = piece[:-1]
                continue
        elif last in _EDGES:
            piece = piece[:-1]
            continue
        if first in _PAIRS and piece.count(first) > piece.count(_PAIRS[first]):
            piece = piece[1:]
            continue
        if first in _EDGES and first not in _PAIRS and first not in _PAIRS.values():
            piece = piece[1:]
            continue
        if first in _PAIRS and last == _PAIRS[first] and _encloses(piece):
            piece = piece[1:-1]  # "(o-42)": one pair around the whole value
            continue
        break
    return piece


def _encloses(piece: str) -> bool:
    """Whether the bracket opening ``piece`` is the one closing it."""
    depth = 0
    for n, char in enumerate(piece):
        depth += char == piece[0]
        depth -= char == _PAIRS[piece[0]]
        if depth == 0:
            return n == len(piece) - 1
    return False


# Where a clause ends: a value written after it is not the input's named before it.
_JOINING_WORDS = frozenset({"and", "then", "or", "but", "so", "while", "before", "after", "plus"})
_CLAUSE_ENDS = frozenset(",;.!?")
# Inputs that take a message the task writes ("saying ...") or its subject ("with subject ...").
_MESSAGE_INPUTS = frozenset(field_tokens("body text message content comment note caption msg"))
_SUBJECTS = frozenset(field_tokens("subject"))
# Coordinates written as a pair of decimal degrees, latitude first, after a word saying where:
# "at 48.85, 2.29", "coordinates (38.7,-9.1)"; not "versions 3.11, 3.12" or "the mean of 12.5,
# 14.75".
_DECIMAL_PAIR = re.compile(r"(-?\d{1,3}\.\d+)\s*,\s*(-?\d{1,3}\.\d+)(?![\w.,])")
_COORDINATES = re.compile(
    r"\b(?:at|near|around|for|coordinates|location|position|point)\s*:?\s*\(?"
    r"(-?\d{1,2}\.\d+)\s*,\s*(-?\d{1,3}\.\d+)(?![\w.,])"
)
_LATITUDES = frozenset(field_tokens("lat latitude"))
_LONGITUDES = frozenset(field_tokens("lon lng long longitude"))


def _coordinates(task: str) -> tuple[float, float] | None:
    """The one pair of coordinates ``task`` writes, when both are in range and it writes no
    other pair of decimals ("near 48.85, 2.29 and 48.86, 2.35": which one?)."""
    found = {(float(m[1]), float(m[2])) for m in _COORDINATES.finditer(task)}
    if len(found) != 1 or len(_DECIMAL_PAIR.findall(task)) != 1:
        return None
    latitude, longitude = found.pop()
    return (latitude, longitude) if abs(latitude) <= 90 and abs(longitude) <= 180 else None


# A phone number in international form ("+14155550123", "+351 912 345 678"), and the inputs
# that take one: named as a phone, or a recipient described as one.
_PHONE = re.compile(r"(?<![\w+])\+\d(?:[ -]?\d){6,14}(?![\w.])")
_PHONE_WORDS = frozenset(field_tokens("phone mobile msisdn"))
_RECIPIENT_NAMES = frozenset({"to", "recipient", "destination", "number"})
# Words of an input that is a time, which no address or URL is (``start_time``; ``remind_at``
# by its name's end, as "at" is no routing word).
_TIME_WORDS = frozenset(field_tokens("time date datetime"))
# Inputs that list e-mail addresses: ``to`` (no routing word), or by the words of their name or
# description; not the copies (``cc``, ``bcc``).
_COPIES = frozenset(field_tokens("cc bcc"))
_ADDRESS_LIST = re.compile(rf"{_ADDRESS}(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+){_ADDRESS})*")
_ADDRESS_LIST_WORDS = frozenset(
    field_tokens(
        "email emails attendee attendees recipient recipients participant participants "
        "invitee invitees guest guests"
    )
)
# "a pet named Rex": what follows one of these is a name or a title, for an input named like one.
_TITLING_WORDS = {
    "named": frozenset(field_tokens("name")),
    "called": frozenset(field_tokens("name title")),
    "titled": frozenset(field_tokens("title")),  # also "entitled" (see _title_kind)
}


class _Shape(NamedTuple):
    """A kind of value whose shape says which input it is for, when the task writes only one
    of that kind: the words naming such inputs, the words of inputs it is not for (in their
    names or descriptions), the shape (its ``value`` group is the value), words such an input
    must also hold (in its name or description), if any, and words its name must not hold."""

    words: frozenset[str]
    unless: frozenset[str]
    pattern: re.Pattern[str]
    need: frozenset[str] = frozenset()
    # Words of the input's name that say it is not for such a value (``time_zone``).
    not_named: frozenset[str] = frozenset()


# An ISO 8601 date, and a date with a time of day (seconds, fraction and zone optional).
_DATE = r"\d{4}-\d{2}-\d{2}"
_DATETIME = rf"{_DATE}[T ]\d{{2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:Z|[+-]\d{{2}}:?\d{{2}})?"
# A time zone as the IANA database names it ("Europe/Lisbon", "America/New_York"), or UTC.
_TIMEZONE = (
    r"(?:Africa|America|Antarctica|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/"
    r"[A-Za-z_]+(?:/[A-Za-z_]+)?|UTC|GMT"
)
# The ISO 4217 codes of the most traded currencies.
_CURRENCIES = (
    "USD|EUR|JPY|GBP|CNY|AUD|CAD|CHF|HKD|SGD|SEK|NOK|DKK|NZD|KRW|INR|BRL|MXN|ZAR|TRY|PLN|CZK|"
    "HUF|ILS|AED|SAR|THB|MYR|IDR|PHP|TWD|RUB|UAH|ARS|CLP|COP|PEN|EGP|NGN|KES|VND|PKR|BGN|RON"
)
# The words of an input a result is written to, and of an input that is a file.
_WRITTEN_TO = DESTINATION_WORDS | frozenset(field_tokens("target save"))
_FILE_WORDS = frozenset(field_tokens("path file filename folder directory dir"))
# A file written in the task: a name with a common extension, or an absolute path.
_EXTENSIONS = (
    "png|jpe?g|gif|webp|svg|bmp|tiff?|heic|pdf|docx?|xlsx?|pptx?|odt|csv|tsv|jsonl?|ya?ml|xml|"
    "toml|ini|cfg|txt|md|rst|html?|css|py|ipynb|js|ts|java|go|rs|rb|php|cpp|hpp|sh|sql|db|"
    "sqlite|parquet|zip|tar|gz|tgz|mp3|wav|flac|m4a|mp4|mov|avi|mkv|log"
)
_FILE = (
    rf"(?:~|\.{{1,2}})?/?(?:[\w.-]+/)*[\w-][\w.-]*\.(?:{_EXTENSIONS})"
    rf"|(?<!\S)~?/[\w.-]+(?:/[\w.-]+)*/?"
)
_SHAPES = {
    "email": _Shape(
        frozenset(field_tokens("email mail")),
        frozenset(),
        re.compile(rf"(?P<value>{_ADDRESS})"),
    ),
    "url": _Shape(
        frozenset(field_tokens("url uri link website")),
        frozenset(),
        re.compile(r"(?P<value>https?://[^\s'\"<>]+)"),
    ),
    "date": _Shape(
        frozenset(field_tokens("date")), frozenset(), re.compile(rf"\b(?P<value>{_DATE})(?![\w:])")
    ),
    # A date and time (RFC 3339: "2025-07-01T22:00Z", "2025-07-10 14:00"), for an input named
    # as a time (``start_time``, ``timestamp``), which a date alone is not.
    "datetime": _Shape(
        frozenset(field_tokens("time datetime timestamp")),
        frozenset(),
        re.compile(rf"\b(?P<value>{_DATETIME})(?![\w:])"),
        not_named=frozenset(field_tokens("zone format unit tz")),
    ),
    # A place: up to three capitalised words after "in", "at" or "near" ("in Lisbon", "near
    # Los Gatos, CA"), not a month, a day or a unit ("in January", "in Fahrenheit"); not for
    # an input taking a code ("City IATA code" wants "BOS", not "Boston").
    "place": _Shape(
        frozenset(field_tokens("address city location place town")),
        _CODE_WORDS,
        re.compile(
            r"\b(?:in|at|near)\s+(?P<value>(?!(?:January|February|March|April|May|June|July|"
            r"August|September|October|November|December|Monday|Tuesday|Wednesday|Thursday|"
            r"Friday|Saturday|Sunday|Celsius|Fahrenheit|Kelvin|UTC|GMT|JSON|XML|CSV|YAML|HTML|"
            r"PDF|Markdown|English|Spanish|French|German|Italian|Portuguese|Dutch|Chinese|"
            r"Japanese|Korean|Arabic|Russian|Hindi)\b)"
            r"[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,2}(?:,\s*[A-Z]{2}\b)?)(?![\w/])"
        ),
    ),
    # A time zone ("Europe/Lisbon", "UTC").
    "timezone": _Shape(
        frozenset(field_tokens("timezone tz zone")),
        frozenset(),
        re.compile(rf"(?<![\w/])(?P<value>{_TIMEZONE})(?![\w/]|[+\-−]\d)"),
        need=frozenset(field_tokens("time timezone tz")),  # not a DNS or availability zone
    ),
    # A currency code ("40 EUR"), among the common ones: "LAX" or "API" is not a currency.
    "currency": _Shape(
        frozenset(field_tokens("currency")),
        frozenset(),
        re.compile(rf"\b(?P<value>{_CURRENCIES})\b"),
    ),
    # A file ("photo.png", "docs/a.md", "/srv/repo"), for an input it is read from, not one
    # a result is written to ("output_path"); not one the task sends a result to (below).
    "file": _Shape(
        _FILE_WORDS,
        _WRITTEN_TO,
        re.compile(rf"(?<![\w@/:.-])(?P<value>{_FILE})(?![\w/-])", re.IGNORECASE),
    ),
    # A file the task sends a result to ("save it as out.pdf", "write them to /tmp/out.csv",
    # "clone it into /srv/app"), for a file input a result is written to (``output_path``,
    # ``destination``; not ``output_format`` or ``target_language``).
    "destination": _Shape(
        _FILE_WORDS | frozenset(field_tokens("destination dest")),
        frozenset(),
        re.compile(rf"\b(?:as|to|into)\s+['\"]?(?P<value>{_FILE})(?![\w/-])", re.IGNORECASE),
        need=_WRITTEN_TO,
    ),
}
# Two values of one kind a task writes as a pair, in order: the two currencies of a conversion
# ("100 USD to EUR", "from GBP into JPY", "USD/EUR") and the two dates or times of a span
# ("from 2025-08-04 to 2025-08-15", "between ... and ..."). The first is the one converted from
# (the span's start), the second the one converted to (its end).
_PAIRS_WRITTEN = {
    "currency": re.compile(
        rf"\b(?P<first>{_CURRENCIES})\b(?:\s+(?:to|into|in|for)\s+|\s*/\s*)"
        rf"(?P<second>{_CURRENCIES})\b"
    ),
    "date": re.compile(
        rf"\b(?P<first>{_DATE})\s+(?:to|and|until|till|through|-|–)\s+(?P<second>{_DATE})(?![\w:])"
    ),
    "datetime": re.compile(
        rf"\b(?P<first>{_DATETIME})\s+(?:to|and|until|till|through|-|–)\s+"
        rf"(?P<second>{_DATETIME})(?![\w:])"
    ),
    "timezone": re.compile(
        rf"(?<![\w/])(?P<first>{_TIMEZONE})\s+(?:to|into|in)\s+(?P<second>{_TIMEZONE})(?![\w/])"
    ),
}
# A date or time that ends a span: "until 2025-02-01", "by 2025-02-01 17:00".
_SPAN_END = re.compile(
    rf"\b(?:until|till|before|by|through|ending)\s+(?:on\s+)?"
    rf"(?P<value>{_DATETIME}|{_DATE})(?![\w:])"
    rf"|\b(?:to|into)\s+(?P<zone>{_TIMEZONE})(?![\w/])",  # converted to: the pair's second
    re.IGNORECASE,
)
# The words of an input for a pair's first value (converted from, a span's start) and second.
_FROM_WORDS = frozenset({"from", "source", "src", "base", "sell", "original", "start", "begin"})
_FROM_WORDS |= {"since", "earliest"}
_TO_WORDS = frozenset({"to", "target", "dest", "destination", "quote", "buy", "into", "end"})
_TO_WORDS |= {"until", "till", "latest"}
# An amount of money: "100 USD", "40.50 EUR", "$25", "€1,200".
# The number is whole: commas only between groups of three digits ("1,200.50"), cents at most,
# and nothing number-like around it, so "19,99 EUR", "1.000,50 EUR" and "€1.000" (decimal
# commas, thousands dots) are not misread.
_NUMBER = r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?(?![.,]?\d)"
_MONEY = re.compile(
    rf"(?:[$€£¥]\s?(?P<after>{_NUMBER})|(?P<before>{_NUMBER})\s?(?:{_CURRENCIES})\b)"
)
# Anything written as an amount of money, read or not: "2,5 USD" is one.
_MONEY_MENTION = re.compile(rf"[$€£¥]\s?\d|\d\s?(?:{_CURRENCIES})\b")
_AMOUNT_WORDS = frozenset(field_tokens("amount"))
# An allowed value this long is the input's even where the task does not name the input
# ("in fahrenheit" for a unit); a shorter one ("high", "asc") only where it does, unless it is a
# code of letters and digits ("SEV1", "P2").
_DISTINCT_CHOICE = 5


def _distinct(choice: str) -> bool:
    if len(choice) >= _DISTINCT_CHOICE:
        return True
    return any(c.isdigit() for c in choice) and any(c.isalpha() for c in choice)


_POSSESSIVE = re.compile(r"'s$")


# How many words after naming an input the task may write its value ("my access token is abc123").
_VALUE_WINDOW = 3
# A number counting what the next word names: "30 minute", "30-minute", "4 nights".
_COUNT = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?:-(?P<unit>[A-Za-z]+))?")


@dataclass(frozen=True, slots=True)
class TaskText:
    """A task read once for the values it writes: its words piece by piece (whitespace-
    separated), the values written in it by the piece each starts in, where clauses end (a value
    is not written across one), and the names, addresses and dates it holds. ``value`` reads
    what it gives one input."""

    pieces: tuple[frozenset[str], ...]
    values: Mapping[int, str]
    joins: frozenset[int]  # pieces that join clauses ("and", "then"): no value at or after them
    ends: frozenset[int]  # pieces that end a clause ("payment,"): no value after them
    lowered: str  # the whole task, lower-cased: where an input's allowed values are looked for
    # What the task names after "named", "called" or "titled" ("a pet named Rex"): a name or a
    # title, with the words of the inputs it can be.
    titles: tuple[tuple[frozenset[str], str], ...]
    # The e-mail addresses, URLs, dates, places and files written in the task, by kind
    # (_SHAPES), once each.
    shaped: Mapping[str, tuple[str, ...]]
    # The pair of each kind the task writes (``_PAIRS_WRITTEN``), when it writes one.
    pairs: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    # The amounts of money the task writes ("100 USD", "$25"), as written, once each.
    money: tuple[str, ...] = ()
    # Dates and times written as the end of a span ("until 2025-02-01", "by ...").
    span_ends: frozenset[str] = frozenset()
    # The phone numbers it writes in international form ("+14155550123"), once each.
    phones: tuple[str, ...] = ()
    # The one pair of coordinates it writes ("at 48.85, 2.29"): latitude, longitude.
    coordinates: tuple[float, float] | None = None
    # The messages ("saying the site is down") and subjects ("with subject Hi") it writes.
    messages: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()

    @classmethod
    def read(cls, task: str) -> TaskText:
        found = list(re.finditer(r"\S+", task))
        starts = [m.start() for m in found]
        values: dict[int, str] = {}
        for literal in _LITERAL.finditer(task):
            n = bisect.bisect_right(starts, literal.start()) - 1
            text = literal.group()
            if text[0] in "'\"":  # quoted: what the quotes hold
                values.setdefault(n, text[1:-1])
            else:  # the whole piece: "o-42", not the "42" in it
                values.setdefault(n, _POSSESSIVE.sub("", _trimmed(found[n].group())))
        # What a subject, name or title says is not another input's value ("titled Sale 20%
        # off"); what a message says may be ("alert the engineer that ticket 8812 is open and
        # escalate it").
        carried = _carried_texts(task)
        for n, piece in enumerate(found):
            if any(
                c.start <= piece.start() < c.end
                for c in carried
                if not c.quoted and c.kind != "message"
            ):
                values.pop(n, None)
        raw = [m.group() for m in found]
        pieces = tuple(frozenset(field_tokens(piece)) for piece in raw)
        joins = frozenset(n for n, piece in enumerate(raw) if piece.lower() in _JOINING_WORDS)
        titles = tuple(
            (_TITLING_WORDS[c.kind], _POSSESSIVE.sub("", task[c.start : c.end]))
            for c in carried
            if c.kind in _TITLING_WORDS
            and (c.quoted or field_tokens(task[c.start : c.end].split()[0]))
        )  # not "called the ..."
        shaped = {
            kind: tuple(
                dict.fromkeys(m["value"].rstrip(_EDGES) for m in shape.pattern.finditer(task))
            )
            for kind, shape in _SHAPES.items()
        }
        # A file the task sends a result to is not one it reads.
        shaped["file"] = tuple(f for f in shaped["file"] if f not in shaped["destination"])
        pairs = {
            kind: {(m["first"], m["second"]) for m in pattern.finditer(task)}
            for kind, pattern in _PAIRS_WRITTEN.items()
        }
        money = [m["after"] or m["before"] for m in _MONEY.finditer(task)]
        if len(_MONEY_MENTION.findall(task)) != len(money):
            money = []  # an amount not read ("2,5 USD"): which one is meant is not known
        return cls(
            pieces,
            values,
            joins,
            frozenset(n for n, piece in enumerate(raw) if piece[-1] in _CLAUSE_ENDS),
            task.lower(),
            titles,
            shaped,
            pairs={kind: found.pop() for kind, found in pairs.items() if len(found) == 1},
            money=tuple(dict.fromkeys(a.replace(",", "") for a in money)),
            span_ends=frozenset(m["value"] or m["zone"] for m in _SPAN_END.finditer(task)),
            phones=tuple(dict.fromkeys(m.group() for m in _PHONE.finditer(task))),
            coordinates=_coordinates(task),
            messages=tuple(task[c.start : c.end] for c in carried if c.kind == "message"),
            subjects=tuple(task[c.start : c.end] for c in carried if c.kind == "subject"),
        )

    def value(self, field_ref: FieldRef, others: frozenset[str] = frozenset()) -> Any:
        """The value the task writes for an input, as the input's JSON type: it names the input
        and writes a value right after, in the same clause ("refund payment pi_3Mt...", "my
        access token is abc123"), so no producer is needed. A value elsewhere is another
        input's ("refund jane@example.com's last order" names the order but gives the
        customer's e-mail; "email the user and then send 5 reminders"), and so is one written
        after another input is named (``others``: the words naming the other inputs in play;
        "the customer by email jane@example.com" gives the e-mail, not the customer id) or not
        of the input's type ("five" for an integer) or among its allowed values. An allowed
        value the task uses is the input's without a name before it ("in fahrenheit"), when
        it is the only one used and distinctive (the task names the input, or the value is not
        a short word like "high"); so is the one e-mail address, URL, date or place ("in
        Lisbon") the task writes for an input named like it ("refund jane@example.com's order"
        for ``customer_email``), the one number written right before a word naming a numeric
        input ("a 30 minute meeting"), the one amount of money ("100 USD") for an amount, the
        currencies of the conversion it writes ("USD to EUR") for the currencies converted from
        and to, what follows "named", "called" or "titled" for a name or a title ("a pet named
        Rex"), and the one message or subject it writes ("saying the site is down", "with
        subject Welcome") for a message or subject input (``carried_texts``). None when it
        writes none."""
        words = naming_words(field_ref)
        named = bool(words) and all(any(w in piece for piece in self.pieces) for w in words)
        allowed = self._allowed(field_ref, named)
        if allowed is not None:
            return allowed
        written = None
        if field_ref.type in ("integer", "number"):
            written = self._counted(field_ref, others - words)
            if written is None:
                written = self._amount(field_ref)
            if written is None:
                written = self._coordinate(field_ref)
        if written is None and field_ref.type in (None, "string"):
            written = self._titled(words) or self._phone(field_ref)
        if written is None and named:
            written = self._after_name(field_ref, words, others - words)
            if isinstance(written, str) and not (
                self._quotes(written) or _of_its_shape(field_ref, written)
            ):
                written = None  # "email candidate cand_42": cand_42 is no address
            if written is not None and not self._quotes(str(written)):
                # "text +14155550123 that the meeting moved": the word was the verb, and a
                # message input's value is the message the task carries, not the number.
                written = self._carried(field_ref) or written
        if written is None and field_ref.type == "array":
            return self._addresses(field_ref)
        if written is not None or field_ref.type not in (None, "string"):
            return written
        shaped = self._shaped(field_ref)
        if shaped is not None:
            return shaped
        return self._carried(field_ref)

    def is_shaped(self, value: Any) -> bool:
        """Whether ``value`` is one the task writes in a shape (an e-mail address, URL, date,
        place, currency or file): one value, however many inputs are named like it."""
        return any(value in found for found in self.shaped.values())

    def _allowed(self, field_ref: FieldRef, named: bool) -> str | None:
        """The one allowed value the task uses, when it is distinctive or the input is named."""
        used = [c for c in field_ref.choices if self._uses(c)]
        if len(used) == 1 and (named or _distinct(used[0])):
            return used[0]
        return None

    def _after_name(
        self, field_ref: FieldRef, words: frozenset[str], others: frozenset[str]
    ) -> Any:
        """The value nearest after a piece naming the input, within the window and the clause,
        before another input is named, and not one counting another input named right after
        it ("scale the checkout service to 5 replicas": 5 is the replicas', not the
        service's); None when none is of the input's type and choices."""
        found: list[tuple[int, Any]] = []
        for n, piece in enumerate(self.pieces):
            if not piece & words:
                continue
            for at in range(n, min(n + _VALUE_WINDOW + 1, len(self.pieces))):
                if at > n and at in self.joins:
                    break
                if at in self.values:
                    # "service to 5 replicas": the count of the input named right after it;
                    # right after its own name, it is this input's ("latitude 38.7 longitude").
                    counts_next = at + 1 < len(self.pieces) and self.pieces[at + 1] & others
                    if at > n + 1 and counts_next:
                        break
                    value = _typed(self.values[at], field_ref.type)
                    if field_ref.choices:  # one of them, as the schema spells it
                        value = _choice(str(value), field_ref.choices)
                    if value is not None:
                        found.append((at - n, value))
                    break
                if (at > n and self.pieces[at] & others) or at in self.ends:
                    break
        return min(found, key=lambda f: f[0])[1] if found else None

    def _counted(self, field_ref: FieldRef, others: frozenset[str]) -> Any:
        """The number a task writes right before the word a numeric input counts, its name's
        last word: "a 30 minute meeting" (or "30-minute") gives ``duration_minutes``, "for 4
        nights" ``nights`` (also when "for 2 guests" follows); not ``reminder_minutes_before``
        or a rate (``max_price_per_night``), nor across a clause's end ("pet 12, quantity 2"),
        nor a number written after a word naming another input (``others``): "latitude 38.7
        longitude -9.1" gives 38.7 to the latitude, not to the longitude after it. None unless
        exactly one such number is written."""
        named = identifier_words(field_ref.leaf).lower().split()
        if not named or "per" in named:
            return None
        words = field_ref.last_words
        found = set()
        for n, written in self.values.items():
            counted = _COUNT.fullmatch(written)
            if counted is not None and counted["unit"]:  # "30-minute"
                unit = frozenset(field_tokens(counted["unit"]))
            elif counted is not None and n + 1 < len(self.pieces) and n not in self.ends:
                # "30 minute"; not "pet 12, quantity 2", where the comma ends the clause
                if n > 0 and self.pieces[n - 1] & others:
                    continue  # "latitude 38.7 longitude": the value of the input named before
                unit = self.pieces[n + 1]
            else:
                continue
            value = _typed(counted["number"], field_ref.type)
            if value is not None and unit & words:
                found.add(value)
        return found.pop() if len(found) == 1 else None

    def _amount(self, field_ref: FieldRef) -> Any:
        """The one amount of money the task writes ("convert 100 USD", "refund $25"), for an
        input named as an amount (``amount``, ``refund_amount``)."""
        if len(self.money) != 1 or not field_ref.words & _AMOUNT_WORDS:
            return None
        return _typed(self.money[0], field_ref.type)

    def _coordinate(self, field_ref: FieldRef) -> float | None:
        """The latitude or longitude of the one pair of coordinates the task writes ("the UV
        index at 48.85, 2.29"), for an input named as one; none when it names a place too
        ("the weather in Lisbon at 10.30, 11.30": times, not coordinates)."""
        if self.coordinates is None or self.shaped["place"]:
            return None
        for n, names in enumerate((_LATITUDES, _LONGITUDES)):
            if field_ref.last_words & names:
                return self.coordinates[n]
        return None

    def _shaped(self, field_ref: FieldRef) -> str | None:
        """The one e-mail address (URL, date, place, file, ...) the task writes, for an input
        named like one: "refund jane@example.com's last order" gives ``customer_email``. Of a
        pair ("100 USD to EUR", "from 2025-08-04 to 2025-08-15"), the value of the input's
        side (``from_currency``, ``end_date``); a writing skill's file is the one the task
        writes to."""
        side = _pair_role(field_ref)
        for kind, shape in _SHAPES.items():
            found = self.shaped[kind]
            if kind == "currency" and side is not None and _names_currency(field_ref):
                # Not the one currency a task writes ("40 EUR" to convert, or to convert to?).
                pair = self.pairs.get(kind)
                return None if pair is None else pair[side]
            if not field_ref.words & shape.words or field_ref.words & shape.not_named:
                continue
            if side is not None and kind in self.pairs and len(found) == 2:
                return self.pairs[kind][side]
            if len(found) != 1:
                continue
            ends_span = found[0] in self.span_ends
            if side is not None and kind in _PAIRS_WRITTEN and (side == 1) != ends_span:
                continue  # one date starts a span ("since ..."), unless it ends one ("until")
            writer = _writes(field_ref)
            if kind == "file" and writer and self.shaped["destination"]:
                continue  # a writing skill's file is the one written to, not the one read
            described = field_ref.described_words  # read once, then cached
            if shape.need and not (described & shape.need or (kind == "destination" and writer)):
                continue
            value = found[0]
            # An input it is not for still takes a value written as a code ("in LIS").
            if not described & shape.unless or _CODE.fullmatch(value):
                return value
        return None

    def _phone(self, field_ref: FieldRef) -> str | None:
        """The one phone number the task writes in international form ("text +14155550123
        ..."), for an input named as a phone, or a recipient described as one (an SMS tool's
        ``to``: "Destination phone number in E.164")."""
        if len(self.phones) != 1:
            return None
        if field_ref.words & _PHONE_WORDS or (
            field_ref.leaf.lower() in _RECIPIENT_NAMES and field_ref.described_words & _PHONE_WORDS
        ):
            return self.phones[0]
        return None

    def carries(self, value: Any) -> bool:
        """Whether ``value`` is a message, subject, name or title the task writes, or a list of
        the addresses it writes: what a step reads from its own sub-goal."""
        titles = (title for _, title in self.titles)
        return (
            isinstance(value, list)
            or value in self.messages
            or value in self.subjects
            or value in titles
        )

    def _addresses(self, field_ref: FieldRef) -> list[str] | None:
        """The e-mail addresses the task writes, for a list of them: an array of strings named
        or described as addresses or people to reach (``attendees``, ``to``, ``recipients``):
        "a meeting with alice@example.com and bob@example.com"."""
        if field_ref.items not in (None, "string") or not self.shaped["email"]:
            return None
        if self._uses("cc") or self._uses("bcc") or field_ref.words & _COPIES:
            return None  # which address is copied is not read
        if field_ref.leaf.lower() != "to" and not field_ref.described_words & _ADDRESS_LIST_WORDS:
            return None
        # One list, written together ("alice@... and bob@...", "a@..., b@... and c@..."): an
        # address elsewhere is someone else's ("the complaint from bob@...", "not bob@...").
        lists = {
            frozenset(re.findall(_ADDRESS, run)) for run in _ADDRESS_LIST.findall(self.lowered)
        }
        if len(lists) != 1:
            return None
        listed = lists.pop()
        return [a for a in self.shaped["email"] if a.lower() in listed]

    def _titled(self, words: frozenset[str]) -> str | None:
        """What the task names after "named" ("called", "titled") for a name or title: "a pet
        named Rex", "a meeting titled Roadmap review"."""
        return next((title for kinds, title in self.titles if words and words <= kinds), None)

    def _carried(self, field_ref: FieldRef) -> str | None:
        """The one message the task writes ("saying the site is down") for an input named as a
        message (``body``, ``text``, ``message``), or the one subject for a subject."""
        for written, names in ((self.messages, _MESSAGE_INPUTS), (self.subjects, _SUBJECTS)):
            if len(written) == 1 and field_ref.last_words & names:
                return written[0]
        return None

    def _quotes(self, value: str) -> bool:
        """Whether the task writes ``value`` in quotes: as the user meant it, whatever it is."""
        lowered = value.lower()
        return f'"{lowered}"' in self.lowered or f"'{lowered}'" in self.lowered

    def _uses(self, choice: str) -> bool:
        """Whether the task holds ``choice`` as whole words."""
        return re.search(rf"(?<!\w){re.escape(choice.lower())}(?!\w)", self.lowered) is not None


# Words after which a task writes the text a tool is to carry rather than what the tool is to
# do, often unquoted: a message ("saying the site is down", "with message fix tests", "and body
# please pay") ...
_MESSAGE = re.compile(
    r"\b(?:saying|stating|(?:that|which)\s+(?:says|reads)|(?:with|and)\s+(?:the\s+|a\s+)?"
    r"(?:message|text|body|note|comment|caption)(?!\s+(?:of|from)\b))\b[\s,:]*",
    re.IGNORECASE,
)
# ... after a verb of telling and whom it tells, at the start of a request ("text +1415... that
# the meeting moved", "alert the on-call engineer that"; not "the text that I wrote", "tell me
# the orders that customer 4411 placed") ...
_RECIPIENT = (
    r"(?:me|us|him|her|them|everyone|everybody|all|\+?\d[\d-]{5,}|\S+@\S+|[#@]\S+|[A-Z]\w*"
    r"|(?:the|my|our|your)(?:\s+[\w-]+){1,2})"
)
_TOLD = re.compile(
    r"(?:^|[,;]|\b(?:please|and|then|to|you)\b)\s*(?:text|tell|notify|inform|remind|warn|alert)"
    rf"\s+{_RECIPIENT}(?:\s+(?:on|via|by|over)\s+\w+)?"
    r"(?:\s+(?:today|tonight|tomorrow|(?:at|on|by|next|this)\s+[\w:]+)){0,3}\s+that\s+",
    re.IGNORECASE,
)
# ... after a colon that labels it ("the sentiment of this review: the food was cold"; not a
# form's "email: jane@example.com") ...
_LABELLED = re.compile(
    r"\b(?:review|text|message|comment|note|tweet|post|e-?mail|reply|feedback|sentence|phrase|"
    r"paragraph|passage)\s*:\s*",
    re.IGNORECASE,
)
# ... a subject ...
_SUBJECT = re.compile(r"\bwith\s+(?:the\s+|a\s+)?subject(?:\s+line)?\b[\s,:]*", re.IGNORECASE)
# ... or a name or title ("a ticket titled Login fails"), by the word introducing it (not
# "so-called").
_TITLE = re.compile(
    r"(?<!-)\b(?P<word>titled|entitled|called|named|with\s+(?:the\s+|a\s+)?title)\b[\s,:]*",
    re.IGNORECASE,
)
_INTRODUCING = (
    ("message", _MESSAGE),
    ("message", _TOLD),
    ("message", _LABELLED),
    ("subject", _SUBJECT),
    ("", _TITLE),
)
# What a message, subject or title goes on to say about where it goes: a preposition, then an
# address, a channel, a phone number, a path or a numbered thing ("saying I am late to
# +14155550123", "saying the fix is deployed to ticket 4521", "with the subject Lisbon weather to
# ana@example.com"; not "moved to 3pm", "Bump version to 2.1.0").
_TARGET_VALUE = (
    r"\s+(?:the\s+)?(?:\S+@\S+|[#@]\w|\+\d|/\w"
    r"|(?:ticket|order|issue|channel|customer|user|project|repo|file)\s+\S*\d))"
)
_TARGET = re.compile(rf"\s+(?=(?:to|on|in|into|for|at|from|with|cc){_TARGET_VALUE}", re.IGNORECASE)
# A message says more ("charged twice for order 5521"): only where it is sent ends it.
_MESSAGE_TARGET = re.compile(rf"\s+(?=(?:to|on|in|into|cc){_TARGET_VALUE}", re.IGNORECASE)
# Where a subject or title ends besides: a comma, or where the task goes on to say when
# ("titled Standup tomorrow at 10:00", "titled Launch on 2025-05-01", "on Friday"; not
# "titled Make this button bigger").
_WHEN = re.compile(
    r",|\s+(?=(?:today|tonight|tomorrow|yesterday)\b|(?:this|next|every)\s+(?:morning|afternoon|"
    r"evening|night|hour|day|weekday|week|weekend|month|quarter|year|monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)\b|(?:on|at|by|until|before|from|between)\s+(?:\d|(?:monday|"
    r"tuesday|wednesday|thursday|friday|saturday|sunday)\b))",
    re.IGNORECASE,
)
# Words a message does not start with: "with a note to the customer", "what reviewers are
# saying about the product", "with text and an image" say where or what about, not what.
_NOT_A_MESSAGE = re.compile(r"(?:to|about|of|for|on|in|and|or|from)\b", re.IGNORECASE)
# A name ("a pet named Rex to the store", "a company called Zeta Corp", "a product called iPhone
# 16 Pro"): its words with a capital or a digit, or its one word when it has none ("a folder
# called drafts"); it starts with a letter or a digit (not "who called +14155550123").
_NAME_WORD = r"[\w.'&-]*[A-Z0-9][\w.'&-]*"
_NAME = re.compile(rf"(?=\w){_NAME_WORD}(?:\s+{_NAME_WORD})*|\w\S*")
_CARRIED_EDGES = " \t\n.,;:!?"


class Carried(NamedTuple):
    """Text a task writes for a tool to carry: ``kind`` is "message", "subject" or the word
    introducing a name or title ("named", "called", "titled"); the text is
    ``task[start:end]``, inside the quotes when ``quoted``."""

    kind: str
    start: int
    end: int
    quoted: bool


def carried_texts(task: str) -> list[Carried]:
    """The texts ``task`` writes for a tool to carry, quoted or not, in order: a message after
    "saying" or "with message", after a verb of telling and whom it tells and "that", or after
    a colon labelling it ("this review: ..."); a subject after "with subject"; a name or title
    after "named", "called" or "titled".

    Unquoted, one runs to the end of its clause (``clause_end``), to the next message or
    subject, or to where it goes ("to ticket 4521", "to +1415..."); a subject or title also to
    a comma or to when ("tomorrow", "at 10:00"); a name is its words with a capital or a digit
    ("Zeta Corp"), or one word. A name or title inside a message is the message's ("saying the
    plumber called"). A message starting with "to", "about", "and" ... is none ("with a note
    to the customer"), and words quoted right after the introducing ones ("with message content
    'healthy'") are left to the quotes."""
    return list(_carried_texts(task))


@lru_cache(maxsize=1024)
def _carried_texts(task: str) -> tuple[Carried, ...]:
    """``carried_texts``, read once per text: a plan reads each of its task's texts twice, to
    route it (``routing_text``) and to read its values (``TaskText.read``)."""
    found = sorted(
        ((m.start(), m.end(), kind or _title_kind(m["word"]), pattern))
        for kind, pattern in _INTRODUCING
        for m in pattern.finditer(task)
    )
    texts: list[Carried] = []
    done = 0
    for n, (at, start, kind, pattern) in enumerate(found):
        if at < done:
            continue
        quoted = _QUOTED_VALUE.match(task, start)
        if quoted is not None:
            texts.append(Carried(kind, start + 1, quoted.end() - 1, True))
            done = quoted.end()
            continue
        if kind == "message" and _NOT_A_MESSAGE.match(task, start):
            continue
        ends = [a for a, _, k, _ in found[n + 1 :] if a >= start and k in ("message", "subject")]
        end = min([clause_end(task, start), *ends])
        if pattern is _LABELLED and len(task[start:end].split()) < 2:
            continue  # "email: jane@example.com": a form's field, not a message
        if kind in ("named", "called"):
            name = _NAME.match(task, start, end)
            end = start if name is None else name.end()
        else:
            stops = (_MESSAGE_TARGET,) if kind == "message" else (_TARGET, _WHEN)
            for stop in stops:
                if (found_stop := stop.search(task, start, end)) is not None:
                    end = found_stop.start()
        quoted = _QUOTED_VALUE.search(task, start, end)
        if quoted is not None and len(task[start : quoted.start()].split()) <= 2:
            continue  # "with message content 'healthy'": the quotes say what it is
        while end > start and task[end - 1] in _CARRIED_EDGES:
            end -= 1
        if end > start:
            texts.append(Carried(kind, start, end, False))
            done = end
    return tuple(texts)


def _title_kind(word: str) -> str:
    """The kind of a name or title by the word introducing it: "named", "called", or
    "titled" (also for "entitled" and "with title")."""
    word = word.lower()
    return "titled" if word in ("entitled", "titled") or word.startswith("with") else word


def _without_carried_text(text: str) -> str:
    """``text`` without the unquoted text it gives a tool to carry (``carried_texts``):
    "text +14155550123 saying your order has shipped" routes as "text +14155550123 saying",
    or its words would rank order tools first. The words that introduce it stay: a message or a
    subject is still what the tool takes."""
    kept: list[str] = []
    start = 0
    for carried in _carried_texts(text):
        if not carried.quoted:
            kept.append(f"{text[start : carried.start]} ")
            start = carried.end
            while text[start : start + 1] in (".", "!", "?"):
                start += 1  # the sentence it ended
    kept.append(text[start:])
    return "".join(kept)


def routing_text(text: str, skill_names: Collection[str]) -> str:
    """``text`` as it is routed: without the values it quotes, which are a tool's arguments (a
    file name, a message to send), not what the tool does, unless one names a skill ("list
    them using 'ls'"), and without the text it writes unquoted for a tool to carry (a message
    after "saying", a title after "titled"). "send 'Order for SYNX is completed.' to Sarah"
    routes as "send to Sarah": the message's words would rank order tools first.
    ``skill_names`` are lower-case.
    """
    kept = _QUOTED_VALUE.sub(
        lambda quoted: quoted.group() if quoted.group()[1:-1].lower() in skill_names else " ",
        _without_carried_text(text),
    )
    if kept == text:  # nothing taken out: the text itself, as the caller wrote it
        return text
    return " ".join(kept.split()) or text


def naming_words(field_ref: FieldRef) -> frozenset[str]:
    """The words by which a task names an input: ``payment_id`` by "payment", and an input of
    generic words alone (``content``, ``message``) by them ("with content 'hello'")."""
    return (field_ref.specific_words - ID_WORDS) or field_ref.specific_words or field_ref.words


# Inputs that are an e-mail address or a URL (the last word of the name says so: ``email``,
# ``customer_email``, ``page_url``; not ``email_subject``) take only a value of that shape.
_STRICT_SHAPES = ("email", "url")


# Words of a skill that writes a file ("write_file", "save_report"): its file input is where
# the result goes (an export or a copy names its source and its destination apart).
_WRITING = frozenset(field_tokens("write save"))
_READ_FROM = frozenset(field_tokens("source src input from original"))


def _writes(field_ref: FieldRef) -> bool:
    """Whether the input is where its skill writes: a skill named as one that writes
    (``fs/write_file``), for an input not named as what it reads (``source_path``)."""
    if field_ref.words & _READ_FROM:
        return False
    return bool(frozenset(field_tokens(identifier_words(field_ref.skill))) & _WRITING)


def _of_its_shape(field_ref: FieldRef, value: str) -> bool:
    """Whether ``value`` can be the input's: an e-mail address (URL) input takes only an e-mail
    address (URL), and an id or a time takes none unless it says it is one ("find the customer
    jane@example.com" gives no ``customer_id``: a lookup by e-mail produces it)."""
    last = field_ref.last_words
    an_id_or_a_time = bool(last & (ID_WORDS | _TIME_WORDS)) or field_ref.leaf.lower().endswith(
        "_at"
    )
    for kind in _STRICT_SHAPES:
        shape = _SHAPES[kind]
        of_the_shape = shape.pattern.fullmatch(value) is not None
        if last & shape.words and not of_the_shape:
            return False
        if an_id_or_a_time and of_the_shape and not field_ref.described_words & shape.words:
            return False
    return True


def _names_currency(field_ref: FieldRef) -> bool:
    """Whether an input is a currency: by its name (``from_currency``), or, named only as a
    pair's side (``from`` / ``to``, ``source`` / ``target``), by its description or its skill's
    name (``convert_currency(amount, from, to)``; not ``start_date`` of ``currency_history``)."""
    currency = _SHAPES["currency"].words
    if field_ref.words & currency:
        return True
    named = set(identifier_words(field_ref.leaf).lower().split())
    if not named <= _FROM_WORDS | _TO_WORDS:
        return False
    return bool((field_ref.described_words | FieldRef.words_of(field_ref.skill)) & currency)


def _pair_role(field_ref: FieldRef) -> int | None:
    """0 for an input named as a pair's first value (``from_currency``, ``base``,
    ``start_date``), 1 for its second (``to_currency``, ``target``, ``end_date``), else
    None."""
    named = set(identifier_words(field_ref.leaf).lower().split())
    source, target = bool(named & _FROM_WORDS), bool(named & _TO_WORDS)
    return None if source == target else (0 if source else 1)


def _choice(value: str, choices: Sequence[str]) -> str | None:
    return next((c for c in choices if c.lower() == value.lower()), None)


def _typed(value: str, kind: str | None) -> Any:
    """A value read from the task as its input's JSON type; None when it is not one (a value
    the task writes for an integer input that is not a number is not that input's)."""
    if kind in (None, "string"):
        return value
    if kind == "integer" and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return None
    return None
