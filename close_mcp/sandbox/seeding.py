"""Deterministic, realistic demo organization, seeded area by area.

The same seed number always produces the same objects (ids, names, values); only the
timestamps move with the wall clock so that the Event Log's 30-day window stays live.
Each area module contributes its own part (``seed`` for org-wide objects, ``seed_lead``
for the objects of one lead), called here in a fixed order so the random stream is stable.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from close_mcp.sandbox.ids import IdFactory, iso, now_utc
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo


@dataclass
class SeedCtx:
    rng: random.Random
    store: OrgStore
    now: datetime
    org_created: datetime
    boot: RequestInfo | None = None
    custom_fields: dict[str, str] = field(default_factory=dict)  # seeded field name -> id

    @property
    def ids(self) -> IdFactory:
        return self.store.ids

    @property
    def user_ids(self) -> list[str]:
        return list(self.store.users)

    def stamp(self, obj: Obj, when: datetime) -> Obj:
        assert self.boot is not None
        return self.store.stamp_new(obj, self.boot, when)


@dataclass
class LeadSeed:
    """One seeded lead, handed to the child areas in turn."""

    lead: Obj
    company: str
    slug: str
    created: datetime
    contacts: list[Obj] = field(default_factory=list)


def seed_organization(seed: int = 7, leads: int = 260, name: str = "Acme Demo Co") -> OrgStore:
    from close_mcp.sandbox.areas import (
        activities,
        contacts,
        custom_fields,
        opportunities,
        tasks,
        users_org,
    )
    from close_mcp.sandbox.areas import (
        leads as lead_area,
    )

    rng = random.Random(seed)
    ids = IdFactory(rng)
    now = now_utc()
    org_created = now - timedelta(days=400)
    store = OrgStore(ids=ids, org={"id": ids.new("orga"), "name": name, "date_created": iso(org_created)})
    sc = SeedCtx(rng, store, now, org_created)
    users_org.seed(sc)
    custom_fields.seed(sc)
    seen: set[str] = set()
    for i in range(leads):
        one = lead_area.seed_lead(sc, i, seen)
        for area in (contacts, opportunities, activities, tasks):
            area.seed_lead(sc, one)
    seed_more_areas(sc, seed)
    return store


def seed_more_areas(sc: SeedCtx, seed: int) -> None:
    """Areas beyond the core seed after the leads exist, each with a random stream of its own, so
    adding an area never changes the data (or IDs) the core areas seeded."""
    from close_mcp.sandbox.areas import AREAS, CORE_AREAS

    for area in AREAS:
        if area not in CORE_AREAS and hasattr(area, "seed"):
            rng = random.Random(f"{seed}:{area.__name__}")
            area.seed(SeedCtx(rng, sc.store, sc.now, sc.org_created))
