"""A HubSpot export of a lead history: contacts and deals as HubSpot's export writes them, with
internal property names (``hs_object_id``, ``createdate``) or English labels ("Record ID",
"Create Date"), and activity exports (e-mail events, calls, meetings, form submissions, page
views). Leaky fields come along as in a real portal: the lifecycle stage and lead status of
today, the HubSpot score, the number of deals.

HubSpot has no SAL and no lost before a deal, and its employee counts are ranges: ``carried``
says what of the history survives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.paths import output_folder, writing
from features.exporting.common import carried_history, inverse, iso_space, kind_mask
from features.exporting.hubspot_activity import EMAIL_EVENTS, FORMS, activity_tables
from features.history import LeadHistory

SOURCES = {
    "organic_search": ("ORGANIC_SEARCH", "Organic Search"),
    "paid_search": ("PAID_SEARCH", "Paid Search"),
    "linkedin": ("SOCIAL_MEDIA", "Organic Social"),
    "email": ("EMAIL_MARKETING", "Email Marketing"),
    "referral": ("REFERRALS", "Referrals"),
    "podcast": ("OTHER_CAMPAIGNS", "Other Campaigns"),
    "event": ("OFFLINE", "Offline Sources"),
    "partner": ("OTHER_CAMPAIGNS", "Other Campaigns"),
    "direct": ("DIRECT_TRAFFIC", "Direct Traffic"),
    "unknown": ("OTHER_CAMPAIGNS", "Other Campaigns"),
}
SOURCE_CARRIED = {"podcast": "unknown", "partner": "unknown"}  # both become Other Campaigns
INDUSTRIES = {
    "higher_education": ("HIGHER_EDUCATION", "Higher Education"),
    "b2b_services": ("MANAGEMENT_CONSULTING", "Management Consulting"),
    "software_saas": ("COMPUTER_SOFTWARE", "Computer Software"),
    "financial_services": ("FINANCIAL_SERVICES", "Financial Services"),
    "b2b_ecommerce": ("INTERNET", "Internet"),
    "media_publishing": ("PUBLISHING", "Publishing"),
    "commercial_real_estate": ("COMMERCIAL_REAL_ESTATE", "Commercial Real Estate"),
    "staffing": ("STAFFING_AND_RECRUITING", "Staffing and Recruiting"),
    "shipping_logistics": ("LOGISTICS_AND_SUPPLY_CHAIN", "Logistics and Supply Chain"),
    "manufacturing": ("MACHINERY", "Machinery"),
}
RANGES = ((5, "1-5", 3), (25, "5-25", 15), (50, "25-50", 38), (100, "50-100", 75))
RANGES += ((500, "100-500", 300), (1000, "500-1000", 750), (np.inf, "1000+", 2000))
LIFECYCLE = {
    "lead": ("lead", "Lead"),
    "mql": ("marketingqualifiedlead", "Marketing Qualified Lead"),
    "sql": ("salesqualifiedlead", "Sales Qualified Lead"),
    "won": ("customer", "Customer"),
}
STAGE_DATES = {
    "lead": ("hs_lifecyclestage_lead_date", "Became a Lead Date"),
    "mql": (
        "hs_lifecyclestage_marketingqualifiedlead_date",
        "Became a Marketing Qualified Lead Date",
    ),
    "sql": ("hs_lifecyclestage_salesqualifiedlead_date", "Became a Sales Qualified Lead Date"),
    "won": ("hs_lifecyclestage_customer_date", "Became a Customer Date"),
}
LABELS = {
    "hs_object_id": "Record ID",
    "createdate": "Create Date",
    "email": "Email",
    "phone": "Phone Number",
    "hs_analytics_source": "Original Source",
    "lead_type": "Lead Type",
    "lead_category": "Lead Category",
    "industry": "Industry",
    "num_employees": "Number of Employees",
    "annualrevenue": "Annual Revenue",
    "country": "Country/Region",
    "job_level": "Job Level",
    "department": "Department",
    "lifecyclestage": "Lifecycle Stage",
    "hs_lead_status": "Lead Status",
    "hubspotscore": "HubSpot Score",
    "num_associated_deals": "Number of Associated Deals",
    **dict(STAGE_DATES.values()),
    "dealname": "Deal Name",
    "dealstage": "Deal Stage",
    "closedate": "Close Date",
    "hs_date_entered_closedwon": 'Date entered "Closed Won (Sales Pipeline)"',
    "hs_date_entered_closedlost": 'Date entered "Closed Lost (Sales Pipeline)"',
    "associated_contact_ids": "Associated Contact IDs",
    "contact_id": "Contact ID",
    "hs_timestamp": "Activity date",
    "hs_email_event_type": "Email event type",
    "hs_call_duration": "Call duration (ms)",
    "hs_call_status": "Call status",
    "hs_createdate": "Create Date",
    "hs_meeting_source": "Meeting source",
    "hs_form_title": "Form name",
    "hs_url": "Page URL",
    "hs_time_on_page": "Time on page (s)",
}
TIME_LABELS = {"form_submissions": "Conversion date", "page_views": "Viewed at"}


def write_hubspot(
    history: LeadHistory, folder: Path, *, labels: bool = False, seed: int = 0
) -> Path:
    """The exports as CSV files in ``folder``; ``labels``: English headers and values."""
    rng = np.random.default_rng(seed)
    pick = 1 if labels else 0
    leads, touches, stages = history.leads, history.touches, history.stage_changes
    tables = {
        "contacts": _contacts(leads, touches, stages, pick),
        "deals": _deals(stages, pick),
        **activity_tables(touches, rng, pick),
    }
    folder = output_folder(folder)
    for name, frame in tables.items():
        if labels:
            frame = frame.rename(columns=LABELS)
            if name in ("form-submissions", "page-views"):
                frame = frame.rename(columns={"Activity date": TIME_LABELS[name.replace("-", "_")]})
        path = folder / f"hubspot-crm-exports-{name}-2025-01-01.csv"
        with writing(path):
            frame.to_csv(path, index=False)
    return folder


def size_range(sizes: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(HubSpot's range text, the size the preset reads it as) per company size."""
    values = sizes.astype("float64").to_numpy()
    edges = np.array([r[0] for r in RANGES])
    which = np.searchsorted(edges, values, side="left")
    which = np.minimum(which, len(RANGES) - 1)
    text = np.where(np.isnan(values), None, np.array([r[1] for r in RANGES], dtype=object)[which])
    typical = np.where(np.isnan(values), np.nan, np.array([r[2] for r in RANGES])[which])
    return text, typical


def carried(history: LeadHistory) -> LeadHistory:
    """What a HubSpot export carries: company size as its range's typical size, Other Campaigns
    for podcast and partner sources, no has_phone of unknown; lead, mql, sql and won entries
    and the lost of a deal (not SAL, not a lost before SQL); e-mail events, calls, meetings,
    the five forms and page views (with durations of calls and page views)."""
    touches, stages = history.touches, history.stage_changes
    mask = np.zeros(len(touches), dtype=bool)
    for action in EMAIL_EVENTS:
        mask |= kind_mask(touches, "email", action, None)
    calls = kind_mask(touches, "sdr_call", "call_connected", None)
    pages = kind_mask(touches, "web", "page_view")
    mask |= calls | pages
    mask |= kind_mask(touches, "sdr_call", "meeting_booked", None)
    mask |= kind_mask(touches, "web", "meeting_booked", "contact")
    for kind, _ in FORMS:
        mask |= kind_mask(touches, *kind)
    sql_leads = stages.loc[stages["stage"] == "sql", "lead_id"]
    kept = stages["stage"].isin(["lead", "mql", "sql", "won"]).to_numpy(copy=True)
    kept |= ((stages["stage"] == "lost") & stages["lead_id"].isin(sql_leads)).to_numpy()
    leads = history.leads
    source = leads["source"].astype(object).replace(SOURCE_CARRIED)
    columns = {
        "company_size": pd.array(size_range(leads["company_size"])[1], dtype="Float64")
        .round()
        .astype("Int64"),
        "source": pd.Categorical(source, categories=leads["source"].cat.categories),
        "has_phone": leads["has_phone"].fillna(False).astype("boolean"),
    }
    return carried_history(history, mask, kept, columns, calls | pages)


def _stage_times(stages: pd.DataFrame, stage: str) -> pd.Series:
    return (
        stages[stages["stage"] == stage]
        .drop_duplicates("lead_id")
        .set_index("lead_id")["changed_at"]
    )


def _contacts(leads, touches, stages, pick) -> pd.DataFrame:
    ids = leads["lead_id"]
    number = ids.astype(str).to_numpy()
    free = (leads["email_domain_type"] == "free").to_numpy(dtype=bool)
    email = np.where(
        free,
        np.char.add(np.char.add("contact", number), "@gmail.com"),
        np.char.add(np.char.add("contact", number), "@example-company.com"),
    )
    email = np.where(leads["email_domain_type"].isna().to_numpy(), None, email)
    entered = {stage: ids.map(_stage_times(stages, stage)) for stage in STAGE_DATES}
    last = pd.Series(None, index=ids.index, dtype=object)
    for stage in STAGE_DATES:  # funnel order: the latest reached is the stage today
        last = last.where(entered[stage].isna(), LIFECYCLE[stage][pick])
    lost_early = ids.isin(stages.loc[stages["stage"] == "lost", "lead_id"]) & entered["sql"].isna()
    status = np.where(
        lost_early,
        ("UNQUALIFIED", "Unqualified")[pick],
        np.where(
            entered["mql"].notna(), ("IN_PROGRESS", "In Progress")[pick], ("NEW", "New")[pick]
        ),
    )
    status = np.where(entered["sql"].notna(), ("OPEN_DEAL", "Open Deal")[pick], status)
    activity = touches.groupby("lead_id", observed=True).size()
    score = ids.map(activity).fillna(0).to_numpy() * 2 + entered["sql"].notna().to_numpy() * 40
    text, _ = size_range(leads["company_size"])
    frame = pd.DataFrame(
        {
            "hs_object_id": ids.to_numpy(),
            "createdate": iso_space(leads["created_at"]),
            "email": email,
            "phone": np.where(
                leads["has_phone"].fillna(False).to_numpy(dtype=bool),
                np.char.add("+49 40 5550", number),
                None,
            ),
            "hs_analytics_source": inverse(
                {k: v[pick] for k, v in SOURCES.items()}, leads["source"]
            ),
            "lead_type": leads["lead_type"].astype(object).to_numpy(),
            "lead_category": leads["lead_category"].astype(object).to_numpy(),
            "industry": inverse({k: v[pick] for k, v in INDUSTRIES.items()}, leads["industry"]),
            "num_employees": text,
            "annualrevenue": leads["annual_revenue"],
            "country": leads["country"].astype(object).to_numpy(),
            "job_level": leads["job_level"].astype(object).to_numpy(),
            "department": leads["department"].astype(object).to_numpy(),
            "lifecyclestage": last.to_numpy(),
            "hs_lead_status": status,
            "hubspotscore": score,
            "num_associated_deals": entered["sql"].notna().astype(int).to_numpy(),
        }
    )
    for stage, (name, _) in STAGE_DATES.items():
        frame[name] = iso_space(entered[stage])
    return frame


def _deals(stages, pick) -> pd.DataFrame:
    sql = _stage_times(stages, "sql")
    won, lost = _stage_times(stages, "won"), _stage_times(stages, "lost")
    lead = pd.Series(sql.index)
    won_at, lost_at = lead.map(won), lead.map(lost)
    stage = np.where(
        won_at.notna(),
        ("closedwon", "Closed Won")[pick],
        np.where(
            lost_at.notna(),
            ("closedlost", "Closed Lost")[pick],
            ("appointmentscheduled", "Appointment Scheduled")[pick],
        ),
    )
    return pd.DataFrame(
        {
            "hs_object_id": 9_000_000 + lead.to_numpy(),
            "dealname": np.char.add("Deal ", lead.astype(str).to_numpy()),
            "dealstage": stage,
            "createdate": iso_space(sql.to_numpy()),
            "closedate": iso_space(won_at.fillna(lost_at)),
            "hs_date_entered_closedwon": iso_space(won_at),
            "hs_date_entered_closedlost": iso_space(lost_at),
            "associated_contact_ids": lead.astype(str).to_numpy(),
        }
    )
