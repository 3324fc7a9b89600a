"""The compiled JSON batch reader gives pyarrow's arrays, or leaves the body to pyarrow: for
real batches, numbers of every form, and bodies mutated at random, never anything else."""

from __future__ import annotations

import copy
import json

import numpy as np
import pyarrow as pa
import pytest

from serving.decode.columns import batch_schema, pyarrow_requests
from serving.decode.json_reader import JsonBatchReader, json_batch_reader
from serving.scoring import c_libraries

NUMBER_IDS, TEXT_IDS = batch_schema(pa.int64()), batch_schema(pa.string())


@pytest.fixture(scope="module")
def reader(tmp_path_factory) -> JsonBatchReader:
    built = json_batch_reader(tmp_path_factory.mktemp("c-libraries"))
    assert built is not None
    return built


def read_alike(reader: JsonBatchReader, body: bytes, schema: pa.Schema = NUMBER_IDS) -> bool:
    """Whether the compiled reader read ``body``; when it did, its arrays are pyarrow's."""
    ours = reader.requests(body, schema)
    if ours is None:
        return False
    ours.validate(full=True)
    theirs = pyarrow_requests(body, schema)  # raises if pyarrow cannot read what it read
    assert theirs is not None
    assert ours.type == theirs.type
    assert ours.equals(theirs), body[:300]
    return True


def test_real_batches_are_read_as_pyarrow_reads_them(reader, real_leads):
    sparse = copy.deepcopy(real_leads)
    for i, lead in enumerate(sparse):  # optional fields left out, or null
        for key in ("industry", "company_size", "annual_revenue", "country", "has_phone"):
            if i % 2:
                lead["lead"].pop(key, None)
            else:
                lead["lead"][key] = None
        for touch in lead["touches"]:
            touch.pop("page_type", None)
        lead["stage_changes"] = lead["stage_changes"] if i % 3 else []
    text_ids = copy.deepcopy(real_leads)
    for lead in text_ids:
        lead["lead"]["lead_id"] = f"CRM-{lead['lead']['lead_id']}"
    assert sum(len(lead["touches"]) for lead in real_leads) > 100
    for leads, schema, indent in [
        (real_leads, NUMBER_IDS, None),
        (real_leads, NUMBER_IDS, "\t"),
        (sparse, NUMBER_IDS, 2),
        (text_ids, TEXT_IDS, None),
    ]:
        body = json.dumps({"leads": leads}, indent=indent).encode()
        assert read_alike(reader, body, schema)
    assert reader.requests(b' \r\n{"leads": []}\n', NUMBER_IDS) == pyarrow_requests(
        b'{"leads": []}', NUMBER_IDS
    )


def _numbers(rng: np.random.Generator) -> list[str]:
    """Numbers as clients write them: shortest and full repr, exponents of both cases and
    signs, long digit strings (past what a double holds), zeros with and without sign."""
    floats = rng.lognormal(10, 6, 300) * rng.choice([1, -1], 300)
    written = [repr(float(x)) for x in floats] + [f"{x:.17g}" for x in floats]
    written += [f"{x:.3e}" for x in floats[:50]] + [
        f"{x:.2E}".replace("E+", "E") for x in floats[:50]
    ]
    for _ in range(300):
        digits = "".join(rng.choice(list("0123456789"), int(rng.integers(1, 30))))
        cut = int(rng.integers(0, len(digits) + 1))
        text = (digits[:cut].lstrip("0") or "0") + ("." + digits[cut:] if cut < len(digits) else "")
        if rng.random() < 0.3:
            text += f"e{int(rng.integers(-40, 40)):+d}"
        written.append(text)
    return [*written, "0", "-0", "0.0", "-0.0", "1E5", "1e+5", "2.5e-3", "9007199254740993", "1e22"]


def test_numbers_are_rounded_as_pyarrow_rounds_them(reader, lead_request):
    written = _numbers(np.random.default_rng(4))
    leads = []
    for i, number in enumerate(written):
        lead = copy.deepcopy(lead_request)
        lead["lead"]["lead_id"] = i
        lead["lead"]["annual_revenue"] = f"@{number}@"
        lead["lead"]["company_size"] = f"@{-i if i % 2 else i}@"
        lead["touches"] = lead["touches"][:1]
        leads.append(lead)
    body = json.dumps({"leads": leads}).replace('"@', "").replace('@"', "").encode()
    assert read_alike(reader, body)
    revenue = reader.requests(body, NUMBER_IDS).field("lead").field("annual_revenue")
    assert np.signbit(revenue.to_numpy()[written.index("-0")])  # -0 stays negative


@pytest.mark.parametrize(
    "change",
    [
        ('"blog"', '"bl\\u006fg"'),  # an escape
        ('"blog"', '"blög"'),  # a byte past ASCII
        ('"blog"', '"bl\tog"'),  # a control character, which JSON forbids
        ('"duration_s": 59.0', '"duration_s": NaN'),
        ('"duration_s": 59.0', '"duration_s": 1e400'),  # too large for a double
        ('"company_size": 37', '"company_size": 1234567890123456789'),  # 19 digits
        ('"company_size": 37', '"company_size": 37.0'),  # pyarrow refuses it for int64
        ('"company_size": 37', '"company_size": 037'),
        ('"company_size": 37', '"company_size": 37, "company_size": 38'),  # twice
        ('"company_size": 37', '"company_size": 37, "extra": 1'),  # unknown
        ('"company_size": 37', '"company_size": "37"'),  # the wrong kind
        ('"touches": [', '"touches": null, "x": ['),
        ('"has_phone": true', '"has_phone": 1'),
        ('"has_phone": true', '"has_phone": tru'),
    ],
)
def test_what_it_is_not_sure_of_it_leaves_to_pyarrow(reader, change):
    lead = {
        "lead": {"lead_id": 1, "created_at": "2025-01-01T00:00:00", "lead_type": "demo_request",
                 "company_size": 37, "has_phone": True},
        "touches": [{"occurred_at": "2025-01-02T00:00:00", "channel": "web",
                     "action": "page_view", "page_type": "blog", "duration_s": 59.0}],
        "stage_changes": [],
    }  # fmt: skip
    body = json.dumps({"leads": [lead]})
    assert read_alike(reader, body.encode())
    old, new = change
    assert old in body
    assert reader.requests(body.replace(old, new, 1).encode(), NUMBER_IDS) is None


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",  # no list of leads
        b'{"leads": null}',
        b'{"leads": [null]}',
        b'{"leads": [{"lead": null, "touches": [], "stage_changes": []}]}',
        b'{"leads": [{"touches": [], "stage_changes": []}]}',  # no lead
        b'{"leads": []}\n{"leads": []}',  # two documents
        b'{"leads": []} x',
        b'{"leads": [}',
        b'{"leads": [',
    ],
)
def test_documents_that_are_not_one_batch_are_left_to_pyarrow(reader, body):
    assert reader.requests(body, NUMBER_IDS) is None


def _mutated(body: bytes, rng: np.random.Generator) -> bytes:
    alphabet = b'{}[]",:0123456789.eE-+ ntrufals\\\x00\xc3'
    data = bytearray(body)
    for _ in range(int(rng.integers(1, 4))):
        at = int(rng.integers(0, len(data)))
        kind = rng.integers(0, 4)
        if kind == 0:
            del data[at]
        elif kind == 1:
            data.insert(at, alphabet[int(rng.integers(0, len(alphabet)))])
        elif kind == 2:
            data[at] = alphabet[int(rng.integers(0, len(alphabet)))]
        else:  # a stretch of the body repeated: whole keys, values, objects
            end = min(len(data), at + int(rng.integers(1, 40)))
            data[at:at] = data[at:end]
    return bytes(data)


def test_mutated_bodies_are_read_as_pyarrow_reads_them_or_left_to_it(reader, lead_request):
    lead = copy.deepcopy(lead_request)
    lead["touches"] = lead["touches"][:3]
    body = json.dumps({"leads": [lead, lead]}).encode()
    rng = np.random.default_rng(8)
    read = 0
    for _ in range(3_000):
        read += read_alike(reader, _mutated(body, rng))
    assert 100 < read < 2_900  # both ways taken: read alike, and left to pyarrow


def test_without_the_built_library_pyarrow_reads_every_batch(tmp_path, monkeypatch, caplog):
    assert json_batch_reader(None) is None  # compiled code switched off
    monkeypatch.setattr(c_libraries, "library_path", lambda source: tmp_path / "missing.so")
    assert json_batch_reader(tmp_path) is None
    assert "json_reader.c was not built at install time" in caplog.text
    assert "pyarrow reads JSON batches: pip install ." in caplog.text
