"""Public masking of personal data (SPEC §7). Pure functions; empty or None in, empty out.

Rules (the output always has the length of the normalized input, one `*` per hidden character):
  name     keeps the first character (`张*`); a name of three or more characters that starts with a
           compound surname keeps both surname characters (`欧阳**`); a one-character name stays.
  ID       keeps the first 6 and last 4 (`510102********1234`); shorter than 15 characters: all hidden.
  account  keeps the last 4 (`************1234`); shorter than 8 digits: all hidden.
  phone    keeps the first 3 and last 4 (`138****5678`); shorter than 11 digits: all hidden.
  payee    organizations are shown in full, persons as names.
The "all hidden" cases make sure a malformed value never shows more than a well-formed one, nor itself whole.
"""

from yikatong.core.identity import compact_bank_account, compact_mobile, compact_resident_id

MASK = "*"

COMPOUND_SURNAMES = frozenset(
    """
    欧阳 司马 诸葛 上官 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 轩辕 端木 独孤 南宫 西门
    司空 呼延 澹台 公冶 太史 申屠 闻人 万俟 赫连 百里 东郭 南门 羊舌 微生 公羊 梁丘 左丘 第五 钟离
    宗政 濮阳 淳于 单于 太叔 仲孙 鲜于 闾丘 亓官 司寇 子车 颛孙 壤驷 公良 漆雕 乐正 谷梁 拓跋 夹谷
    宰父 段干 东门 公西 巫马 拓拔
    """.split()
)


def mask_name(name: str | None) -> str:
    value = (name or "").strip()
    if len(value) <= 1:
        return value
    keep = 2 if len(value) >= 3 and value[:2] in COMPOUND_SURNAMES else 1
    return value[:keep] + MASK * (len(value) - keep)


def mask_payee_name(name: str | None, is_org: bool) -> str:
    """Organizations (enterprises, cooperatives, village collectives) are public; persons are masked."""
    return (name or "").strip() if is_org else mask_name(name)


def mask_id_number(number: str | None) -> str:
    value = compact_resident_id(number)
    return _keep_ends(value, head=6, tail=4, min_length=15)


def mask_account(number: str | None) -> str:
    value = compact_bank_account(number)
    return _keep_ends(value, head=0, tail=4, min_length=8)


def mask_phone(number: str | None) -> str:
    value = compact_mobile(number)
    return _keep_ends(value, head=3, tail=4, min_length=11)


def _keep_ends(value: str, *, head: int, tail: int, min_length: int) -> str:
    if not value:
        return ""
    if len(value) < min_length:
        return MASK * len(value)
    return value[:head] + MASK * (len(value) - head - tail) + value[len(value) - tail:]
