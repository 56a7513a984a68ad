"""Deterministic, realistic demo organization for the sandbox.

The same seed number always produces the same objects (ids, names, values); only the
timestamps move with the wall clock so that the Event Log's 30-day window stays live.
"""

from __future__ import annotations

import random
from datetime import timedelta

from close_mcp.sandbox.ids import IdFactory, iso, iso_naive, now_utc
from close_mcp.sandbox.store import Obj, OrgStore, RequestInfo

FIRST = [
    "Ava",
    "Liam",
    "Noah",
    "Emma",
    "Olivia",
    "Mateo",
    "Sofia",
    "Lucas",
    "Mia",
    "Ethan",
    "Chloe",
    "Arjun",
    "Priya",
    "Kenji",
    "Yuki",
    "Lena",
    "Jonas",
    "Marta",
    "Diego",
    "Fatima",
    "Omar",
    "Grace",
    "Henry",
    "Isla",
    "Jack",
    "Zara",
    "Leo",
    "Nora",
    "Hugo",
    "Elena",
    "Tomás",
    "Aisha",
    "Felix",
    "Ingrid",
    "Ravi",
    "Sara",
]
LAST = [
    "Garcia",
    "Smith",
    "Nguyen",
    "Müller",
    "Rossi",
    "Kowalski",
    "Tanaka",
    "Okafor",
    "Silva",
    "Johnson",
    "Brown",
    "Patel",
    "Kim",
    "Dubois",
    "Larsen",
    "Novak",
    "Haddad",
    "Moreau",
    "Fischer",
    "Costa",
    "Walsh",
    "Ibrahim",
    "Ortiz",
    "Svensson",
    "Chen",
    "Ahmed",
    "Lopez",
    "Schmidt",
    "Jensen",
    "Ferreira",
]
WORD_A = [
    "Blue",
    "North",
    "Bright",
    "Summit",
    "Iron",
    "Silver",
    "Pine",
    "Harbor",
    "Quantum",
    "Red",
    "Atlas",
    "Cedar",
    "Nova",
    "Pioneer",
    "Granite",
    "Lumen",
    "Orbit",
    "Vertex",
    "Willow",
    "Crest",
]
WORD_B = [
    "Logistics",
    "Analytics",
    "Dental",
    "Robotics",
    "Foods",
    "Capital",
    "Labs",
    "Health",
    "Studios",
    "Energy",
    "Freight",
    "Software",
    "Clinics",
    "Outfitters",
    "Media",
    "Systems",
    "Bakery",
    "Legal",
]
SUFFIX = ["Inc", "LLC", "GmbH", "Ltd", "Co", "Group", "AG", "SA", "BV", ""]
CITIES = [
    ("Austin", "TX", "US"),
    ("Denver", "CO", "US"),
    ("Berlin", "", "DE"),
    ("London", "", "GB"),
    ("Toronto", "ON", "CA"),
    ("Lisbon", "", "PT"),
    ("Chicago", "IL", "US"),
    ("Sydney", "NSW", "AU"),
]
TITLES = [
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Operations",
    "Office Manager",
    "Procurement Lead",
    "Founder",
    "Marketing Director",
    "IT Manager",
    "CFO",
]
INDUSTRIES = ["Software", "Healthcare", "Manufacturing", "Retail", "Logistics", "Finance", "Education"]
SOURCES = ["Website", "Referral", "Cold outreach", "Conference", "Partner"]
NOTE_LINES = [
    "Spoke with the team about their current CRM setup; they are outgrowing spreadsheets.",
    "Budget is approved for Q3, decision expected after the security review.",
    "They asked for a case study from a company of similar size in their industry.",
    "Main pain point: reps lose track of follow-ups when deals stall for more than two weeks.",
    "Legal wants to review the DPA before signing; sent our standard template.",
    "Champion is enthusiastic but the CFO is skeptical about the migration effort.",
]
CALL_NOTES = [
    "Left a voicemail, will try again Thursday.",
    "Discovery call went well; next step is a demo.",
    "Pricing discussion; they compare us with two other vendors.",
    "Quick check-in, no blockers.",
]
SUBJECTS = [
    "Following up on our call",
    "Proposal for {co}",
    "Re: pricing questions",
    "Demo recording and next steps",
    "Intro: {co} x Acme Demo",
]


def _email_body(rng: random.Random, contact_name: str, company: str) -> tuple[str, str]:
    paragraphs = [rng.choice(NOTE_LINES) for _ in range(rng.randint(4, 9))]
    text = (
        f"Hi {contact_name.split()[0]},\n\n"
        + "\n\n".join(paragraphs)
        + f"\n\nBest,\nThe Acme Demo team\n\n-- \nSent to {company}. Unsubscribe: https://example.com/u"
    )
    html = (
        '<html><body><div style="font-family:Arial,sans-serif;font-size:14px;color:#222">'
        + f"<p>Hi {contact_name.split()[0]},</p>"
        + "".join(f'<p style="margin:0 0 12px 0">{p}</p>' for p in paragraphs)
        + '<p>Best,<br>The Acme Demo team</p><hr><p style="font-size:11px;color:#888">'
        + f'Sent to {company}. <a href="https://example.com/u">Unsubscribe</a></p></div></body></html>'
    )
    return text, html


def seed_organization(seed: int = 7, leads: int = 260, name: str = "Acme Demo Co") -> OrgStore:
    rng = random.Random(seed)
    ids = IdFactory(rng)
    now = now_utc()
    org_created = now - timedelta(days=400)
    org = {
        "id": ids.new("orga"),
        "name": name,
        "currency": "USD",
        "currency_symbol": "$",
        "status": "active",
        "date_created": iso(org_created),
        "date_updated": iso(org_created),
    }
    store = OrgStore(ids=ids, org=org)

    for first, last, role in [
        ("Dana", "Whitfield", "admin"),
        ("Marco", "Bellini", "user"),
        ("Keiko", "Sato", "user"),
        ("Sam", "Okoye", "restricteduser"),
    ]:
        uid = ids.new("user")
        store.users[uid] = {
            "id": uid,
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}@acme-demo.example",
            "image": None,
            "membership_id": ids.new("memb"),
            "role_id": role,
            "date_created": iso(org_created),
            "date_updated": iso(org_created),
            "last_used_timezone": "America/New_York",
        }
    user_ids = list(store.users)
    admin = user_ids[0]
    boot = RequestInfo(user_id=admin, request_id=ids.new("req"), method="POST", path="/api/v1/seed/")

    for label in ["Potential", "Qualified", "Bad Fit", "Customer", "Churned"]:
        sid = ids.new("stat")
        store.lead_statuses[sid] = {"id": sid, "label": label}
    for pname, statuses in [
        (
            "Sales",
            [
                ("Demo Scheduled", "active"),
                ("Proposal Sent", "active"),
                ("Negotiation", "active"),
                ("Won", "won"),
                ("Lost", "lost"),
            ],
        ),
        ("Renewals", [("Upcoming", "active"), ("Renewed", "won"), ("Churned", "lost")]),
    ]:
        pid = ids.new("pipe")
        store.pipelines[pid] = {
            "id": pid,
            "name": pname,
            "organization_id": org["id"],
            "date_created": iso_naive(org_created),
            "date_updated": iso_naive(org_created),
            "statuses": [
                {"id": ids.new("stat"), "label": lbl, "type": typ, "pipeline_id": pid}
                for lbl, typ in statuses
            ],
        }

    def custom_field(kind: str, fname: str, ftype: str, choices: list[str] | None = None) -> str:
        cid = ids.new("cf")
        store.custom_fields[kind][cid] = store.stamp_new(
            {
                "id": cid,
                "name": fname,
                "description": None,
                "type": ftype,
                "choices": choices,
                "accepts_multiple_values": False,
                "editable_with_roles": [],
                "referenced_custom_type_id": None,
                "back_reference_is_visible": False,
            },
            boot,
            org_created,
        )
        return cid

    cf_industry = custom_field("lead", "Industry", "choices", INDUSTRIES)
    cf_employees = custom_field("lead", "Employees", "number")
    cf_source = custom_field("lead", "Lead Source", "choices", SOURCES)
    cf_linkedin = custom_field("contact", "LinkedIn", "text")
    cf_product = custom_field("opportunity", "Product", "choices", ["Starter", "Growth", "Enterprise"])

    statuses = list(store.lead_statuses)
    opp_statuses = [s for p in store.pipelines.values() for s in p["statuses"]]
    seen_names: set[str] = set()
    for i in range(leads):
        while True:
            company = f"{rng.choice(WORD_A)} {rng.choice(WORD_B)} {rng.choice(SUFFIX)}".strip()
            if company not in seen_names:
                seen_names.add(company)
                break
        created = now - timedelta(days=rng.uniform(1, 360), seconds=i)
        city, state, country = rng.choice(CITIES)
        slug = company.split()[0].lower() + company.split()[1].lower()
        lead_id = ids.new("lead")
        lead = store.stamp_new(
            {
                "id": lead_id,
                "name": company,
                "description": f"{rng.choice(INDUSTRIES)} company in {city}.",
                "url": f"https://www.{slug}.example",
                "status_id": rng.choice(statuses),
                "source": None,
                "addresses": [
                    {
                        "label": "business",
                        "address_1": f"{rng.randint(1, 999)} Main St",
                        "address_2": None,
                        "city": city,
                        "state": state,
                        "zipcode": f"{rng.randint(10000, 99999)}",
                        "country": country,
                    }
                ],
                "integration_links": [],
                f"custom.{cf_industry}": rng.choice(INDUSTRIES),
                f"custom.{cf_employees}": rng.choice([5, 12, 40, 120, 300, 1500]),
                f"custom.{cf_source}": rng.choice(SOURCES),
            },
            boot,
            created,
        )
        store.leads[lead_id] = lead
        if (now - created).days < 30:
            store.emit("lead", "created", lead, boot, when=created)

        contacts: list[Obj] = []
        for _ in range(rng.randint(1, 4)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            cid = ids.new("cont")
            contact = store.stamp_new(
                {
                    "id": cid,
                    "lead_id": lead_id,
                    "name": f"{first} {last}",
                    "title": rng.choice(TITLES),
                    "emails": [
                        {
                            "email": f"{first.lower()}.{last.lower()}@{slug}.example".replace(
                                "ü", "u"
                            ).replace("á", "a"),
                            "type": "office",
                            "is_unsubscribed": False,
                        }
                    ],
                    "phones": [
                        {
                            "phone": f"+1512{rng.randint(1000000, 9999999)}",
                            "type": rng.choice(["office", "mobile"]),
                        }
                    ],
                    "urls": [],
                    f"custom.{cf_linkedin}": f"https://linkedin.example/in/{first.lower()}{last.lower()}",
                },
                boot,
                created,
            )
            store.contacts[cid] = contact
            contacts.append(contact)

        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            status = rng.choice(opp_statuses)
            oid = ids.new("oppo")
            store.opportunities[oid] = store.stamp_new(
                {
                    "id": oid,
                    "lead_id": lead_id,
                    "status_id": status["id"],
                    "value": rng.choice([50000, 120000, 250000, 900000, 4800]),
                    "value_period": rng.choice(["one_time", "monthly", "annual"]),
                    "confidence": rng.choice([10, 25, 50, 75, 90]),
                    "note": rng.choice(NOTE_LINES),
                    "contact_id": contacts[0]["id"],
                    "user_id": rng.choice(user_ids),
                    "date_won": (created + timedelta(days=20)).date().isoformat()
                    if status["type"] == "won"
                    else None,
                    f"custom.{cf_product}": rng.choice(["Starter", "Growth", "Enterprise"]),
                },
                boot,
                created,
            )

        for k in range(rng.randint(1, 4)):
            when = min(created + timedelta(days=k * 3 + rng.random()), now - timedelta(minutes=k + 1))
            aid = ids.new("acti")
            contact = rng.choice(contacts)
            base = {
                "id": aid,
                "lead_id": lead_id,
                "contact_id": contact["id"],
                "user_id": rng.choice(user_ids),
                "activity_at": iso(when),
                "users": [],
            }
            kind = rng.choice(["Note", "Call", "Email"])
            if kind == "Note":
                body = " ".join(rng.choice(NOTE_LINES) for _ in range(rng.randint(1, 3)))
                base.update(
                    _type="Note", note=body, note_html=f"<body><p>{body}</p></body>", title=None, pinned=False
                )
            elif kind == "Call":
                base.update(
                    _type="Call",
                    direction=rng.choice(["inbound", "outbound"]),
                    status="completed",
                    disposition=rng.choice(["answered", "vm-left", "no-answer"]),
                    duration=rng.randint(0, 1800),
                    phone=contact["phones"][0]["phone"],
                    source="External",
                    note=rng.choice(CALL_NOTES),
                    recording_url=None,
                )
            else:
                text, html = _email_body(rng, contact["name"], company)
                base.update(
                    _type="Email",
                    status="sent",
                    direction=rng.choice(["outgoing", "incoming"]),
                    sender='"Dana Whitfield" <dana@acme-demo.example>',
                    to=[contact["emails"][0]["email"]],
                    cc=[],
                    bcc=[],
                    subject=rng.choice(SUBJECTS).format(co=company),
                    body_text=text,
                    body_html=html,
                    body_preview=text[:120],
                    date_sent=iso(when),
                    thread_id=ids.new("acti"),
                    attachments=[],
                    opens=[],
                )
            store.activities[aid] = store.stamp_new(base, boot, when)

        for _ in range(rng.choice([0, 1, 1, 2])):
            tid = ids.new("task")
            due = (now + timedelta(days=rng.randint(-10, 20))).date().isoformat()
            store.tasks[tid] = store.stamp_new(
                {
                    "id": tid,
                    "_type": "lead",
                    "lead_id": lead_id,
                    "assigned_to": rng.choice(user_ids),
                    "text": rng.choice(
                        [
                            "Send proposal",
                            "Follow up on demo",
                            "Call back about pricing",
                            "Share case study",
                            "Check in after trial",
                        ]
                    ),
                    "date": due,
                    "is_complete": rng.random() < 0.25,
                    "contact_id": None,
                    "object_type": None,
                    "object_id": None,
                    "priority": None,
                    "resolution": None,
                },
                boot,
                created,
            )
    return store
