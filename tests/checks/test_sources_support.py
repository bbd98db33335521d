"""Helpers and fixtures for the shared-data source tests (imported by test_sources*.py; no tests here)."""

import io

import pytest
from stdnum import luhn
from stdnum.cn import ric, uscc

from yikatong.core.scope import Scope

TODAY = "2026-03-16"


def make_id(prefix: str = "500101", birth: str = "19580314", seq: str = "123") -> str:
    body = f"{prefix}{birth}{seq}"
    return body + ric.calc_check_digit(body + "0")


def ids(n: int, prefix: str = "500101", birth: str = "19600101") -> list[str]:
    return [make_id(prefix, birth, f"{i:03d}") for i in range(n)]


def bad_check_digit(number: str) -> str:
    last = "0" if number[-1] == "X" else str((int(number[-1]) + 1) % 10)
    return number[:-1] + last


def make_card(body: str = "621700000012345678") -> str:
    return body + luhn.calc_check_digit(body)


def make_uscc(body: str = "91500101MA5U00000") -> str:
    return body[:17] + uscc.calc_check_digit(body[:17])


def csv_bytes(header: str, rows: list[str], *, bom: bool = False) -> bytes:
    text = "\n".join([header, *rows]) + "\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def upload(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


@pytest.fixture(autouse=True)
def fixed_today(settings):
    settings.YIKATONG_TODAY = TODAY
    settings.YIKATONG_SOURCE_IMPORT_WORKERS = 0


@pytest.fixture
def scopes(world):
    class _Scopes(dict):
        def __missing__(self, key):
            value = self[key] = Scope.for_user(world.users[key])
            return value

    return _Scopes()


def run_import(actor, source: str, data: bytes, *, data_date=None, name: str = "data.csv", progress=None):
    """Start and run one import synchronously; returns the SourceImport as stored."""
    from yikatong.checks.sources import source_import_run, source_import_start

    imp = source_import_start(actor=actor, source=source, fileobj=upload(data), original_name=name,
                              data_date=data_date)
    kwargs = {"progress": progress} if progress else {}
    imp = source_import_run(source_import_id=imp.pk, **kwargs)
    imp.refresh_from_db()
    return imp


HEADERS = {
    "household": "身份证号,姓名,户号,行政区划代码",
    "death": "身份证号,姓名,死亡日期",
    "ssc_card": "身份证号,姓名,社保卡银行账号,开户银行,金融功能状态",
    "public_staff": "身份证号,姓名,工作单位",
    "vehicle": "身份证号,姓名,号牌号码,车辆类型,登记日期",
    "enterprise": "身份证号,姓名,企业名称,统一社会信用代码,身份",
    "real_estate": "身份证号,姓名,不动产数量,建筑面积",
    "cadre_relative": "身份证号,姓名,干部身份证号,干部姓名,关系",
}
