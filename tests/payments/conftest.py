"""Fixtures of the money path, on top of the collection fixtures (tests/applications/conftest.py):

- `pay`: the `flow` world with five approved applications of WZ-001 (300.00 monthly, 2026-03, 高笋塘社区)
  for persons p1..p5 with activated social security cards, and a 2026 budget indicator of WZ-001 of
  100,000.00 held by 万州区财政局 (WZ-CZJ). Today is 2026-03-10 (a Tuesday).
- `tests.payments.factory` builds plans/batches directly through the models, for tests of later steps that
  must not depend on the earlier services.
"""

from dataclasses import dataclass, field

import pytest

from tests.applications.conftest import flow, li, zhang  # noqa: F401  (fixtures re-exported)
from tests.applications.helpers import submitted
from yikatong.applications.services.approval import application_approve
from yikatong.policies.services.indicators import indicator_receive

PEOPLE = [("p1", "王一"), ("p2", "王二"), ("p3", "王三"), ("p4", "王四"), ("p5", "王五")]


@dataclass
class Pay:
    flow: object
    people: dict = field(default_factory=dict)
    applications: list = field(default_factory=list)
    indicator: object = None

    def scope(self, key: str):
        return self.flow.scope(key)

    @property
    def world(self):
        return self.flow.world

    def set_today(self, value: str) -> None:
        self.flow.set_today(value)


@pytest.fixture
def pay(flow):  # noqa: F811
    p = Pay(flow=flow)
    for seq, (key, name) in enumerate(PEOPLE, start=21):
        p.people[key] = flow.person(key, name=name, seq=seq)
    apps = submitted(flow, *p.people.values())
    civil = flow.scope("civil")
    for app in apps:
        application_approve(actor=civil, application_id=app.pk, note="审核通过")
        app.refresh_from_db()
    p.applications = apps
    p.indicator = indicator_receive(actor=flow.scope("finance"), doc_no="万州财社〔2026〕3号",
                                    received_on="2026-03-06", amount="100000.00", source_level="county",
                                    policy_code="WZ-001", fiscal_year=2026, region_code="500101000000")
    flow.set_today("2026-03-10")
    return p
