"""Roster import (花名册): a valid N-row CSV with unique persons, imported by roster_import_run.

Set-up (not timed): regions 重庆市 → 万州区 → 高笋塘街道 → 20 villages, a civil-affairs department, the
street office as collector, policy BENCH-001 (monthly, fixed 300.00) in the 2026 library of 万州区, and
the CSV written to a temporary folder (generation is not timed either). Timed: roster_import_run.
Checked: every row accepted, as many applications and beneficiaries as rows, the sum of the amounts
equals the sum written to the file (to the fen).

Extra figures: peak_rss_workers_mb (the largest worker process) and the phases' seconds.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import resource
import tempfile
import time
from decimal import Decimal
from pathlib import Path

HEADERS = ["姓名", "身份证号", "社保卡银行账号", "开户银行", "手机号码", "行政区划代码", "补贴项目编码",
           "补贴期间", "补贴数量", "补贴金额", "备注"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
TOWNSHIP = "500101001000"
VILLAGES = [f"500101001{n:03d}" for n in range(1, 21)]


def _ensure_tables() -> list[str]:
    """Tables of apps whose migrations are missing (none once the lead's migrations exist)."""
    from django.apps import apps
    from django.db import connection

    existing = set(connection.introspection.table_names())
    missing = [m for label in ("policies", "registry", "applications") for m in apps.get_app_config(label).get_models()
               if m._meta.db_table not in existing]
    if missing:
        with connection.schema_editor() as editor:
            for model in missing:
                editor.create_model(model)
    return [m._meta.label for m in missing]


def _world():
    from yikatong.core import clock
    from yikatong.core.models import BusinessLine, Organization, OrgKind, Region
    from yikatong.core.regions import level_of, parent_code_of
    from yikatong.policies.models import LibraryEntry, Policy, PolicyStatus

    names = {"500000000000": "重庆市", "500100000000": "市辖区", "500101000000": "万州区", TOWNSHIP: "高笋塘街道"}
    names.update({code: f"第{n}村" for n, code in enumerate(VILLAGES, 1)})
    for code, name in names.items():
        Region.objects.create(code=code, name=name, level=level_of(code), parent_id=parent_code_of(code),
                              full_name=name)
    dept = Organization.objects.create(code="B-MZJ", name="万州区民政局", kind=OrgKind.DEPARTMENT,
                                       region_id="500101000000", business_line=BusinessLine.CIVIL_AFFAIRS)
    collector = Organization.objects.create(code="B-GST", name="高笋塘街道办事处", kind=OrgKind.COLLECTOR,
                                            region_id=TOWNSHIP)
    policy = Policy.objects.create(
        code="BENCH-001", name="基准测试补助", business_line=BusinessLine.CIVIL_AFFAIRS, department=dept,
        region_id="500101000000", level_set="county", funding_sources=[{"level": "county", "share": "100"}],
        standard_type="fixed", standard_amount=Decimal("300.00"), cycle="monthly", valid_from=dt.date(2026, 1, 1),
        status=PolicyStatus.ACTIVE,
    )
    LibraryEntry.objects.create(year=2026, region_id="500101000000", policy=policy, created_at=clock.now(),
                                created_by="bench")
    return collector


def _resident_id(prefix: str, birth: str, seq: int) -> str:
    body = f"{prefix}{birth}{seq:03d}"
    return body + CHECK[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def _luhn(stem: str) -> str:
    total = 0
    for index, ch in enumerate(reversed(stem)):
        digit = int(ch)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return stem + str((10 - total % 10) % 10)


def write_roster(path: Path, rows: int, seed: int = 2026) -> Decimal:
    """A valid roster of `rows` distinct persons; returns the sum of its amounts."""
    rng = random.Random(seed)
    start = dt.date(1940, 1, 1)
    total = Decimal(0)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write("\ufeff")
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(HEADERS)
        for n in range(rows):
            birth = (start + dt.timedelta(days=n // 900)).strftime("%Y%m%d")
            cents = rng.randrange(10000, 30001)
            amount = Decimal(cents) / 100
            total += amount
            writer.writerow([
                rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if n % 3 else ""),
                _resident_id("500101", birth, n % 900 + 100),
                _luhn(f"6230{n:014d}"),
                "重庆农村商业银行" if n % 4 else "中国邮政储蓄银行",
                f"139{n:08d}" if n % 5 else "",
                VILLAGES[n % len(VILLAGES)],
                "BENCH-001" if n % 2 else "",
                "2026-03" if n % 2 else "",
                "",
                f"{amount:.2f}",
                "" if n % 10 else "老年人",
            ])
    return total


def run(rows: int) -> dict:
    from django.conf import settings
    from django.db.models import Sum

    from yikatong.applications.models import Application, RosterImport
    from yikatong.applications.roster import roster_import_create, roster_import_run
    from yikatong.applications.roster.service import worker_count
    from yikatong.core.scope import Scope
    from yikatong.registry.models import Beneficiary

    created = _ensure_tables()
    settings.YIKATONG_TODAY = "2026-03-02"
    collector = _world()
    with tempfile.TemporaryDirectory(prefix="roster-bench-") as tmp:
        path = Path(tmp) / "花名册.csv"
        expected_total = write_roster(path, rows)
        size_mb = path.stat().st_size / 1024 / 1024
        with open(path, "rb") as fh:
            ri = roster_import_create(actor=Scope.system(TOWNSHIP, reason="cli:bench"), fileobj=fh,
                                      original_name=path.name, policy_code="BENCH-001", period="2026-03",
                                      organization=collector)
    phases = {}
    last = [time.perf_counter()]

    def progress(done, total):
        if total and done >= total and "staged" not in phases:
            phases["staged"] = round(time.perf_counter() - last[0], 2)

    started = time.perf_counter()
    ri = roster_import_run(roster_import_id=ri.pk, progress=progress)
    seconds = time.perf_counter() - started
    if ri.status != RosterImport.Status.DONE:
        raise AssertionError(f"import failed: {ri.message}")
    if (ri.accepted, ri.rejected, ri.duplicates) != (rows, 0, 0):
        errors = list(ri.row_errors.values_list("row_number", "reason")[:5])
        raise AssertionError(f"expected {rows} accepted, got {ri.accepted}/{ri.rejected}/{ri.duplicates}: {errors}")
    apps = Application.objects.filter(roster_import=ri)
    count = apps.count()
    total = apps.aggregate(s=Sum("amount"))["s"]
    if count != rows or Beneficiary.objects.count() != rows:
        raise AssertionError(f"{count} applications / {Beneficiary.objects.count()} beneficiaries for {rows} rows")
    if Decimal(str(total)).quantize(Decimal("0.01")) != expected_total:
        raise AssertionError(f"amount total {total} != {expected_total}")
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    figures = {"rows": rows, "seconds": seconds, "file_mb": round(size_mb, 1), "peak_rss_workers_mb": workers,
               "amount_total": str(expected_total), "workers": worker_count()}
    figures.update({f"seconds_{k}": v for k, v in phases.items()})
    if created:
        figures["tables_created_without_migrations"] = len(created)
    return figures
