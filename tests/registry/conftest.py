"""Fixtures of the registry tests: valid identity numbers made on the spot, scopes of the `world` users,
a fixed "today"."""

import pytest
from stdnum import luhn
from stdnum.cn import ric

from yikatong.core.scope import Scope

GST = "500101001000"  # 高笋塘街道 (collector)
GST_VILLAGE = "500101001001"  # 高笋塘社区
TB = "500101002000"  # 太白街道 (collector2)
TB_VILLAGE = "500101002001"
WZ = "500101000000"
FL_VILLAGE = "500102001001"  # 敦仁社区, 涪陵区 (collector_other, finance_other)


def make_id(prefix: str = "500101", birth: str = "19580314", seq: str = "123") -> str:
    """A resident ID with the right check digit (seq odd = male, even = female in its last digit)."""
    body = f"{prefix}{birth}{seq}"
    return body + ric.calc_check_digit(body + "0")  # stdnum ignores the last character


def make_card(body: str = "621700000012345678") -> str:
    """A UnionPay card number (62…) with a valid Luhn digit."""
    return body + luhn.calc_check_digit(body)


def bad_luhn(card: str) -> str:
    return card[:-1] + str((int(card[-1]) + 1) % 10)


def make_uscc(body: str = "91500101MA5U000000") -> str:
    from stdnum.cn import uscc

    return body[:17] + uscc.calc_check_digit(body[:17])


@pytest.fixture(autouse=True)
def today(settings):
    settings.YIKATONG_TODAY = "2026-03-16"


@pytest.fixture
def scopes(world):
    class _Scopes(dict):
        def __missing__(self, key):
            value = self[key] = Scope.for_user(world.users[key])
            return value

    return _Scopes()
