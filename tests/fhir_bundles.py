"""Small hand-made FHIR R4 bundles for the importer's edge cases, shaped like Synthea's and payers' exports."""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

HL7 = "http://terminology.hl7.org/CodeSystem/adjudication"
CARIN = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
BLUE_BUTTON = "https://bluebutton.cms.gov/resources/codesystem/adjudication"
VARIABLES = "https://bluebutton.cms.gov/resources/variables/"
SNOMED = "http://snomed.info/sct"


def money(value, currency: str = "USD") -> dict:
    return {"value": value, "currency": currency}


def adjudication(system: str, code: str, value, display: str = "", currency: str = "USD") -> dict:
    return {"category": {"coding": [{"system": system, "code": code, "display": display}]},
            "amount": money(value, currency)}


def blue_button(name: str, value) -> dict:
    return adjudication(BLUE_BUTTON, VARIABLES + name, value)


def patient(pid: str = "p1", *, family: str = "Rivera", given: str = "Sam", born: str = "1980-02-03",
            language: str | None = "en-US", **extra) -> dict:
    resource = {"resourceType": "Patient", "id": pid, "name": [{"use": "official", "family": family, "given": [given]}],
                "birthDate": born,
                "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                     "code": "MR"}]}, "value": f"MRN-{pid}"}],
                "address": [{"line": ["1 Main Street"], "city": "Springfield", "state": "MA", "postalCode": "01101"}]}
    if language:
        resource["communication"] = [{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]}}]
    resource.update(extra)
    return resource


def encounter(eid: str, pid: str = "p1", *, start: str = "2026-10-05T09:00:00-05:00", kind: str = "AMB",
              code: str = "185349003", display: str = "Encounter for check up (procedure)") -> dict:
    return {"resourceType": "Encounter", "id": eid, "status": "finished", "class": {"code": kind},
            "type": [{"coding": [{"system": SNOMED, "code": code, "display": display}]}],
            "subject": {"reference": f"urn:uuid:{pid}"},
            "participant": [{"individual": {"reference": "urn:uuid:dr1"}}],
            "period": {"start": start, "end": start.replace("T09:", "T10:")},
            "serviceProvider": {"reference": "urn:uuid:org1"}}


def item(sequence: int, code: str, display: str, *, net=None, adjudications=(), system: str = SNOMED,
         encounter_id: str | None = None, **extra) -> dict:
    entry = {"sequence": sequence, "productOrService": {"coding": [{"system": system, "code": code,
                                                                    "display": display}], "text": display}}
    if net is not None:
        entry["net"] = money(net)
    if adjudications:
        entry["adjudication"] = list(adjudications)
    if encounter_id:
        entry["encounter"] = [{"reference": f"urn:uuid:{encounter_id}"}]
    entry.update(extra)
    return entry


def eob(xid: str, items: list[dict], *, pid: str = "p1", total=None, payment=None, payer: str = "private",
        status: str = "active", claim_id: str | None = None, **extra) -> dict:
    resource = {"resourceType": "ExplanationOfBenefit", "id": xid, "status": status, "use": "claim",
                "outcome": "complete", "patient": {"reference": f"urn:uuid:{pid}"},
                "claim": {"reference": f"urn:uuid:{claim_id or 'c-' + xid}"},
                "contained": [{"resourceType": "Coverage", "id": "coverage", "status": "active",
                               "beneficiary": {"reference": f"urn:uuid:{pid}"}, "payor": [{"display": payer}]}],
                "insurance": [{"focal": True, "coverage": {"reference": "#coverage", "display": payer}}],
                "item": items}
    if total is not None:
        resource["total"] = [{"category": {"coding": [{"system": HL7, "code": "submitted"}]}, "amount": money(total)}]
    if payment is not None:
        resource["payment"] = {"amount": money(payment)}
    resource.update(extra)
    return resource


def organisation_and_doctor() -> list[dict]:
    return [{"resourceType": "Organization", "id": "org1", "name": "SPRINGFIELD GENERAL HOSPITAL"},
            {"resourceType": "Practitioner", "id": "dr1", "name": [{"prefix": ["Dr."], "given": ["Ana"],
                                                                    "family": "Lopez"}]}]


def bundle(*resources: dict, bundle_id: str = "b1", kind: str = "collection") -> dict:
    return {"resourceType": "Bundle", "id": bundle_id, "type": kind,
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def checkup_bundle(*, pid: str = "p1", eid: str = "e1", xid: str = "x1", start: str = "2026-10-05T09:00:00-05:00",
                   flu_net="140.52", coinsurance="28.104000000000003", paid="112.41600000000001", total="265.52",
                   payer: str = "private", language: str | None = "en-US", bundle_id: str = "b1") -> dict:
    """One patient, one check-up: the visit priced only in the total (125.00) and a flu shot line."""
    flu = item(2, "140", "Influenza, seasonal, injectable, preservative free", system="http://hl7.org/fhir/sid/cvx",
               net=Decimal(flu_net), servicedPeriod={"start": start, "end": start}, adjudications=[
                   blue_button("line_coinsrnc_amt", Decimal(coinsurance)),
                   blue_button("line_prvdr_pmt_amt", Decimal(paid)),
                   blue_button("line_sbmtd_chrg_amt", Decimal(flu_net)),
                   blue_button("line_alowd_chrg_amt", Decimal(flu_net)),
                   blue_button("line_bene_ptb_ddctbl_amt", 0),
               ])
    visit = item(1, "185349003", "Encounter for check up (procedure)", encounter_id=eid)
    return bundle(patient(pid, language=language), *organisation_and_doctor(), encounter(eid, pid, start=start),
                  eob(xid, [visit, flu], pid=pid, total=Decimal(total), payment=Decimal(paid), payer=payer),
                  bundle_id=bundle_id)


def write(path: Path, document) -> Path:  # noqa: ANN001 (any JSON value)
    """Write ``document``, its Decimals as JSON numbers with every digit, as exporters write them."""
    text = json.dumps(document, default=lambda value: f"__decimal__{value}__")
    path.write_text(re.sub(r'"__decimal__([-0-9.Ee+]+)__"', r"\1", text), encoding="utf-8")
    return path
