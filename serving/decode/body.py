"""Reading score requests beyond what the schema says: the per-lead touch limit and batch bodies.

A batch body is parsed as FastAPI would parse a declared body and checked lead by lead, so each
invalid lead is reported in its own slot with the schema's own messages while the others are
still scored. (A batch with nothing wrong rarely gets here: ``serving.decode.columns`` reads it
column-wise first.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from serving.schemas.requests import BatchRequest, ScoreRequest


def check_touches(request: ScoreRequest, cap: int, loc: tuple) -> None:
    if len(request.touches) > cap:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": (*loc, "touches"),
                    "msg": f"at most {cap:,} touches per lead (LEADSCORE_MAX_TOUCHES_PER_LEAD), "
                    f"got {len(request.touches):,}",
                    "input": None,
                }
            ]
        )


def check_lead_count(count: int, max_leads: int) -> None:
    """The request's 422 for a batch of more than ``max_leads`` leads."""
    if count > max_leads:
        raise RequestValidationError(
            [
                {
                    "type": "too_long",
                    "loc": ("body", "leads"),
                    "msg": f"at most {max_leads:,} leads per batch "
                    f"(LEADSCORE_MAX_BATCH_LEADS), got {count:,}",
                    "input": None,
                }
            ]
        )


def _lead_id(raw: Any) -> int | str | None:
    lead = raw.get("lead") if isinstance(raw, dict) else None
    lead_id = lead.get("lead_id") if isinstance(lead, dict) else None
    if isinstance(lead_id, int) and not isinstance(lead_id, bool) and abs(lead_id) < 2**63:
        return lead_id
    if isinstance(lead_id, str) and len(lead_id) <= 128:
        try:
            lead_id.encode("utf-8")
        except UnicodeEncodeError:
            return None
        return lead_id
    return None


def _problems(error: ValidationError) -> list[dict]:
    return [
        {"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]


JSON = "application/json"


def unsupported_media_type(content_type: str | None, accepted: Sequence[str]) -> HTTPException:
    """The 415 for a body sent as none of the ``accepted`` media types, naming them (rather
    than the 422 "Input should be a valid dictionary" that reading it anyway would give)."""
    sent = "no Content-Type"
    if content_type:
        sent = f"Content-Type {content_type.partition(';')[0].strip()[:100]!r}"
    return HTTPException(
        415, f"{sent} is not accepted here: send the body as {' or '.join(accepted)}"
    )


def is_json(content_type: str | None) -> bool:
    """FastAPI's rule for parsing a body as JSON: application/json or application/*+json."""
    main, _, sub = (content_type or "").partition(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _batch(body: bytes, content_type: str | None) -> BatchRequest:
    """The body as FastAPI would hand a declared ``BatchRequest`` parameter to the endpoint, with
    its errors: 422 for no body, a body that is not JSON or not a batch; 400 for bytes that are
    not text (or nest too deep to parse)."""
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    data: Any = body  # not JSON (the route answers 415 first): fails validation, as in FastAPI
    if is_json(content_type):
        try:
            data = json.loads(body)
        except json.JSONDecodeError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", error.pos),
                        "msg": "JSON decode error",
                        "input": {},
                    }
                ]
            ) from error
        except (ValueError, RecursionError) as error:
            raise HTTPException(400, "There was an error parsing the body") from error
    return batch_of(data)


def batch_of(data: Any) -> BatchRequest:
    """``data`` as a ``BatchRequest`` (a list of 1 or more leads, each still unchecked), or the
    request's 422."""
    try:
        return BatchRequest.model_validate(data, from_attributes=True)  # as FastAPI does
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from error


def read_batch(
    body: bytes, content_type: str | None, *, max_leads: int, max_touches: int
) -> tuple[list[tuple[int, ScoreRequest]], list[dict]]:
    """``checked_leads`` of a JSON body. A body that is not a batch at all raises the request's
    422 (or 400)."""
    return checked_leads(
        _batch(body, content_type).leads, max_leads=max_leads, max_touches=max_touches
    )


def checked_leads(
    leads: list, *, max_leads: int, max_touches: int
) -> tuple[list[tuple[int, ScoreRequest]], list[dict]]:
    """(valid leads with their positions, one result slot per lead): an invalid lead's slot
    holds its errors (422 shape, located in the body), a valid one's result is to be filled.
    Too many leads raise the request's 422."""
    check_lead_count(len(leads), max_leads)
    valid: list[tuple[int, ScoreRequest]] = []
    items: list[dict] = []
    for index, raw in enumerate(leads):
        try:
            lead = ScoreRequest.model_validate(raw)
            check_touches(lead, max_touches, ())
        except ValidationError as error:
            problems = _problems(error)
        except RequestValidationError as error:
            problems = [{k: v for k, v in e.items() if k != "input"} for e in error.errors()]
        else:
            valid.append((index, lead))
            items.append({"index": index, "result": None, "error": None})
            continue
        for problem in problems:
            problem["loc"] = ["body", "leads", index, *problem["loc"]]
        items.append(
            {
                "index": index,
                "result": None,
                "error": {"index": index, "lead_id": _lead_id(raw), "errors": problems},
            }
        )
    return valid, items
