import random, time, collections
from tests.core.test_region_import import generated_rows, write
from yikatong.core.scope import Scope
from yikatong.core.services import regions as svc

def test_phases(tmp_path, db, monkeypatch):
    acc = collections.Counter()
    for name in ["_check_file", "_existing", "_upsert_rows", "refresh_full_names", "_audit_import"]:
        fn = getattr(svc, name)
        def wrap(*a, _fn=fn, _n=name, **k):
            t = time.perf_counter(); r = _fn(*a, **k); acc[_n] += time.perf_counter() - t; return r
        monkeypatch.setattr(svc, name, wrap)
    rows = list(generated_rows())
    for label in ["sorted", "shuffled"]:
        if label == "shuffled":
            random.Random(7).shuffle(rows)
            from django.db import connection; connection.cursor().execute("DELETE FROM core_region")
        path = write(tmp_path, "code,name,parent_code\n" + "".join(f"{c},{n},\n" for c, n in rows))
        acc.clear(); t = time.perf_counter()
        r = svc.region_import_csv(actor=Scope.system(), path_or_file=path)
        print(label, round(time.perf_counter() - t, 2), {k: round(v, 2) for k, v in acc.items()}, r.created)
