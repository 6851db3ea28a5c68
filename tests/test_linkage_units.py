"""The link-key normalisation (yhlaw.linkage.normalise_key, the rule of core.normalise_link_key):
no services. tests/test_linkage.py holds the SQL function equal to it on every key loaded."""

import pytest

from yhlaw.linkage import normalise_key

CLEAN = "(2022)浙0110民初123号"


@pytest.mark.parametrize("typed", [
    "（2022）浙0110民初123号",          # full-width brackets
    "(2022) 浙0110民初123号",           # a stray space (what the clerk's "(202 2)…" becomes too)
    "(202 2)浙0110民初123号",
    "〔2022〕浙0110民初123号",          # the bracket judgments print
    "（２０２２）浙０１１０民初１２３号",  # full-width digits
    "\u3000(2022)浙0110民初123号\t",     # ideographic space, tab
])
def test_typing_variants_normalise_to_the_clean_key(typed):
    assert normalise_key(typed) == CLEAN


def test_a_wrong_digit_is_not_repaired():
    # No normalisation can know which digit was meant: the party key fallback has to find it.
    assert normalise_key("(2022)浙0110民初124号") != CLEAN


def test_other_systems_keys_and_empty_values():
    assert normalise_key("YHXF2022 010100003") == "YHXF2022010100003"
    assert normalise_key("ＹＨＴＪ２０２２０１０１０００１２") == "YHTJ2022010100012"
    assert normalise_key("   ") is None and normalise_key("") is None and normalise_key(None) is None


def test_a_clean_key_is_unchanged():
    assert normalise_key(CLEAN) == CLEAN
