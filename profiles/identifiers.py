"""Which identifier values count (contract: Identity, placeholders)."""

from __future__ import annotations

import unicodedata

PLACEHOLDERS = frozenset(
    {"", "null", "undefined", "none", "nil", "anonymous", "guest", "0", "-1", "[object object]", "nan", "true", "false"}
)

# Trimmed with the whitespace: invisible characters that a client, a copy-paste or a UTF-8
# BOM leave around a value and that str.strip() keeps (they are format characters, not
# whitespace): zero-width space, non-joiner and joiner, word joiner, BOM. "\ufeffnull"
# reads as "null" to anyone looking at it, so it must not become a person.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
# Turkish-locale case mappings of ASCII letters: "NIL".toLocaleLowerCase("tr") has a
# dotless i (U+0131), "undefined".toLocaleUpperCase("tr") a dotted capital I (U+0130),
# which casefolds to "i" and a combining dot above (U+0307).
_TURKIC_I = (("i\u0307", "i"), ("\u0131", "i"))


def is_placeholder(value: str | None) -> bool:
    """True for values a buggy client sends instead of an identifier: one of PLACEHOLDERS,
    case-insensitively and trimmed (docs/identity.md, Placeholders)."""
    if value is None:
        return True
    if value.isascii():  # nearly every identifier: nothing else to normalize
        return value.strip().lower() in PLACEHOLDERS
    return _folded(value) in PLACEHOLDERS


def _folded(value: str) -> str:
    """``value`` trimmed of whitespace and invisible characters, then compared the way
    Unicode defines a caseless match that ignores compatibility forms (NFKC, casefold):
    full-width "NULL" (U+FF2E...), "NULL" and "null" are one value."""
    text = unicodedata.normalize("NFKC", value)
    trimmed = None
    while trimmed != text:  # both kinds may interleave ("\ufeff null")
        trimmed, text = text, text.strip().strip(_INVISIBLE)
    text = unicodedata.normalize("NFKC", text.casefold())
    for turkic, latin in _TURKIC_I:
        text = text.replace(turkic, latin)
    return text


def usable(value: str | None) -> str | None:
    return None if is_placeholder(value) else value
