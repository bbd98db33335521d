"""Pure rules of collection and approval: periods, application numbers, amounts, notice digests, sampling.

No ORM here: these functions take plain values (or any object with the named attributes), so they are
tested without a database and shared by the single-application service, the roster import and the checks.
"""

import calendar
import datetime as dt
import hashlib
import json
import math
import re
import secrets
from decimal import Decimal, InvalidOperation

from yikatong.core.errors import DomainError
from yikatong.core.money import MoneyError, to_money
from yikatong.policies.rules import max_amount

# -- periods (SPEC §6: `YYYY`, `YYYYQn`, `YYYY-MM`) ---------------------------------------------------
YEAR, QUARTER, MONTH = "year", "quarter", "month"
PERIOD_KIND_LABELS = {YEAR: "年度（如 2026）", QUARTER: "季度（如 2026Q1）", MONTH: "月份（如 2026-03）"}
_YEAR_RE = re.compile(r"^(\d{4})$")
_QUARTER_RE = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
MIN_YEAR, MAX_YEAR = 2000, 2100

# The period shape each payment cycle of a policy uses.
CYCLE_PERIOD_KIND = {"monthly": MONTH, "quarterly": QUARTER, "yearly": YEAR, "one_off": YEAR}
CYCLE_LABELS = {"monthly": "按月", "quarterly": "按季", "yearly": "按年", "one_off": "一次性"}


def normalize_period(text) -> str:
    """Trimmed, upper-case Q (`2026q1` → `2026Q1`)."""
    return str(text or "").strip().upper()


def period_kind(text) -> str:
    """'year', 'quarter' or 'month'; DomainError (Chinese) when the text is none of them."""
    parse_period(text)
    value = normalize_period(text)
    if _YEAR_RE.match(value):
        return YEAR
    if _QUARTER_RE.match(value):
        return QUARTER
    return MONTH


def parse_period(text) -> tuple[dt.date, dt.date]:
    """`2026` | `2026Q1` | `2026-03` → (first day, last day). DomainError with a Chinese message otherwise."""
    value = normalize_period(text)
    if not value:
        raise DomainError("请填写补贴期间，格式为 2026（年度）、2026Q1（季度）或 2026-03（月份）。", field="period")
    if match := _YEAR_RE.match(value):
        year = _check_year(int(match.group(1)), value)
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    if match := _QUARTER_RE.match(value):
        year, quarter = _check_year(int(match.group(1)), value), int(match.group(2))
        first_month = 3 * (quarter - 1) + 1
        last_month = first_month + 2
        return dt.date(year, first_month, 1), dt.date(year, last_month, calendar.monthrange(year, last_month)[1])
    if match := _MONTH_RE.match(value):
        year, month = _check_year(int(match.group(1)), value), int(match.group(2))
        if not 1 <= month <= 12:
            raise DomainError(f"补贴期间“{text}”的月份无效：月份应为 01 至 12。", field="period")
        return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
    raise DomainError(
        f"补贴期间“{text}”格式不正确：应为 2026（年度）、2026Q1（季度）或 2026-03（月份）。", field="period"
    )


def _check_year(year: int, text: str) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DomainError(f"补贴期间“{text}”的年份无效：应在 {MIN_YEAR} 至 {MAX_YEAR} 之间。", field="period")
    return year


def period_year(text) -> int:
    return parse_period(text)[0].year


def check_period_for_cycle(text, cycle: str, *, policy_code: str = "") -> str:
    """The normalized period when its shape matches the policy's payment cycle, else DomainError."""
    value = normalize_period(text)
    kind = period_kind(value)
    wanted = CYCLE_PERIOD_KIND.get(cycle)
    if wanted is None:
        raise DomainError(f"补贴项目 {policy_code} 的发放周期“{cycle}”无效。")
    if kind != wanted:
        raise DomainError(
            f"补贴项目 {policy_code} {CYCLE_LABELS[cycle]}发放，补贴期间应填写{PERIOD_KIND_LABELS[wanted]}，"
            f"而不是“{value}”。",
            field="period",
        )
    return value


def check_period_in_validity(text, valid_from: dt.date, valid_to: dt.date | None, *, policy_code: str = "") -> None:
    """The period must overlap the policy's validity."""
    first, last = parse_period(text)
    if last < valid_from or (valid_to is not None and first > valid_to):
        until = f"至 {valid_to}" if valid_to else "起长期有效"
        raise DomainError(
            f"补贴期间 {normalize_period(text)} 不在补贴项目 {policy_code} 的有效期（{valid_from} {until}）内。",
            field="period",
        )


# -- application numbers --------------------------------------------------------------------------------
# Crockford base32: digits and capitals without I, L, O, U (nothing to misread on paper).
NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NUMBER_PREFIX = "SB"
_NUMBER_RE = re.compile(rf"^{NUMBER_PREFIX}\d{{8}}[{NUMBER_ALPHABET}]{{8}}$")


def new_application_number(day: dt.date) -> str:
    """`SB` + yyyymmdd + 8 random base32 characters, e.g. SB20260305K7Q2M9XD (18 characters)."""
    return f"{NUMBER_PREFIX}{day:%Y%m%d}" + "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(8))


def is_application_number(text: str) -> bool:
    return bool(_NUMBER_RE.match(text or ""))


# -- amounts ---------------------------------------------------------------------------------------------
def clean_quantity(value) -> Decimal | None:
    """Quantity (亩, 人, …): empty → None; otherwise > 0 with at most two decimals."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool | float):
        raise DomainError("补贴数量请以文字或整数填写，不能使用浮点数。", field="quantity")
    try:
        qty = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise DomainError(f"补贴数量“{value}”不是有效的数字。", field="quantity") from None
    if not qty.is_finite():
        raise DomainError(f"补贴数量“{value}”不是有效的数字。", field="quantity")
    if qty <= 0:
        raise DomainError(f"补贴数量“{value}”应大于0。", field="quantity")
    if qty != qty.quantize(Decimal("0.01")):
        raise DomainError(f"补贴数量“{value}”最多保留两位小数。", field="quantity")
    if qty >= Decimal(10) ** 12:
        raise DomainError(f"补贴数量“{value}”超出范围。", field="quantity")
    return qty.quantize(Decimal("0.01"))


def clean_amount(policy_like, amount=None, *, quantity=None, tier: str = "") -> tuple[Decimal, Decimal]:
    """(amount, standard maximum) for one application. The amount defaults to the maximum the standard
    allows; a given amount must be > 0, have at most two decimals and not exceed the maximum."""
    try:
        standard = max_amount(policy_like, quantity, tier or None)
    except DomainError as exc:
        raise DomainError(exc.message, field="quantity" if "数量" in exc.message else "tier") from exc
    if amount is None or (isinstance(amount, str) and not amount.strip()):
        if standard <= 0:
            raise DomainError(f"补贴项目 {policy_like.code} 的补贴标准为0，请填写补贴金额。", field="amount")
        return standard, standard
    try:
        value = to_money(amount)
    except TypeError:
        raise DomainError("补贴金额请以文字、整数或 Decimal 填写，不能使用浮点数。", field="amount") from None
    except MoneyError as exc:
        raise DomainError(f"补贴金额{exc.message.removeprefix('金额')}", field="amount") from None
    if value <= 0:
        raise DomainError(f"补贴金额应大于0，当前为 {value}。", field="amount")
    if value > standard:
        raise DomainError(
            f"补贴金额 {value} 元超过补贴标准上限 {standard} 元（补贴项目 {policy_like.code}），请核对金额。",
            field="amount",
        )
    return value, standard


# -- public notices --------------------------------------------------------------------------------------
def notice_number(region_code: str, policy_code: str, period: str, round_no: int) -> str:
    """GS-<village>-<policy>-<period>-R<round>, e.g. GS-500101001001-WZ-001-2026-03-R1."""
    return f"GS-{region_code}-{policy_code}-{period}-R{round_no}"


def _decimal_text(value) -> str | None:
    if value is None:
        return None
    return f"{Decimal(str(value)).quantize(Decimal('0.01')):f}"


def notice_canonical(*, number: str, policy_code: str, period: str, region_code: str, round_no: int,
                     entries) -> str:
    """The canonical JSON text of a notice's key facts. `entries` are (seq, masked name, masked id, quantity,
    amount); amounts and quantities are written with two decimals, so 300 and 300.00 hash alike."""
    payload = {
        "number": number,
        "policy": policy_code,
        "period": period,
        "region": region_code,
        "round": int(round_no),
        "entries": [
            [int(seq), str(name), str(id_masked), _decimal_text(quantity), _decimal_text(amount)]
            for seq, name, id_masked, quantity, amount in entries
        ],
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def notice_digest(**kwargs) -> str:
    """SHA-256 (hex) of notice_canonical(...): the same on the village board (PDF) and online."""
    return hashlib.sha256(notice_canonical(**kwargs).encode("utf-8")).hexdigest()


# -- sampling for on-site checks -------------------------------------------------------------------------
def clean_ratio(value) -> Decimal:
    """A sampling ratio in (0, 1], given as '0.1', '10%' or a Decimal/int."""
    if isinstance(value, bool | float):
        raise DomainError("抽查比例请以文字或 Decimal 填写，如 0.1 或 10%。", field="ratio")
    text = str(value if value is not None else "").strip()
    percent = text.endswith("%")
    try:
        ratio = Decimal(text.rstrip("%").strip())
    except (InvalidOperation, ValueError):
        raise DomainError(f"抽查比例“{value}”无效：请填写 0 到 1 之间的小数或百分比，如 0.1 或 10%。",
                          field="ratio") from None
    if not ratio.is_finite():
        raise DomainError(f"抽查比例“{value}”无效。", field="ratio")
    if percent:
        ratio /= 100
    if not 0 < ratio <= 1:
        raise DomainError(f"抽查比例“{value}”应大于0且不超过100%。", field="ratio")
    return ratio


def sample_size(population: int, ratio: Decimal) -> int:
    """At least one when anything is there: ceil(population × ratio)."""
    if population <= 0:
        return 0
    return min(population, max(1, math.ceil(Decimal(population) * ratio)))


def select_sample(keys, ratio, seed: str) -> list:
    """A deterministic random sample: order the keys by SHA-256(seed | key) and take the first
    ceil(n × ratio). The same keys, ratio and seed always give the same sample, whatever their order."""
    ratio = clean_ratio(ratio)
    keys = list(dict.fromkeys(keys))
    ranked = sorted(keys, key=lambda key: hashlib.sha256(f"{seed}|{key}".encode()).hexdigest())
    return ranked[: sample_size(len(keys), ratio)]
