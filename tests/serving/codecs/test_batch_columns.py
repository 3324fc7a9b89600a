"""The column-wise batch reader is a fast path, never a second judge: whatever it accepts, the
schema accepts too and it scores identically; whatever it doubts goes to the schema. Bodies are
read as the API reads them: by its compiled JSON reader, which leaves some to pyarrow's."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from serving.decode.body import read_batch
from serving.decode.columns import read_valid_batch
from serving.encode.rows import rows_of
from serving.scoring.scorer import score_requests, score_visible
from tests.serving.codecs.test_batch_body import _broken

NOW = datetime.now(UTC)
MAX_TOUCHES = 200  # the invalid cases below pass it by repeating touches


def by_columns(models, compiled, body: bytes) -> list[dict] | None:
    batch = read_valid_batch(body, max_leads=1000, max_touches=MAX_TOUCHES, now=NOW, **compiled)
    if batch is None:
        return None
    n = len(batch.lead_ids)
    return rows_of(
        score_visible(models, batch.visible, batch.lead_ids, batch.as_of, reasons=[True] * n, top=3)
    )


def by_schema(models, body: bytes) -> list[dict] | None:
    """The per-lead path's results, or None if it finds any lead (or the body) invalid."""
    try:
        valid, items = read_batch(body, "application/json", max_leads=1000, max_touches=MAX_TOUCHES)
    except (RequestValidationError, HTTPException):
        return None
    if len(valid) < len(items):
        return None
    leads = [lead for _, lead in valid]
    return rows_of(score_requests(models, leads, now=NOW, reasons=[True] * len(leads), top=3))


@pytest.fixture
def models(client):
    return client.app.state.models.current


@pytest.fixture
def compiled(client) -> dict:
    """The API's compiled readers, as it passes them to ``read_valid_batch``."""
    state = client.app.state
    assert state.json_reader is not None  # built at start-up
    return {"reader": state.json_reader}


def _offset(stamp: str, hours: int, digits: int) -> str:
    """The same instant written with a UTC offset and ``digits`` of fractional seconds."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    local = moment.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=hours)
    text = local.isoformat(timespec="seconds")
    if digits:
        text += f".{local.microsecond:06d}"[: digits + 1]
    return f"{text}{hours:+03d}:00"


def test_real_leads_read_column_wise_score_exactly_as_through_the_schema(
    models, compiled, real_leads
):
    for ids in ("numbers", "text"):
        leads = copy.deepcopy(real_leads)
        for i, lead in enumerate(leads):
            if ids == "text":
                lead["lead"]["lead_id"] = f"CRM-{lead['lead']['lead_id']}"
            if i % 3 == 1:  # other ways to write the same instants
                for touch in lead["touches"]:
                    touch["occurred_at"] = _offset(touch["occurred_at"] + "Z", i % 5 - 2, i % 7)
            if i % 3 == 2:
                for key in ("industry", "company_size", "country", "has_phone"):
                    lead["lead"].pop(key, None)
                for touch in lead["touches"]:
                    touch.pop("page_type", None)
                    touch.pop("duration_s", None)
        body = json.dumps({"leads": leads}, indent=2 if ids == "text" else None).encode()
        columns = by_columns(models, compiled, body)
        assert columns is not None, ids  # compact and pretty-printed bodies alike
        assert columns == by_schema(models, body)
    mixed = copy.deepcopy(real_leads[:2])
    mixed[1]["lead"]["lead_id"] = "CRM-2"  # valid, but not one column type: the schema's way
    body = json.dumps({"leads": mixed}).encode()
    assert by_columns(models, compiled, body) is None
    assert by_schema(models, body) is not None


def test_every_invalid_lead_is_left_to_the_schema(models, compiled, lead_request):
    created = lead_request["lead"]["created_at"]
    good = copy.deepcopy(lead_request)

    def changed(edit) -> dict:
        lead = copy.deepcopy(good)
        edit(lead)
        return lead

    cases = [lead for lead, _ in _broken(lead_request)] + [
        changed(lambda x: x["lead"].update(lead_id=-1)),
        changed(lambda x: x["lead"].update(lead_id="")),
        changed(lambda x: x["lead"].update(lead_id="x" * 129)),
        changed(lambda x: x["lead"].update(lead_type=None)),
        changed(lambda x: x["lead"].pop("created_at")),
        changed(lambda x: x["lead"].update(company_size=10_000_001)),
        changed(lambda x: x["lead"].update(company_size=3.0)),
        changed(lambda x: x["lead"].update(annual_revenue=-1)),
        changed(lambda x: x["lead"].update(has_phone=1)),
        changed(lambda x: x["lead"].update(country="")),
        changed(lambda x: x["lead"].update(source="billboard")),
        changed(lambda x: x.update(as_of="2000-01-01T00:00:00Z")),  # before created_at
        changed(lambda x: x.update(as_of="2099-01-01T00:00:00Z")),
        changed(lambda x: x.update(as_of=1_700_000_000)),
        changed(lambda x: x.pop("touches")),  # fine for the schema, left to it all the same
        changed(lambda x: x["touches"][0].update(duration_s=86_401)),
        changed(lambda x: x["touches"][0].update(duration_s="5")),
        changed(lambda x: x["touches"][0].update(action=None)),
        changed(lambda x: x["touches"][0].update(page_type="faq")),
        changed(lambda x: x["touches"][0].update(occurred_at="2025-01-07")),
        changed(lambda x: x["touches"][0].update(occurred_at="2025-01-07 10:00:00Z")),
        changed(lambda x: x["touches"][0].update(occurred_at="2025-02-30T10:00:00Z")),
        changed(lambda x: x.update(touches=x["touches"] * 100)),  # past MAX_TOUCHES
        changed(lambda x: x.update(stage_changes=[{"stage": "won", "changed_at": created}] * 2)),
        changed(
            lambda x: x.update(
                stage_changes=[
                    {"stage": "sql", "changed_at": created},
                    {"stage": "mql", "changed_at": x["touches"][-1]["occurred_at"]},
                ]
            )
        ),
        changed(
            lambda x: x.update(
                stage_changes=[
                    {"stage": "won", "changed_at": created},
                    {"stage": "lost", "changed_at": x["touches"][-1]["occurred_at"]},
                ]
            )
        ),
    ]
    assert by_columns(models, compiled, json.dumps({"leads": [good]}).encode()) is not None
    for i, lead in enumerate(cases):
        body = json.dumps({"leads": [good, lead]}).encode()
        assert (
            read_valid_batch(body, max_leads=9, max_touches=MAX_TOUCHES, now=NOW, **compiled)
            is None
        ), i
    for body in (b"null", b"\xef\xbb\xbf" + json.dumps({"leads": [good]}).encode(), b"[]"):
        assert (
            read_valid_batch(body, max_leads=9, max_touches=MAX_TOUCHES, now=NOW, **compiled)
            is None
        )
    too_many = json.dumps({"leads": [good] * 10}).encode()
    assert (
        read_valid_batch(too_many, max_leads=9, max_touches=MAX_TOUCHES, now=NOW, **compiled)
        is None
    )


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "web", "email", "mql", "won", "DE", "2025-01-08T14:02:00Z"])
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2)
    ),
    max_leaves=4,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _paths(inner, (*prefix, i))


def _at(value, path):
    """The value at ``path``, or None where an earlier edit took the way away."""
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_whatever_it_accepts_the_schema_accepts_and_scores_the_same(
    models, compiled, lead_request, data
):
    """Random edits anywhere in a valid batch: a new value, a removed key, an unknown key."""
    good = copy.deepcopy(lead_request)
    good["touches"] = good["touches"][:4]
    batch = {"leads": [good, copy.deepcopy(good)]}
    paths = list(_paths(batch))[1:]
    # values from elsewhere in the batch make edits that are often still valid, and so test
    # what the reader accepts, not only what it refuses
    leaves = [v for p in paths if not isinstance(v := _at(batch, p), dict | list)]
    values = st.sampled_from(leaves) | st.integers(0, 86_400) | _JSON
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = _at(batch, path[:-1])
        key = path[-1]
        if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            parent[key] = data.draw(values)
        elif isinstance(parent, dict) and key in parent:
            action = data.draw(st.sampled_from(["replace", "remove", "add"]))
            if action == "replace":
                parent[key] = data.draw(values)
            elif action == "remove":
                del parent[key]
            else:
                extra = data.draw(st.sampled_from(["extra", "Lead_id", "stage"]))
                parent[extra] = data.draw(values)
    body = json.dumps(batch).encode()
    columns = by_columns(models, compiled, body)
    event("read column-wise" if columns is not None else "left to the schema")
    if columns is not None:
        assert columns == by_schema(models, body)
