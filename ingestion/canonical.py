"""The canonical event every wire format maps to, and the helpers adapters share.

Adapters turn each wire event into a :class:`CanonicalEvent` or a list of
:class:`EventProblem`; everything after that (dedupe, storage, identity hand-off, the
``rejected`` list) is written once in ``ingestion.services``.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import math
import re
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import orjson


class EventProblem(msgspec.Struct, frozen=True):
    """One thing wrong with one event: the contract's ``{"index", "field", "message"}``.

    ``index`` is a path string for Intempt (``track[0].payload[2]``) and the position in
    the array (an int, 0 for a single object) for the other formats.
    """

    index: str | int
    field: str
    message: str

    def as_dict(self) -> dict[str, str | int]:
        return {"index": self.index, "field": self.field, "message": self.message}


class CanonicalEvent(msgspec.Struct, kw_only=True):
    name: str
    event_id: str
    timestamp: datetime
    namespace: str | None = None
    user_id: str | None = None
    profile_id: str | None = None
    anonymous_id: str | None = None
    account_id: str | None = None
    session_id: str | None = None
    page_id: str | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    # The keys of ``context`` that are identity fields on this event: Intempt's
    # ``anotherUserId``, ``anotherAccountId``, ``userAttributes`` and ``accountAttributes``
    # (INTEMPT_IDENTITY_FIELDS) when the event itself carries them. In other formats, and
    # on an Intempt track group or around the track array, a key of the same name is only
    # data: the contract lists them for Intempt's events, and a merge cannot be undone.
    identity_fields: frozenset[str] = frozenset()
    # The identifier columns (``user_id``, ``profile_id``, ``anonymous_id``, ``account_id``)
    # the producer sent as "": the column stays null, but "" is one of the contract's
    # placeholders, so identity work records a warning for it, and an empty own user
    # field leaves the event without a profile exactly as "null" would.
    empty_identifiers: frozenset[str] = frozenset()
    # An imported event's own wire format (the export's ``wire_format``), stored instead of
    # the request's ("import"): a backup restored, or a project moved, reads as it was
    # sent. None for every event that arrives over a track endpoint.
    wire_format: str | None = None

    def context_identifier(self, key: str) -> str | None:
        """Intempt's ``anotherUserId`` or ``anotherAccountId`` (``key``) when this event
        carries it as an identity field: a string ("" included: a placeholder); else None."""
        if key not in self.identity_fields:
            return None
        value = self.context.get(key)
        return value if isinstance(value, str) else None

    def identifier_sent(self, name: str) -> str | None:
        """The identifier column ``name`` as sent: its value, "" if it was sent empty
        (``empty_identifiers``), else None."""
        value: str | None = getattr(self, name)
        if value is None and name in self.empty_identifiers:
            return ""
        return value

    def context_attributes(self, key: str) -> dict[str, Any] | None:
        """Intempt's ``userAttributes`` or ``accountAttributes`` (``key``) when this event
        carries them as an identity field: an object; else None."""
        if key not in self.identity_fields:
            return None
        value = self.context.get(key)
        return value if isinstance(value, dict) else None


CONTEXT_IDENTIFIERS = ("anotherUserId", "anotherAccountId")
INTEMPT_IDENTITY_FIELDS = frozenset({*CONTEXT_IDENTIFIERS, "userAttributes", "accountAttributes"})

# Identifiers are indexed: PostgreSQL refuses a btree entry over ~2.7 kB, so each is
# capped (two of them share the dedupe key); past the cap the event is refused, not the
# request, and the identity worker never indexes such a value. 1,024 is the most that
# Databuddy's 256-character limits take in UTF-8 (4 bytes a character), so no value its
# docs allow is refused; two of them and the key's overhead stay well under 2.7 kB.
MAX_IDENTIFIER_BYTES = 1024


_NO_NAMES: frozenset[str] = frozenset()


def empty_identifiers(item: dict[str, Any], fields: dict[str, str]) -> frozenset[str]:
    """The canonical names of ``fields`` (canonical name -> the producer's key) that
    ``item`` sends as "" (``CanonicalEvent.empty_identifiers``)."""
    if "" not in item.values():  # nearly every event: one scan in C, no generator
        return _NO_NAMES
    return frozenset(name for name, key in fields.items() if item.get(key) == "")


def identifier_too_long(value: str) -> bool:
    """Over MAX_IDENTIFIER_BYTES in UTF-8 (checked in C first: a character is at most 4 bytes)."""
    return len(value) * 4 > MAX_IDENTIFIER_BYTES and len(value.encode()) > MAX_IDENTIFIER_BYTES


class RejectedItem(msgspec.Struct, frozen=True):
    """An event that failed validation: its problems and the raw fragment to replay."""

    problems: list[EventProblem]
    payload: Any
    # ``rejected_event_key``: the same refused event sent again is kept once.
    key: str | None = None


# --- identifiers ------------------------------------------------------------------------


# Set by ``import_events`` to the event's place in the file: an event with neither id nor
# timestamp then gets an id derived from that place and its content instead of a random
# one, so importing the same file twice stores it once.
import_position: contextvars.ContextVar[str | None] = contextvars.ContextVar("import_position", default=None)


def _content_digest(*, identified: bool, parts: bytes, content: Any) -> str | None:
    """The SHA-256 (hex) of ``parts`` and ``content`` for an event that ``identified``
    itself (its own id or timestamp), or of its place in an imported file, ``parts`` and
    ``content`` for one that did not; None when it did not and is no imported line: each
    sending is then an event of its own. The one dedupe rule of accepted events
    (``derived_event_id``) and rejected ones (``rejected_event_key``)."""
    prefix = b""
    if not identified:
        position = import_position.get()
        if position is None:
            return None
        prefix = position.encode() + b"\0"
    return hashlib.sha256(prefix + parts + orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def derived_event_id(*, name: str, raw: Any, has_own_timestamp: bool) -> str:
    """The id of an event that came without one (contract: Deduplication).

    With its own timestamp, a hash of everything the event carries, so a retried request
    is stored once; without one, a random UUID, so every request is a new event (but see
    ``import_position``).
    """
    digest = _content_digest(identified=has_own_timestamp, parts=name.encode() + b"\0", content=raw)
    return str(uuid.uuid4()) if digest is None else "th-" + digest[:40]


def rejected_event_key(
    *,
    wire_format: str,
    index: str | int,
    identified: bool,
    payload: Any,
    sending_fields: Collection[str] = (),
) -> str | None:
    """The key that keeps a refused event once in the rejected store when its request is
    sent again, by the rule that keeps an accepted one once (``_content_digest``): a hash
    of its format, its place in the request and its payload when the event carries its
    own id or timestamp (``identified``: the adapter's ``identifies_itself`` of the event
    as sent) or comes from a place in an imported file; None otherwise, so each sending is
    a row of its own, as each is a new event. The place is part of the key: every event a
    400 or a ``rejected`` list names has a row, also one repeated within a request. The
    payload's ``sending_fields`` (Intempt's fields beside the track array, an SDK's
    sentAt) are not part of it: a retry may change them, and the ids derived for
    accepted events leave them out too."""
    if payload is None:
        return None
    if sending_fields and isinstance(payload, dict):
        payload = {key: value for key, value in payload.items() if key not in sending_fields}
    return _content_digest(identified=identified, parts=f"{wire_format}\0{index}\0".encode(), content=payload)


# --- timestamps -------------------------------------------------------------------------
#
# Kept to the millisecond, the precision the read API writes them in: ordered by
# timestamp then id, events that read as simultaneous then come out in id order, as the
# contract orders them (microseconds nobody sees had ordered them otherwise).

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Milliseconds that still fit a datetime: year 1 to 9999.
MIN_MS = -62135596800000
MAX_MS = 253402300799999


def ascii_digits(text: str) -> bool:
    """Only 0-9, at least one. (``str.isdigit`` is true of "²" and of Arabic-Indic digits too, which ``int``
    refuses or reads as a number nobody wrote.)"""
    return text.isascii() and text.isdigit()


def digits_parse(text: str, *, max_digits: int) -> int | None:
    """``text`` as a whole number if it is ASCII digits only, at most ``max_digits`` of
    them; else None. The cap also keeps ``int`` from raising: it refuses a string of more
    than 4,300 digits (``sys.get_int_max_str_digits``) with a ValueError."""
    if not ascii_digits(text) or len(text) > max_digits:
        return None
    return int(text)


# Ids (sources' own, rows') are 64-bit columns: a larger number is no id at all.
MAX_ID = 2**63 - 1


def id_parse(text: str) -> int | None:
    """``text`` (a path segment, a query value) as an id, or None if it is none."""
    number = digits_parse(text, max_digits=len(str(MAX_ID)))
    return number if number is not None and number <= MAX_ID else None


def datetime_from_ms(value: Any) -> datetime | None:
    """Milliseconds since the epoch as an aware UTC datetime; None if not a valid number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not MIN_MS <= value <= MAX_MS:
        return None
    # Whole milliseconds, in integer arithmetic: value / 1000 as a float is microseconds
    # off for far dates.
    return EPOCH + timedelta(milliseconds=math.floor(value))


def milliseconds_only(value: datetime) -> datetime:
    """``value`` without the microseconds past its millisecond."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def datetime_from_ms_or_digits(value: Any) -> datetime | None:
    """Milliseconds since the epoch sent as a number or as a string of digits (how many
    JSON encoders write an int64, protobuf's among them, so that JavaScript keeps every
    digit); None if neither."""
    if isinstance(value, str):
        # Capped: far past any millisecond in range, and int() raises past 4,300 digits.
        ms = digits_parse(value.strip(), max_digits=30)
        return None if ms is None else datetime_from_ms(ms)
    return datetime_from_ms(value)


def datetime_from_iso(value: Any) -> datetime | None:
    """An ISO 8601 string with a four-digit year, as aware UTC; naive means UTC. Spaces
    around it are ignored. The extended format (``2023-11-20T22:28:55Z``) or the basic one
    (``20231120T222855Z``, ``20231120``): both are ISO 8601, and both have the 4-digit year
    ThriveStack's example ``20-11-23T...`` lacks. Cut to the millisecond (see above)."""
    parsed = _iso_parse(value)
    return None if parsed is None else milliseconds_only(parsed)


# A time's fraction of a second: the first "." or "," of an ISO 8601 string (a date has none).
_FRACTION = re.compile(r"[.,](\d+)")
LATEST = datetime.max.replace(tzinfo=UTC)


def instant_bound_from_iso(value: Any) -> datetime | None:
    """An ISO 8601 string read as ``datetime_from_iso`` reads it, for comparing with
    stored timestamps (the read API's ``since`` and ``until``): not cut to the millisecond,
    but the first microsecond not before it (a fraction finer than that rounds up; a
    datetime holds microseconds, and ``fromisoformat`` drops any digit past them). Stored
    timestamps are whole microseconds (milliseconds since they are cut), so ``>=`` and
    ``<`` against this bound answer exactly as against the time written: cut to the
    millisecond, ``since=...24.0005Z`` took an event at ``...24.000Z``, which is before it,
    and ``until=...24.0005Z`` left that event out. Past the last microsecond of year 9999
    the bound is that microsecond, which no stored timestamp passes."""
    parsed = _iso_parse(value)
    if parsed is None:
        return None
    fraction = _FRACTION.search(value)
    if fraction is None or not fraction.group(1)[6:].strip("0"):
        return parsed
    try:
        return parsed + timedelta(microseconds=1)
    except OverflowError:
        return LATEST


def _iso_parse(value: Any) -> datetime | None:
    """``datetime_from_iso`` to the microsecond."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    extended = len(text) >= 10 and ascii_digits(text[:4]) and text[4] == "-"
    # A basic date is 8 digits, alone or before the time's T: a longer run of digits is a
    # number (milliseconds, say), not a date.
    basic = len(text) >= 8 and ascii_digits(text[:8]) and (len(text) == 8 or text[8] in "Tt")
    if not (extended or basic):
        return None
    # fromisoformat takes any one character after an extended date as the separator: an
    # offset on a date alone ("2023-11-20+05:00") was read as the time 05:00 UTC, and any
    # letter passed for the T. ISO 8601 has a T there (a space is the common variant).
    if extended and len(text) > 10 and text[10] not in "Tt ":
        return None
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return utc_or_none(parsed)


def utc_or_none(moment: datetime) -> datetime | None:
    """An aware ``moment`` in UTC; None when its offset moves it past year 1 or 9999,
    where it could be neither compared in the database nor shown."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def format_timestamp(value: datetime) -> str:
    """The read API's form: ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    value = value.astimezone(UTC)
    # Not strftime: its %Y drops the leading zeros of years before 1000 on Linux.
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T"
        f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond // 1000:03d}Z"
    )


NUL = "\x00"
# What PostgreSQL text and jsonb cannot store: NUL, and a lone surrogate (U+D800-U+DFFF
# alone is no Unicode character, so it has no UTF-8; a JSON text may still escape one:
# ``body.json_decode``).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_fields(value: Any, path: str = "") -> list[tuple[str, str]]:
    """``(path, what)`` for every string (value or key) in ``value`` holding a NUL
    character or a lone surrogate, ``what`` naming the first such character; empty if
    there is none. A key holding one is named (the character written as its JSON escape,
    ``\\u0000``), not walked into.

    Callers run it only when the raw body may hold one (``json_scans``), so clean traffic
    pays nothing for it, and only on values no deeper than ``MAX_DEPTH``: it recurses once
    per level.
    """
    found: list[tuple[str, str]] = []
    _unstorable_walk(value, path, found)
    return found


def _unstorable_walk(value: Any, path: str, found: list[tuple[str, str]]) -> None:
    if isinstance(value, str):
        if (match := _UNSTORABLE.search(value)) is not None:
            found.append((path or "value", match.group()))
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if (match := _UNSTORABLE.search(key)) is not None:
                found.append((_escaped(child), match.group()))
            else:
                _unstorable_walk(item, child, found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _unstorable_walk(item, f"{path}[{i}]", found)


def _escaped(text: str) -> str:
    """``text`` with each character ``_UNSTORABLE`` finds written as its JSON escape: a
    problem's field must be storable, and writable as JSON (orjson refuses a surrogate)."""
    return _UNSTORABLE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def unstorable_problems(index: int | str, fields: list[tuple[str, str]]) -> list[EventProblem]:
    """One problem per field ``unstorable_fields`` found."""
    problems = []
    for path, character in fields:
        field = path[:200]
        if character == NUL:
            problems.append(EventProblem(index, field, f"{field} contains a NUL character (\\u0000)"))
        else:
            what = f"a lone surrogate ({_escaped(character)}), half of a character written in UTF-16"
            problems.append(EventProblem(index, field, f"{field} contains {what}, which is no Unicode text"))
    return problems


def unstorable_replaced(value: Any) -> Any:
    """``value`` with each NUL character and lone surrogate replaced by U+FFFD, so a
    refused event can be kept."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {unstorable_replaced(key): unstorable_replaced(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unstorable_replaced(item) for item in value]
    return value


# orjson writes at most 254 levels of nesting (it reads 1024).
MAX_DEPTH = 254


def json_scans(text: str | bytes) -> tuple[bool, bool]:
    """Whether JSON ``text`` may hold a NUL or a lone surrogate, and may nest past
    MAX_DEPTH: tests done in C that spare clean input the walks of ``unstorable_fields``
    and ``json_encodable``. A surrogate can only be escaped (``\\ud83d``; as UTF-8 bytes it
    is not UTF-8); an escaped pair, which is one character, walks for nothing."""
    if isinstance(text, bytes):
        may_hold = b"\\u0000" in text or b"\\ud" in text or b"\\uD" in text
        return may_hold, text.count(b"[") + text.count(b"{") > MAX_DEPTH
    may_hold = "\\u0000" in text or "\\ud" in text or "\\uD" in text
    return may_hold, text.count("[") + text.count("{") > MAX_DEPTH


# orjson reads an integer as a Python int within 64 bits (signed or not), else as a double.
_ORJSON_INT_MIN, _ORJSON_INT_MAX = -(2**63), 2**64 - 1


def json_with_lone_surrogates_decode(text: str) -> Any:
    """JSON that escapes a lone surrogate (``"\\ud83d"``), read as orjson reads the rest;
    ValueError (or RecursionError, nested past Python's limit) if it is not JSON.

    The escape is valid JSON (RFC 8259 lets a string escape any code unit) and what
    JavaScript's ``JSON.stringify`` writes for half an emoji, a string cut with
    ``.slice()``; orjson refuses the whole text. The standard library reads it (numbers
    made to match orjson's: no NaN or Infinity, an integer past 64 bits a double), so that
    the shared path refuses just the events holding one, at the event level, as it refuses
    a NUL (``unstorable_fields``): neither can be stored. Callers use it only once orjson
    has refused a text for a surrogate, so clean traffic never comes here.
    """

    def integer(digits: str) -> int | float:
        # Capped before int(), which refuses more than 4,300 digits.
        number = int(digits) if len(digits) <= 21 else None
        if number is not None and _ORJSON_INT_MIN <= number <= _ORJSON_INT_MAX:
            return number
        return finite(digits)

    def finite(digits: str) -> float:
        number = float(digits)
        if not math.isfinite(number):
            raise ValueError(f"number is infinity when parsed as double: {digits[:40]}")
        return number

    def constant(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_int=integer, parse_float=finite, parse_constant=constant)


def json_encodable(value: Any) -> bool:
    """Whether orjson can write ``value`` back (False past MAX_DEPTH levels of nesting)."""
    return json_size(value) is not None


def nested_deeper_than(value: Any, depth: int) -> bool:
    """Whether ``value`` nests arrays and objects more than ``depth`` levels (a loop, not
    recursion: a body may nest 1,024 levels). For a value ``json_encodable`` refused, which
    is too deep or holds a lone surrogate (``unstorable_fields``): orjson refuses both."""
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            if level >= depth:
                return True
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def kept_payload(value: Any) -> Any:
    """``value`` as a refused event's payload is kept and written back as JSON: None when
    nested past MAX_DEPTH levels (kept without its payload); a lone surrogate, which orjson
    cannot write, replaced by U+FFFD (``unstorable_replaced``); else ``value`` itself."""
    if json_encodable(value):
        return value
    if nested_deeper_than(value, MAX_DEPTH):
        return None
    return unstorable_replaced(value)


def kept_json_size(value: Any) -> int | None:
    """``json_size`` of ``value`` as ``kept_payload`` keeps it; None only past MAX_DEPTH.
    For the size limits: ``json_size`` alone is None for a surrogate too, and a limit
    skipped for it let a refused event be kept far past its size."""
    size = json_size(value)
    if size is not None:
        return size
    kept = kept_payload(value)
    return None if kept is None else json_size(kept)


def json_text(value: Any) -> str:
    """``value`` as JSON text, for a ``::jsonb`` parameter. orjson's, or the standard
    library's for the one thing it cannot write: an integer past 64 bits. PostgreSQL's
    jsonb gives any number back in plain digits (``1e22``, stored from a request, reads
    back as ``10000000000000000000000``), so JSON read from the database through Django
    can hold one: writing a profile's attributes back failed on it with a TypeError."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)


def json_size(value: Any) -> int | None:
    """The bytes of ``value`` written as JSON; None if orjson cannot write it (past
    MAX_DEPTH levels of nesting, which the per-event depth check refuses)."""
    try:
        return len(orjson.dumps(value))
    except TypeError:
        return None


# --- value checks -----------------------------------------------------------------------


def optional_string(
    item: dict[str, Any], key: str, *, index: str | int, problems: list[EventProblem], max_length: int | None = None
) -> str | None:
    """A string field that may be absent or null. Numbers are refused, not coerced."""
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(EventProblem(index, key, f"{key} must be a string"))
        return None
    if max_length is not None and len(value) > max_length:
        problems.append(EventProblem(index, key, f"{key} must be at most {max_length} characters"))
        return None
    return value


def required_string(
    item: dict[str, Any], key: str, *, index: str | int, problems: list[EventProblem], max_length: int | None = None
) -> str | None:
    """A string field that must be present and not empty (contract: Required)."""
    value = item.get(key)
    if value is None or value == "":
        problems.append(EventProblem(index, key, f"{key} is required"))
        return None
    return optional_string(item, key, index=index, problems=problems, max_length=max_length)


def _json_string_decode(text: str) -> Any:
    """A JSON field's string (Intempt's ``data`` may be one) decoded as a body is: a lone
    surrogate escaped in it is then named by the unstorable walk of ``json_object``, as
    one in the body is, instead of calling the whole string no JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise
        return json_with_lone_surrogates_decode(text)


def json_object(
    item: dict[str, Any], key: str, *, index: str | int, problems: list[EventProblem], allow_json_string: bool = False
) -> dict[str, Any] | None:
    """An object field; with ``allow_json_string`` a string holding a JSON object too."""
    value = item.get(key)
    if value is None:
        return None
    if allow_json_string and isinstance(value, str):
        text = value
        if not text.strip():
            # No JSON at all: a client built from a "string, format json" schema sends ""
            # when it has nothing, as it sends "" for an id it lacks. Absent, as null is.
            return None
        try:
            value = _json_string_decode(text)
        except (ValueError, RecursionError):  # orjson.JSONDecodeError is a ValueError
            problems.append(EventProblem(index, key, f"{key} must be a JSON object or a string holding one"))
            return None
        if value is None:  # a serialised null (Jackson's or JSON.stringify's): absent too
            return None
        # What the string decodes to was not in the body the request checks: a NUL or a
        # depth that cannot be stored is this event's problem, not the request's.
        # Depth first: the NUL walk recurses once per level.
        may_hold_unstorable, may_be_deep = json_scans(text)
        if may_be_deep and not json_encodable(value):
            problems.append(EventProblem(index, key, f"{key} is nested deeper than {MAX_DEPTH} levels"))
            return None
        if may_hold_unstorable and (unstorable_at := unstorable_fields(value, key)):
            problems.extend(unstorable_problems(index, unstorable_at))
            return None
    if not isinstance(value, dict):
        problems.append(EventProblem(index, key, f"{key} must be a JSON object"))
        return None
    return value
