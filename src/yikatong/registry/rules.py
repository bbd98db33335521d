"""Pure rules of the registry (no ORM): names, which account kind fits which beneficiary, card statuses,
version snapshots. Each `clean_*` returns the normalized value or raises a DomainError (Chinese message
naming the field and what to do)."""

import re
import unicodedata
from collections.abc import Mapping

from yikatong.core.errors import DomainError
from yikatong.registry.models.accounts import UNPAYABLE_CARD_STATUSES, AccountKind, CardStatus
from yikatong.registry.models.beneficiaries import BeneficiaryKind

NAME_MIN, NAME_MAX = 2, 50
ORG_NAME_MIN, ORG_NAME_MAX = 2, 100
REASON_MAX = 200
BANK_NAME_MAX = 100
ADDRESS_MAX = 200
HOUSEHOLD_MAX = 32

MIDDLE_DOT = "·"
# Separators typed for the middle dot of minority names (买买提·艾力) with different keyboards/IMEs.
_DOT_VARIANTS = str.maketrans({c: MIDDLE_DOT for c in "•・‧∙．.･⋅●"})
_SPACES = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x20000 <= code <= 0x3134F  # extensions B–G: rare characters (生僻字) in real names
        or ch == "〇"
    )


def _is_latin_letter(ch: str) -> bool:
    return ch.isalpha() and ord(ch) < 0x0250  # Latin, Latin-1 and Latin extended A/B


def clean_person_name(name: str | None) -> str:
    """A person's name as on the ID card: 2–50 characters of Chinese characters (with "·" between the
    parts of a minority name) or of Latin letters (with spaces, "·", "-" or "'")."""
    value = unicodedata.normalize("NFC", (name or "")).strip().translate(_DOT_VARIANTS)
    value = _SPACES.sub(" ", value)
    if not value:
        raise DomainError("姓名为空：请填写身份证上的姓名", field="name", code="empty")
    if _DIGIT.search(unicodedata.normalize("NFKC", value)):
        raise DomainError("姓名不能包含数字：请填写身份证上的姓名", field="name", code="digits")
    has_cjk = any(_is_cjk(c) for c in value)
    if has_cjk:
        value = value.replace(" ", "")  # "张 三" typed with a space is 张三
        bad = [c for c in value if not (_is_cjk(c) or c == MIDDLE_DOT)]
        if bad:
            raise DomainError(
                f"姓名含有不允许的字符“{''.join(dict.fromkeys(bad))}”：汉字姓名只能由汉字组成，少数民族姓名用“·”分隔",
                field="name", code="format",
            )
    else:
        bad = [c for c in value if not (_is_latin_letter(c) or c in " ·-'")]
        if bad or not any(_is_latin_letter(c) for c in value):
            raise DomainError(
                f"姓名含有不允许的字符“{''.join(dict.fromkeys(bad)) or value}”：请填写汉字或字母姓名",
                field="name", code="format",
            )
    if value.startswith(MIDDLE_DOT) or value.endswith(MIDDLE_DOT) or MIDDLE_DOT * 2 in value:
        raise DomainError("姓名中的“·”只能用在两部分之间：请核对后重新录入", field="name", code="format")
    if not NAME_MIN <= len(value) <= NAME_MAX:
        raise DomainError(
            f"姓名长度应为 {NAME_MIN}–{NAME_MAX} 个字符，实际为 {len(value)} 个：请填写身份证上的完整姓名",
            field="name", code="length",
        )
    return value


def clean_org_name(name: str | None) -> str:
    value = _SPACES.sub(" ", unicodedata.normalize("NFC", name or "").strip())
    if not value:
        raise DomainError("单位名称为空：请填写营业执照或登记证书上的名称", field="name", code="empty")
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise DomainError("单位名称含有控制字符：请重新录入", field="name", code="format")
    if not ORG_NAME_MIN <= len(value) <= ORG_NAME_MAX:
        raise DomainError(
            f"单位名称长度应为 {ORG_NAME_MIN}–{ORG_NAME_MAX} 个字符，实际为 {len(value)} 个", field="name", code="length"
        )
    return value


def clean_text(value: str | None, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """Trimmed free text (address, bank name, reasons) within its length."""
    text = _SPACES.sub(" ", (value or "").strip())
    if required and not text:
        raise DomainError(f"请填写{label}", field=field, code="required")
    if len(text) > max_length:
        raise DomainError(f"{label}最多 {max_length} 个字符，实际为 {len(text)} 个", field=field, code="length")
    return text


def clean_household_number(value: str | None) -> str:
    text = (value or "").strip().upper()
    if len(text) > HOUSEHOLD_MAX:
        raise DomainError(f"户号最多 {HOUSEHOLD_MAX} 个字符", field="household_number", code="length")
    if text and not re.fullmatch(r"[0-9A-Z\-]+", text):
        raise DomainError("户号只能包含数字、字母和短横线：请按户口簿填写", field="household_number", code="format")
    return text


def short_id(number: str) -> str:
    """The ID in refusal messages: first 6 and last 4 (510102…1234)."""
    return f"{number[:6]}…{number[-4:]}" if len(number) >= 10 else number


# -- accounts ---------------------------------------------------------------------------------------
def default_account_kind(beneficiary_kind: str) -> str:
    """New persons use the social security card [001 §8]; organizations a corporate account."""
    return AccountKind.CORPORATE if beneficiary_kind == BeneficiaryKind.ORGANIZATION else AccountKind.SSC_CARD


def check_account_kind(beneficiary_kind: str, account_kind: str) -> None:
    if account_kind not in AccountKind.values:
        raise DomainError(
            f"账户类型“{account_kind}”无效：应为社会保障卡银行账户、其他银行账户或对公账户", field="kind", code="invalid"
        )
    if beneficiary_kind == BeneficiaryKind.ORGANIZATION:
        if account_kind != AccountKind.CORPORATE:
            raise DomainError("单位补贴对象只能使用对公账户：请填写单位的对公账号", field="kind", code="kind")
    elif account_kind == AccountKind.CORPORATE:
        raise DomainError("个人补贴对象不能使用对公账户：请填写本人社会保障卡银行账户", field="kind", code="kind")


def luhn_rule(account_kind: str) -> bool | None:
    """What to pass as validate_bank_account(require_luhn=…): automatic for cards, never for corporate."""
    return False if account_kind == AccountKind.CORPORATE else None


def clean_exception_reason(account_kind: str, reason: str | None) -> str:
    text = clean_text(reason, field="exception_reason", label="过渡期例外原因", max_length=REASON_MAX)
    if account_kind == AccountKind.OTHER_BANK:
        if not text:
            raise DomainError("使用非社保卡账户须填写过渡期例外原因", field="exception_reason", code="required")
        return text
    return ""  # only a transitional exception carries a reason


_CARD_STATUS_LABELS = {label: value for value, label in CardStatus.choices}
_CARD_STATUS_LABELS.update({"未核验": CardStatus.UNKNOWN, "正常": CardStatus.ACTIVATED, "已挂失": CardStatus.LOST,
                            "已注销": CardStatus.CANCELLED})


def card_status_value(status: str | None) -> str:
    """A card status from its code (activated …) or the Chinese label of the ssc_card source (已激活 …)."""
    text = (status or "").strip()
    if text in CardStatus.values:
        return text
    if text in _CARD_STATUS_LABELS:
        return str(_CARD_STATUS_LABELS[text])
    raise DomainError(
        f"金融功能状态“{text}”无效：应为 已激活、未激活、挂失 或 注销", field="card_status", code="invalid"
    )


CARD_NOT_ACTIVATED_WARNING = "该社保卡未激活金融功能，发放前须提醒本人激活"


def card_status_warning(account_kind: str, card_status: str) -> str:
    """What the page says about a card that cannot receive money [003 §6(二)5]; empty when it can."""
    if account_kind != AccountKind.SSC_CARD or card_status not in UNPAYABLE_CARD_STATUSES:
        return ""
    if card_status == CardStatus.NOT_ACTIVATED:
        return CARD_NOT_ACTIVATED_WARNING
    label = CardStatus(card_status).label
    return f"该社保卡状态为“{label}”，不能发放：请提醒本人到合作银行办理补卡或换卡后更新收款账户"


# -- versions ---------------------------------------------------------------------------------------
SNAPSHOT_FIELDS = ("kind", "name", "id_masked", "id_digest", "gender", "birth_date", "household", "region",
                   "address", "phone_masked", "phone_digest")


def snapshot(state: Mapping) -> dict:
    """The recorded state of one beneficiary version: masked values and digests only, never plain
    identifiers (the mapping must not carry them; unknown keys are dropped)."""
    return {key: ("" if state.get(key) is None else str(state.get(key))) for key in SNAPSHOT_FIELDS}


def state_of(b) -> dict:
    """The snapshot of a beneficiary as it is now (a Beneficiary instance; household loaded or not)."""
    return snapshot({
        "kind": b.kind, "name": b.name, "id_masked": b.id_masked, "id_digest": b.id_digest, "gender": b.gender,
        "birth_date": b.birth_date.isoformat() if b.birth_date else "",
        "household": b.household.number if b.household_id else "", "region": b.region_id, "address": b.address,
        "phone_masked": b.phone_masked, "phone_digest": b.phone_digest,
    })


# Version 1 of a beneficiary registered by a roster import is stored with an empty snapshot (a million-row
# roster would otherwise write a million copies of what the beneficiary rows say). Until the first change
# it IS the beneficiary's current state; the first change writes it out before changing anything
# (services._common.write_out_first_version, and the roster's own phone update). Readers fill it in.
def snapshot_implied(version, b) -> bool:
    return version.version == 1 and not version.snapshot and b.version == 1


def with_implied_snapshots(b, versions) -> list:
    """`versions` (of `b`) with an implied version-1 snapshot filled in (not saved)."""
    versions = list(versions)
    for version in versions:
        if snapshot_implied(version, b):
            version.snapshot = state_of(b)
    return versions
