"""Which values are placeholders (contract: Identity): the list, case-insensitive, trimmed."""

from __future__ import annotations

import pytest

from profiles.identifiers import is_placeholder


@pytest.mark.parametrize(
    "value",
    ["null", "NULL", " Undefined\t", "[OBJECT object]", "NaN", "-1 ", "", "   ", "\u00a0guest\u00a0", "\u3000none"],
)
def test_the_contracts_placeholders_in_any_case_with_spaces_around_are_placeholders(value):
    assert is_placeholder(value)


@pytest.mark.parametrize("value", ["\ufeffnull", "\u200bundefined\u200b", "\u2060nil", "\ufeff none \u200d", "\u200b"])
def test_invisible_characters_around_a_placeholder_are_trimmed_like_spaces(value):
    assert is_placeholder(value)


# Full-width NULL and undefined, a long s, Turkish-locale UNDEFINED, nil and NIL.
@pytest.mark.parametrize(
    "value",
    [
        "\uff2e\uff35\uff2c\uff2c",
        "\uff55\uff4e\uff44\uff45\uff46\uff49\uff4e\uff45\uff44",
        "fal\u017fe",
        "UNDEF\u0130NED",
        "n\u0131l",
        "N\u0130L",
    ],
)
def test_placeholders_in_other_unicode_case_forms_are_placeholders(value):
    assert is_placeholder(value)


@pytest.mark.parametrize(
    "value", ["alice", "null-1", "0x0", "nul\u0308l", "nul\u0307l", "caf\u00e9", "\uff2e", "00", "undefined user"]
)
def test_real_identifiers_are_not_placeholders(value):
    assert not is_placeholder(value)
