"""身份证号: MOD 11-2 check digit, birth date, masking."""

from __future__ import annotations

from datetime import date

import pytest

from backend.services.subjects import idcard

# published sample numbers with known check digits (GB 11643-1999 examples)
KNOWN_VALID = ["11010519491231002X", "110101199003074477"]


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_known_numbers_are_valid(number):
    assert idcard.is_valid(number)
    assert idcard.is_valid(number.lower())  # a lower-case x is accepted and normalised
    assert idcard.is_valid(f"  {number} ")


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_every_other_check_digit_is_refused(number):
    for digit in "0123456789X":
        if digit != number[-1]:
            assert not idcard.is_valid(number[:17] + digit)


@pytest.mark.parametrize(
    "number",
    [
        "",
        "11010519491231002",  # 17 characters
        "1101051949123100211",  # 19
        "11010519491331002X",  # month 13
        "11010518491231002X",  # born before 1900
        "1101051949123100X2",  # X not last
        "110105194912310O2X",  # letter O
        "11010519491231002\u0661",  # a non-ASCII digit
        "".join(chr(0x0660 + int(c)) for c in "11010519491231002") + "X",  # Arabic-Indic digits
    ],
)
def test_malformed_numbers_are_refused(number):
    assert not idcard.is_valid(number)


def test_future_birth_date_is_refused():
    assert not idcard.is_valid(idcard.make("330183", date(date.today().year + 1, 1, 1), 1))


def test_make_builds_valid_numbers():
    for seq in range(50):
        assert idcard.is_valid(idcard.make("330183", date(1985, 6, 15), seq))


def test_mask_keeps_three_and_four():
    assert idcard.mask("33018319850615123X") == "330***********123X"
    assert len(idcard.mask("33018319850615123X")) == 18
