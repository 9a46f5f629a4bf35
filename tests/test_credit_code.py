from hypothesis import given
from hypothesis import strategies as st

from chaoyun.identity.credit_code import CHARSET, build, check_char, credit_code_error, is_valid
from chaoyun.identity.reference import SizeClass, size_class

# Real published codes (public business registrations).
KNOWN_VALID = ["91440300708461136T", "91110000802100433B", "914403001922038216"]

body = st.text(alphabet=CHARSET, min_size=8, max_size=8)
division = st.sampled_from(["440511", "440507", "440512", "440515", "440513", "440514", "440523"])


def test_known_codes() -> None:
    for code in KNOWN_VALID:
        assert is_valid(code), code


def test_errors_name_the_problem() -> None:
    assert credit_code_error("123") is not None and "18" in credit_code_error("123")  # type: ignore[operator]
    assert "I, O, S, V" in (credit_code_error("91440300708461136I") or "")
    assert "check character" in (credit_code_error("91440300708461136A") or "")
    assert "division" in (credit_code_error("9144A300708461136T") or "")


@given(division, body)
def test_built_codes_are_valid(div: str, b: str) -> None:
    assert is_valid(build("91", div, b))


@given(division, body, st.integers(0, 17), st.sampled_from(CHARSET))
def test_any_single_substitution_is_caught(div: str, b: str, pos: int, ch: str) -> None:
    code = build("91", div, b)
    changed = code[:pos] + ch + code[pos + 1 :]
    if changed != code:
        assert not is_valid(changed)


@given(division, body, st.integers(0, 16))
def test_adjacent_transpositions_are_caught(div: str, b: str, pos: int) -> None:
    code = build("91", div, b)
    swapped = code[:pos] + code[pos + 1] + code[pos] + code[pos + 2 :]
    if swapped != code:
        assert not is_valid(swapped)


@given(st.text(max_size=30))
def test_validator_never_crashes(s: str) -> None:
    assert isinstance(credit_code_error(s), (str, type(None)))


def test_check_char_table() -> None:
    assert check_char("91440300708461136") == "T"


def test_size_classes_need_both_limits() -> None:
    assert size_class(1200, 50000) == SizeClass.LARGE
    assert size_class(1200, 30000) == SizeClass.MEDIUM  # revenue below the large limit drops a class
    assert size_class(300, 2000) == SizeClass.MEDIUM
    assert size_class(299, 2000) == SizeClass.SMALL
    assert size_class(20, 300) == SizeClass.SMALL
    assert size_class(19, 5000) == SizeClass.MICRO
    assert size_class(500, 299) == SizeClass.MICRO
