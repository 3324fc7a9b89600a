"""HubSpot's activity exports of a lead history: e-mail events, calls (with a few unanswered
ones), meetings (booked on the website or by sales), form submissions and page views."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.exporting.common import iso_space, kind_mask

EMAIL_EVENTS = {
    "email_sent": ("SENT", "Sent"),
    "email_open": ("OPEN", "Opened"),
    "email_click": ("CLICK", "Clicked"),
    "unsubscribe": ("UNSUBSCRIBED", "Unsubscribed"),
}
FORMS = (
    (("web", "download", "whitepaper"), "Whitepaper: lead scoring guide"),
    (("web", "download", "case_study"), "Case study download"),
    (("web", "demo_request", "contact"), "Book a demo"),
    (("web", "trial_signup", "product"), "Start your free trial"),
    (("web", "newsletter_signup", "newsletter"), "Newsletter sign-up"),
)
PAGES = {
    "pricing": "/pricing",
    "case_study": "/case-studies/acme",
    "product": "/product/scoring",
    "blog": "/blog/post",
    "docs": "/docs/setup",
    "careers": "/careers/open-roles",
    "webinar": "/webinars/pipeline",
    "contact": "/contact",
    "whitepaper": "/resources/guide",
    "newsletter": "/newsletter",
}


def activity_tables(touches: pd.DataFrame, rng: np.random.Generator, pick: int) -> dict:
    """File name part -> table; ``pick``: 0 for internal names, 1 for English labels."""
    return {
        "email-events": _by_kind(touches, EMAIL_EVENTS, "hs_email_event_type", "email", pick),
        "calls": _calls(touches, rng, pick),
        "meetings": _meetings(touches, pick),
        "form-submissions": _forms(touches, pick),
        "page-views": _page_views(touches),
    }


def _rows(touches, mask, column_values: dict) -> pd.DataFrame:
    rows = touches[mask]
    return pd.DataFrame(
        {
            "contact_id": rows["lead_id"].to_numpy(),
            "hs_timestamp": iso_space(rows["occurred_at"]),
            **{k: (v(rows) if callable(v) else v) for k, v in column_values.items()},
        }
    )


def _by_kind(touches, kinds, column, channel, pick) -> pd.DataFrame:
    parts = [
        _rows(touches, kind_mask(touches, channel, action, None), {column: names[pick]})
        for action, names in kinds.items()
    ]
    return pd.concat(parts, ignore_index=True)


def _calls(touches, rng, pick) -> pd.DataFrame:
    calls = _rows(
        touches,
        kind_mask(touches, "sdr_call", "call_connected", None),
        {
            "hs_call_duration": lambda r: (
                (r["duration_s"] * 1000).round().astype("Int64").to_numpy()
            ),
            "hs_call_status": ("COMPLETED", "Completed")[pick],
        },
    )
    missed = calls.sample(frac=0.03, random_state=int(rng.integers(1 << 31))).assign(
        hs_call_status=("NO_ANSWER", "No answer")[pick], hs_call_duration=None
    )
    return pd.concat([calls, missed], ignore_index=True)


def _meetings(touches, pick) -> pd.DataFrame:
    parts = []
    for channel, page, source in (
        ("web", "contact", ("MEETINGS_PUBLIC", "Meetings link")),
        ("sdr_call", None, ("CRM_UI", "CRM UI")),
    ):
        rows = _rows(
            touches,
            kind_mask(touches, channel, "meeting_booked", page),
            {"hs_meeting_source": source[pick]},
        )
        held = pd.to_datetime(rows["hs_timestamp"]) + pd.Timedelta(days=2)
        parts.append(
            rows.rename(columns={"hs_timestamp": "hs_createdate"}).assign(
                hs_timestamp=iso_space(held)
            )
        )
    return pd.concat(parts, ignore_index=True)


def _forms(touches, pick) -> pd.DataFrame:
    return pd.concat(
        [
            _rows(touches, kind_mask(touches, *kind), {"hs_form_title": title})
            for kind, title in FORMS
        ],
        ignore_index=True,
    )


def _page_views(touches) -> pd.DataFrame:
    def url(rows: pd.DataFrame) -> np.ndarray:
        paths = rows["page_type"].astype(object).map(PAGES).fillna("/p/landing")
        return ("https://www.example.com" + paths + "/" + rows.index.astype(str)).to_numpy()

    return _rows(
        touches,
        kind_mask(touches, "web", "page_view"),
        {"hs_url": url, "hs_time_on_page": lambda r: r["duration_s"].to_numpy()},
    )
