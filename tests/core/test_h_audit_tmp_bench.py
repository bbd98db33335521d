import datetime as dt, time, resource
from yikatong.core import audit
from yikatong.core.models import AuditEvent, AuditHead

def test_bench(db):
    prev = audit.GENESIS
    batch = []
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    N = 100_000
    for i in range(1, N + 1):
        e = AuditEvent(seq=i, occurred_at=t0 + dt.timedelta(seconds=i), actor_id=3, actor_username="t_finance",
                       organization_code="WZ-CZJ", action="batch.approve", object_type="payments.batch", object_id=str(i),
                       region_code="500101001001", before={"state": "submitted", "amount": "100.00"},
                       after={"state": "approved", "amount": "100.00", "审核意见": "同意"}, reason="复核通过", client_ip="10.0.0.1",
                       prev_hash=prev)
        e.hash = audit.event_hash(audit._hashed_fields(e), prev); prev = e.hash
        batch.append(e)
        if len(batch) == 5000:
            AuditEvent.objects.bulk_create(batch); batch = []
    AuditHead.objects.create(id=1, seq=N, hash=prev)
    s = time.perf_counter()
    r = audit.check_chain()
    el = time.perf_counter() - s
    print(f"\nBENCH verified {r.count} ok={r.ok} in {el:.1f}s = {r.count/el:.0f}/s rss={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f}MB")
