"""Pure rules of the 12-digit statistical division code (2+2+2+3+3): levels, prefixes, subtree ranges.

Because the code is hierarchical, "this region and everything below" is a range of codes
[prefix000…, prefix999…]; every table keys its region by code, so scope filters are index range scans
without joins, whatever the number of regions.
"""

import re

PROVINCE, PREFECTURE, COUNTY, TOWNSHIP, VILLAGE = 1, 2, 3, 4, 5
LEVEL_NAMES = {PROVINCE: "省", PREFECTURE: "市", COUNTY: "县", TOWNSHIP: "乡镇", VILLAGE: "村"}
# Significant digits at each level.
PREFIX_LENGTH = {PROVINCE: 2, PREFECTURE: 4, COUNTY: 6, TOWNSHIP: 9, VILLAGE: 12}
_CODE_RE = re.compile(r"[0-9]{12}")


class RegionCodeError(ValueError):
    pass


def normalize_code(code: str) -> str:
    """Accept 6-, 9- or 12-digit codes (padding with zeros); return the 12-digit form or raise."""
    if len(code or "") == 12 and code.isascii() and code.isdigit() and code[:2] != "00":
        return code  # fast path: already normalized (bulk imports call this for every row)
    text = (code or "").strip()
    if re.fullmatch(r"[0-9]{6}|[0-9]{9}", text):
        text = text.ljust(12, "0")
    if not _CODE_RE.fullmatch(text):
        raise RegionCodeError(f"行政区划代码“{code}”无效：应为12位数字（如 500101001001）。")
    if text[:2] == "00":
        raise RegionCodeError(f"行政区划代码“{code}”无效：前两位省级代码不能为00。")
    return text


def level_of(code: str) -> int:
    """The level of a 12-digit code, read from which parts are non-zero."""
    code = normalize_code(code)
    if code[9:] != "000":
        if code[6:9] == "000":
            raise RegionCodeError(f"行政区划代码“{code}”无效：村级代码的乡镇部分不能为000。")
        return VILLAGE
    if code[6:9] != "000":
        return TOWNSHIP
    if code[4:6] != "00":
        return COUNTY
    if code[2:4] != "00":
        return PREFECTURE
    return PROVINCE


def prefix_of(code: str) -> str:
    code = normalize_code(code)
    return code[: PREFIX_LENGTH[level_of(code)]]


def subtree_range(code: str) -> tuple[str, str]:
    """Lowest and highest 12-digit codes of the region and everything below it (inclusive)."""
    prefix = prefix_of(code)
    return prefix.ljust(12, "0"), prefix.ljust(12, "9")


def is_within(code: str, ancestor: str) -> bool:
    """True when `code` is `ancestor` itself or lies below it."""
    lo, hi = subtree_range(ancestor)
    return lo <= normalize_code(code) <= hi


def ancestor_codes(code: str) -> list[str]:
    """Codes of every level above `code`, province first (the region itself excluded)."""
    code = normalize_code(code)
    level = level_of(code)
    return [code[: PREFIX_LENGTH[lvl]].ljust(12, "0") for lvl in range(PROVINCE, level)]


def is_proper_ancestor(ancestor: str, code: str) -> bool:
    """True when `ancestor` lies strictly above `code` in the hierarchy (same prefix, higher level)."""
    ancestor, code = normalize_code(ancestor), normalize_code(code)
    return ancestor != code and level_of(ancestor) < level_of(code) and is_within(code, ancestor)


def parent_code_of(code: str) -> str | None:
    """The code of the level above, derived from the code (None for a province).

    Municipalities such as Chongqing have prefecture-level parts (5001 市辖区); a county's parent is the
    prefecture code even when the data source files it directly under the province — the import decides.
    """
    code = normalize_code(code)
    level = level_of(code)
    if level == PROVINCE:
        return None
    return code[: PREFIX_LENGTH[level - 1]].ljust(12, "0")
