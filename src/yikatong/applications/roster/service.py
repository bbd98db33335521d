"""Bulk roster import (花名册, SPEC §5.1 / §3.4): one service for the UI upload, the task and the CLI.

    roster_import_start(actor=…, fileobj=…, original_name=…, policy_code=…, period=…)  # UI: store, queue
    roster_import_create(…, organization=org)                                           # CLI: store only
    roster_import_run(roster_import_id=…, progress=…)                                   # the work

How a run goes (docs/roster-import.md):
  A. stage   worker processes parse, validate and encrypt blocks of rows; the main process loads them
             into session-private TEMP tables and reports progress. Whole-file checks follow on the
             staging tables: the same person twice in the file, the year's project library per region.
             Nothing visible is written, and on SQLite no write lock is held.
  B. commit  one transaction: rows of already registered persons are checked against the registry
             (name, region, active account, an open application = "duplicate"); then beneficiaries,
             their version 1, payee accounts and applications (whose first event is implied) are inserted with
             INSERT … SELECT, the refused rows are recorded and the rejected-rows file is stored; the
             import is marked done with its counts and ONE audit event. A crash anywhere leaves no
             part of the import visible; running it again starts over (a done import is never re-run).
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from yikatong.core import audit, clock, workdays
from yikatong.core import regions as region_rules
from yikatong.core.errors import DomainError
from yikatong.core.jobs import ProgressCallback, job_create, job_enqueue, no_progress
from yikatong.core.models import Organization, OrgKind, Region, User
from yikatong.core.scope import Scope
from yikatong.core.services.files import file_abspath, file_store
from yikatong.policies.models import Policy, PolicyStatus
from yikatong.policies.rules import covering_region_codes
from yikatong.policies.services import library_allows, library_require
from yikatong.registry import rules as registry_rules
from yikatong.registry.models import AccountKind, Beneficiary, BeneficiaryKind, BeneficiaryVersion

from .. import rules as app_rules
from .. import workflow
from ..models import RosterImport, RosterRowError
from ..models.applications import CLOSED_STATUSES
from ..selectors import ROSTER_CREATION_REASON
from . import reader, rejected
from .loading import NUMBER_BITS, encode_number, loader_for
from .validate import Context, PolicySnapshot, check_block, duplicate_reason

log = logging.getLogger("yikatong.roster")

MiB = 1024 * 1024
PURPOSE = "roster"
REJECTED_PURPOSE = "roster-rejected"
PERMISSION = "application.collect"
INTERNAL_ERROR = "导入失败：内部错误，已记录日志。请联系系统管理员。"
NO_ROWS = "文件中没有数据行：请在表头下方逐行填写补贴对象后重新上传。"
OUT_OF_SCOPE_EXISTING = ("该证件号码已在其他区划登记，不在您的管辖范围内：如本人户籍已迁入本辖区，"
                         "请由共同的上级部门办理区划变更。")
EVENT_REASON = ROSTER_CREATION_REASON  # the implied first ApplicationEvent (selectors.application_events)
VERSION_REASON = "花名册导入登记"
PHONE_REASON = "花名册导入时补充信息（手机号码）"
EXISTING_PAGE = 5000


def _setting(name: str, default):
    return getattr(settings, name, default)


def max_bytes() -> int:
    """Largest roster file accepted (YIKATONG_ROSTER_MAX_BYTES, default 512 MiB)."""
    return int(_setting("YIKATONG_ROSTER_MAX_BYTES", 512 * MiB))


def worker_count() -> int:
    """Worker processes for parsing/validation/encryption (YIKATONG_ROSTER_WORKERS, default: up to 2)."""
    return int(_setting("YIKATONG_ROSTER_WORKERS", min(2, os.cpu_count() or 1)))


def block_bytes() -> int:
    return int(_setting("YIKATONG_ROSTER_BLOCK_BYTES", MiB))


def pool_min_bytes() -> int:
    """Files smaller than this are processed in the calling process (forking costs more than it saves)."""
    return int(_setting("YIKATONG_ROSTER_POOL_MIN_BYTES", 4 * MiB))


# -- entry points ----------------------------------------------------------------------------------
def _policy_and_period(policy_code: str, period: str) -> tuple[Policy, str]:
    code = str(policy_code or "").strip()
    policy = Policy.objects.filter(code=code).first()
    if policy is None:
        raise DomainError(f"补贴项目 {code or '（空）'} 不存在，请核对补贴项目编码。", field="policy_code")
    if policy.status != PolicyStatus.ACTIVE:
        raise DomainError(f"补贴项目 {code} 未在执行中（{policy.get_status_display()}），不能导入花名册。",
                          field="policy_code")
    period = app_rules.check_period_for_cycle(period, policy.cycle, policy_code=policy.code)
    app_rules.check_period_in_validity(period, policy.valid_from, policy.valid_to, policy_code=policy.code)
    return policy, period


def roster_import_create(*, actor: Scope, fileobj, original_name: str, policy_code: str, period: str,
                         organization: Organization | None = None) -> RosterImport:
    """Keep the uploaded file and record the import (queued). `organization` is the collecting body the
    roster belongs to: the actor's own by default (the CLI names it)."""
    actor.require_write(PERMISSION)
    org = organization
    if org is None:
        if actor.organization_id is None:
            raise DomainError("请指定导入花名册的机构。", field="organization")
        org = Organization.objects.get(pk=actor.organization_id)
    if not org.active:
        raise DomainError(f"机构 {org.name}（{org.code}）已停用，不能导入花名册。", field="organization")
    actor.require_region(org.region_id)
    actor.require_organization(org.pk)
    policy, period = _policy_and_period(policy_code, period)
    with transaction.atomic():
        stored = file_store(actor=actor, fileobj=fileobj, original_name=original_name, purpose=PURPOSE,
                            region_code=org.region_id, organization_id=org.pk)
        return RosterImport.objects.create(policy=policy, period=period, organization=org, region_id=org.region_id,
                                           file=stored, created_by=actor.username)


@transaction.atomic
def roster_import_start(*, actor: Scope, fileobj, original_name: str, policy_code: str, period: str) -> RosterImport:
    """The UI upload: keep the file, record the import and its job, and queue the task that runs it."""
    from ..tasks import roster_import_task

    ri = roster_import_create(actor=actor, fileobj=fileobj, original_name=original_name,
                              policy_code=policy_code, period=period)
    job = job_create(actor=actor, kind="roster.import", label=f"导入花名册：{ri.file.original_name}",
                     region_code=ri.region_id, organization_id=ri.organization_id)
    ri.job = job
    ri.save(update_fields=["job"])
    job_enqueue(roster_import_task, job=job, roster_import_id=str(ri.pk))
    ri.refresh_from_db()
    return ri


def roster_import_run(*, roster_import_id, progress: ProgressCallback = no_progress) -> RosterImport:
    """Run an import and return it as it ended: DONE with its counts, or FAILED with the message that
    refused the whole file (nothing imported). Unexpected errors mark it FAILED and are re-raised.
    A DONE import is returned unchanged (never imported twice)."""
    ri = RosterImport.objects.select_related("policy", "organization", "file").get(pk=roster_import_id)
    if ri.status == RosterImport.Status.DONE:
        return ri
    started = RosterImport.objects.filter(pk=ri.pk).exclude(status=RosterImport.Status.DONE).update(
        status=RosterImport.Status.RUNNING, message="", total_rows=0, accepted=0, rejected=0, duplicates=0,
        finished_at=None,
    )
    if not started:  # finished meanwhile by another run
        ri.refresh_from_db()
        return ri
    try:
        _Run(ri, progress).run()
    except DomainError as exc:
        _fail(ri, exc.message)
    except BaseException:
        log.exception("roster import %s failed", ri.pk)
        _fail(ri, INTERNAL_ERROR)
        raise
    ri.refresh_from_db()
    return ri


def _fail(ri: RosterImport, message: str) -> None:
    RosterImport.objects.filter(pk=ri.pk).exclude(status=RosterImport.Status.DONE).update(
        status=RosterImport.Status.FAILED, message=message[:2000], finished_at=timezone.now(),
    )


def actor_for(ri: RosterImport) -> Scope:
    """Who the import acts for: the uploading user (their scope today), else the platform for the
    organization's region (CLI imports record a `cli:` name, which no user can have)."""
    user = User.objects.select_related("organization").filter(username=ri.created_by).first()
    if user is not None:
        return Scope.for_user(user)
    return Scope.system(ri.region_id, reason=ri.created_by or "system")


# -- the worker side ----------------------------------------------------------------------------------
_CONTEXT: Context | None = None  # set before the pool forks; workers inherit it


def _work(block):
    return check_block(_CONTEXT, block)


@dataclass
class Stats:
    rows: int = 0
    regions: set = field(default_factory=set)
    last_row: int = 0


class _Run:
    def __init__(self, ri: RosterImport, progress: ProgressCallback):
        self.ri = ri
        self.progress = progress
        self.actor = actor_for(ri)
        self.policy = ri.policy
        self.loader = loader_for(ri.pk)

    def run(self) -> None:
        ri = self.ri
        self.policy, self.period = _policy_and_period(self.policy.code, ri.period)
        if not self.actor.covers_region(ri.region_id):
            raise DomainError("导入机构的区划不在您的管辖范围内。")
        path = file_abspath(ri.file)
        with reader.RosterSource(path, max_bytes=max_bytes()) as source:
            self.layout = source.layout
            self.context = self._context(source.layout)
            self.loader.tune()
            try:
                started, cpu_started = time.perf_counter(), time.process_time()
                children_started = _children_cpu()
                self.loader.create()
                stats = self._stage(source, path)
                if stats.rows == 0:
                    raise DomainError(NO_ROWS)
                self.loader.analyze()
                staged = time.perf_counter()
                self.timings = {"stage_cpu_main": f"{time.process_time() - cpu_started:.2f}",
                                "stage_cpu_workers": f"{_children_cpu() - children_started:.2f}"}
                self._reject_later_duplicates()
                self._check_library(stats.regions)
                checked = time.perf_counter()
                with self.loader.around_transaction(), transaction.atomic():
                    locked = RosterImport.objects.select_for_update().get(pk=ri.pk)
                    if locked.status == RosterImport.Status.DONE:
                        return
                    self._commit(stats)
                    before_commit = time.perf_counter()
                self.timings["commit"] = f"{time.perf_counter() - before_commit:.2f}"
                log.info("roster import %s: %d rows; staged in %.1fs, file checks %.1fs, committed in %.1fs %s",
                         ri.pk, stats.rows, staged - started, checked - staged, time.perf_counter() - checked,
                         getattr(self, "timings", {}))
            finally:
                try:
                    self.loader.drop()
                    self.loader.untune()
                except Exception:  # noqa: BLE001 - cleanup must not hide the real error
                    log.warning("roster import %s: could not drop staging tables", ri.pk, exc_info=True)

    def _context(self, layout: reader.Layout) -> Context:
        lo, hi = self.actor.region_lo, self.actor.region_hi
        regions = frozenset(
            Region.objects.filter(code__gte=lo, code__lte=hi, active=True).values_list("code", flat=True)
        )
        policy = self.policy
        snapshot = PolicySnapshot(code=policy.code, standard_type=policy.standard_type,
                                  standard_amount=Decimal(policy.standard_amount), unit_name=policy.unit_name,
                                  tiers=tuple(policy.tiers or ()))
        return Context(layout=layout, policy=snapshot, period=self.period, regions=regions, scope_lo=lo,
                       scope_hi=hi, today=clock.today(), copy_text=connection.vendor == "postgresql")

    # -- A. stage ----------------------------------------------------------------------------------
    def _stage(self, source: reader.RosterSource, path) -> Stats:
        global _CONTEXT
        stats = Stats()
        total = self.layout.size_hint
        self.progress(0, total)
        blocks = source.blocks(block_bytes=block_bytes())
        workers = worker_count()
        if workers < 2 or os.path.getsize(path) < pool_min_bytes():
            for block in blocks:
                self._consume(check_block(self.context, block), stats, total)
            return stats
        from yikatong.core import crypto

        crypto.keyring()  # read the keys once, before forking
        stage_dir = tempfile.mkdtemp(prefix="roster-stage-") if self.loader.stage_files_possible() else None
        _CONTEXT = dataclasses.replace(self.context, stage_dir=stage_dir)
        pool = None
        try:
            pool = multiprocessing.get_context("fork").Pool(workers)
            pending = deque()
            for block in blocks:
                pending.append(pool.apply_async(_work, (block,)))
                if len(pending) > workers:  # bounded: memory does not grow with the file
                    self._consume(pending.popleft().get(), stats, total)
            while pending:
                self._consume(pending.popleft().get(), stats, total)
            pool.close()
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            _CONTEXT = None
            if stage_dir:
                shutil.rmtree(stage_dir, ignore_errors=True)
        return stats

    def _consume(self, result, stats: Stats, total) -> None:
        self.loader.load(result)
        stats.rows += result.rows
        stats.regions |= result.regions
        stats.last_row = max(stats.last_row, result.last_row)
        self.progress(stats.rows, max(total or 0, stats.rows) if total is not None else None)

    def _reject_later_duplicates(self) -> None:
        """A person (or organization) met again further down the file: the first row counts, every later
        one is refused naming it — including when the first row was refused for another reason."""
        column = reader.ID_NUMBER if self.layout.kind == reader.PERSON else reader.CREDIT_CODE
        prefix, suffix = duplicate_reason(self.layout.kind, "\0").split("\0")
        self.loader.reject_later_duplicates(column=column, prefix=prefix, suffix=suffix)

    def _check_library(self, regions: set) -> None:
        """The year's project library, asked once per region of the file (policies.services.library_allows)."""
        year = app_rules.period_year(self.period)
        own_collector = self.ri.organization if self.ri.organization.kind == OrgKind.COLLECTOR else None
        rows, refused = [], {}
        for code in sorted(regions):
            allowed = library_allows(policy=self.policy, region_code=code, year=year)
            if not allowed:
                try:
                    library_require(policy=self.policy, region_code=code, year=year)
                except DomainError as exc:
                    refused[code] = exc.message
            collector = None if own_collector else _nearest_collector(code)
            rows.append((code, 1 if allowed else 0, collector))
        self.loader.add_regions(rows)
        if refused:
            self.loader.reject_disallowed_regions(column=reader.POLICY, value=self.policy.code, reasons=refused)

    # -- B. commit -----------------------------------------------------------------------------------
    def _commit(self, stats: Stats) -> None:
        ri, loader, actor = self.ri, self.loader, self.actor
        kind = BeneficiaryKind.ORGANIZATION if self.layout.kind == reader.ORGANIZATION else BeneficiaryKind.PERSON
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        today = clock.today()
        deadline = workdays.deadline_for(workflow.INITIAL_VERIFICATION, today)
        steps = self.timings
        clock_at = [time.perf_counter(), time.process_time()]

        def step(name):  # seconds per step (wall/cpu of this process) for the log line of the run
            now_at, cpu_at = time.perf_counter(), time.process_time()
            steps[name] = f"{now_at - clock_at[0]:.2f}/{cpu_at - clock_at[1]:.2f}"
            clock_at[:] = [now_at, cpu_at]

        phones_updated = self._match_registered(now)
        step("registry_match")
        loader.fill_map()
        counts = loader.counts()
        offset, number_base = self._number_offset(today)
        step("ids")
        unchecked = loader.references_unchecked()
        new_people = loader.insert_beneficiaries(kind=kind, now=now)
        step("beneficiaries")
        versions = loader.insert_versions(actor=actor.username, now=now, reason=VERSION_REASON)
        step("versions")
        account_kind = AccountKind.CORPORATE if kind == BeneficiaryKind.ORGANIZATION else AccountKind.SSC_CARD
        new_accounts = loader.insert_accounts(account_kind=account_kind, actor=actor.username, now=now)
        step("accounts")
        own_collector = ri.organization_id if ri.organization.kind == OrgKind.COLLECTOR else None
        created = loader.insert_applications(
            number_offset=offset, number_base=number_base, day_text=f"{today:%Y%m%d}", policy_id=self.policy.pk, period=self.period,
            business_line=self.policy.business_line, collector_id=own_collector, import_id=_uuid_param(ri.pk),
            actor=actor.username, today=connection.ops.adapt_datefield_value(today),
            deadline=connection.ops.adapt_datefield_value(deadline), now=now,
        )
        step("applications")
        if unchecked:  # the per-row foreign-key checks were skipped: the same proof, set-based
            loader.references_checked()
            loader.check_references(policy_id=self.policy.pk, collector_id=own_collector, inserted={
                "beneficiaries": new_people, "versions": versions, "accounts": new_accounts,
                "applications": created})
            step("references")
        steps["references_unchecked"] = unchecked
        if created != counts["imported"]:
            raise RuntimeError(f"roster import {ri.pk}: {created} applications for {counts['imported']} rows")
        total_rows = stats.rows
        if counts["imported"] + counts["rejected"] + counts["duplicates"] != total_rows:
            raise RuntimeError(f"roster import {ri.pk}: counts {counts} do not add up to {total_rows} rows")
        amount_total = Decimal(str(loader.amount_total() or 0)).quantize(Decimal("0.01"))
        stored = None
        try:
            stored = self._record_rejections()
            step("rejections")
            message = (f"共 {total_rows} 行：接收 {counts['imported']} 行，拒绝 {counts['rejected']} 行，"
                       f"重复（此前已导入）{counts['duplicates']} 行。")
            RosterImport.objects.filter(pk=ri.pk).update(
                status=RosterImport.Status.DONE, total_rows=total_rows, accepted=counts["imported"],
                rejected=counts["rejected"], duplicates=counts["duplicates"], rejected_file=stored,
                message=message, finished_at=timezone.now(),
            )
            ri.refresh_from_db()
            audit.record(actor=actor, action="roster.import", obj=ri, after={
                "policy": self.policy.code, "period": self.period, "file": ri.file.original_name,
                "sha256": ri.file.sha256, "format": self.layout.format, "kind": kind, "total_rows": total_rows,
                "accepted": counts["imported"], "rejected": counts["rejected"], "duplicates": counts["duplicates"],
                "new_beneficiaries": new_people, "new_accounts": new_accounts, "phones_updated": phones_updated,
                "amount_total": str(amount_total),
                "rejected_file": str(stored.pk) if stored else None,
            })
            step("done")
        except BaseException:
            if stored is not None:  # the row goes with the rollback; the file must not stay behind
                file_abspath(stored).unlink(missing_ok=True)
            raise

    def _match_registered(self, now) -> int:
        """Rows of persons already registered: refuse what contradicts the registry, mark the rest with
        their beneficiary/account (and as duplicates when an application is already open). Returns the
        number of phone numbers filled in."""
        loader = self.loader
        phone_rows = []
        batch_errors, batch_refused, batch_marks = [], [], []

        phones_updated = 0

        def flush():
            nonlocal phones_updated
            loader.add_errors(batch_errors)
            loader.set_not_ok(batch_refused)
            loader.mark_existing(batch_marks)
            if phone_rows:
                self._update_phones(phone_rows, now)
                phones_updated += len(phone_rows)
            for batch in (batch_errors, batch_refused, batch_marks, phone_rows):
                batch.clear()

        id_column = reader.ID_NUMBER if self.layout.kind == reader.PERSON else reader.CREDIT_CODE
        name_column = reader.NAME if self.layout.kind == reader.PERSON else reader.ORG_NAME
        account_column = reader.ACCOUNT if self.layout.kind == reader.PERSON else reader.CORPORATE_ACCOUNT
        for row in loader.existing_rows(policy_id=self.policy.pk, period=self.period,
                                        closed_statuses=CLOSED_STATUSES, page=EXISTING_PAGE):
            (row_no, name, region, acc_digest, phone_digest, id_masked, raw, ben_id, ben_name, ben_region,
             ben_phone, _version, acc_id, ben_acc_digest, open_number) = row
            refusal = None
            if not self.actor.covers_region(ben_region):
                refusal = (id_column, id_masked, OUT_OF_SCOPE_EXISTING)
            elif ben_name != name:
                shown = registry_rules.short_id(id_masked) if self.layout.kind == reader.PERSON else id_masked
                refusal = (name_column, name, f"与已登记姓名不一致：证件号码 {shown} 已登记为 "
                                              f"{_masked_name(ben_name, self.layout.kind)}，请核对")
            elif ben_region != region:
                refusal = (reader.REGION, region, f"行政区划 {region} 与该对象已登记的区划 {ben_region} 不一致："
                                                   "如已迁居，请先在补贴对象登记中办理区划变更")
            elif open_number:
                batch_marks.append((ben_id, acc_id, 1, row_no))
            elif acc_id is not None and ben_acc_digest != acc_digest:
                refusal = (account_column, "", "收款账号与已登记账户不一致，请通过账户变更办理")
            else:
                batch_marks.append((ben_id, acc_id, 0, row_no))
                if phone_digest and phone_digest != ben_phone:
                    phone_rows.append((row_no, ben_id))
            if refusal is not None:
                column, value, reason = refusal
                if column == account_column:
                    value = _masked_account_of(raw, self.layout)
                batch_errors.append((row_no, column, value, reason, raw))
                batch_refused.append(row_no)
            if len(batch_marks) + len(batch_errors) >= EXISTING_PAGE:
                flush()
        flush()
        return phones_updated

    def _update_phones(self, rows: list[tuple[int, int]], now) -> None:
        """Fill in the phone numbers the roster gives for registered persons: a new version each, as
        re-registration does (registry.services: 重复登记时补充信息)."""
        loader = self.loader
        for start in range(0, len(rows), 1000):
            part = rows[start:start + 1000]
            self._write_out_first_versions([ben_id for _, ben_id in part])
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"""UPDATE registry_beneficiary SET
                          phone_enc = (SELECT s.phone_enc FROM {loader.stage} s WHERE s.row_no = %s),
                          phone_digest = (SELECT s.phone_digest FROM {loader.stage} s WHERE s.row_no = %s),
                          phone_masked = (SELECT s.phone_masked FROM {loader.stage} s WHERE s.row_no = %s),
                          version = version + 1, updated_at = %s
                        WHERE id = %s""",
                    [(row_no, row_no, row_no, now, ben_id) for row_no, ben_id in part],
                )
            people = Beneficiary.objects.select_related("household").filter(pk__in=[b for _, b in part])
            BeneficiaryVersion.objects.bulk_create([
                BeneficiaryVersion(beneficiary=b, version=b.version, snapshot=_beneficiary_state(b),
                                   changed_by=self.actor.username, reason=PHONE_REASON)
                for b in people
            ])

    @staticmethod
    def _write_out_first_versions(ids: list[int]) -> None:
        """Before changing registered persons: the version 1 snapshot of those registered by an earlier
        roster import (implied until their first change, registry.rules.snapshot_implied) is stored."""
        people = {b.pk: b for b in Beneficiary.objects.select_related("household").filter(pk__in=ids, version=1)}
        if not people:
            return
        first = [v for v in BeneficiaryVersion.objects.filter(beneficiary_id__in=list(people), version=1)
                 if not v.snapshot]
        for version in first:
            version.snapshot = registry_rules.state_of(people[version.beneficiary_id])
        BeneficiaryVersion.objects.bulk_update(first, ["snapshot"])

    def _number_offset(self, today) -> tuple[int, int]:
        """Application numbers for this import: `SB` + date + base-32 of (offset + application id - base),
        a block of numbers checked free in one index range scan (the unique index stays the final guard).
        Returns (offset, base)."""
        low_id, high_id = self.loader.app_id_range()
        span = high_id - low_id
        if span >= 2**32:
            raise DomainError("花名册行数过多：请分成几个文件分别导入。")
        day = f"{today:%Y%m%d}"
        for _attempt in range(20):
            offset = random.SystemRandom().randrange(0, 2**NUMBER_BITS - 2**33)
            if not self.loader.number_range_taken(encode_number(day, offset), encode_number(day, offset + span)):
                return offset, low_id
        raise DomainError("生成申报编号失败，请重新导入。")

    def _record_rejections(self):
        """RosterRowError rows and the rejected-rows file (same format, same headers + 错误原因)."""
        ri, layout = self.ri, self.layout
        suffix = ".xlsx" if layout.format == "xlsx" else ".csv"
        with tempfile.TemporaryDirectory(prefix="roster-rejected-") as tmp:
            target = Path(tmp) / f"rejected{suffix}"
            batch = []
            with rejected.RejectedWriter(target, layout) as writer:
                for row_no, column, value, reason, raw in self.loader.errors():
                    batch.append(RosterRowError(
                        roster_import_id=ri.pk, row_number=row_no, column=(column or "")[:30],
                        value=(value or "")[:200], reason=(reason or "")[:300],
                        raw=rejected.masked_raw(raw, layout),
                    ))
                    writer.add(row_no, raw, reason)
                    if len(batch) >= 2000:
                        RosterRowError.objects.bulk_create(batch)
                        batch = []
                if batch:
                    RosterRowError.objects.bulk_create(batch)
            if not writer.rows:
                return None
            stem = Path(ri.file.original_name).stem or "花名册"
            with open(target, "rb") as fh:
                return file_store(actor=self.actor, fileobj=fh, original_name=f"{stem}_错误行{suffix}",
                                  purpose=REJECTED_PURPOSE, region_code=ri.region_id,
                                  organization_id=ri.organization_id)


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _uuid_param(value):
    from ..models import RosterImport as model

    return model._meta.pk.get_db_prep_value(value, connection)


def _masked_name(name: str, kind: str) -> str:
    from yikatong.core import masking

    return masking.mask_name(name) if kind == reader.PERSON else name


def _masked_account_of(raw: str | None, layout: reader.Layout) -> str:
    from yikatong.core import masking

    from .validate import raw_cells

    column = reader.ACCOUNT if layout.kind == reader.PERSON else reader.CORPORATE_ACCOUNT
    index = layout.columns.get(column)
    cells = raw_cells(raw)
    return masking.mask_account(cells[index]) if index is not None and index < len(cells) else ""


def _beneficiary_state(b: Beneficiary) -> dict:
    return registry_rules.state_of(b)


def _nearest_collector(region_code: str) -> int | None:
    """The collector in charge of a region (as applications.services does for other entry paths)."""
    codes = covering_region_codes(region_rules.normalize_code(region_code))
    org = (Organization.objects.filter(kind=OrgKind.COLLECTOR, active=True, region_id__in=codes)
           .order_by("-region_id", "code").first())
    return org.pk if org else None
