"""Reading FHIR R4 values the way billing exports write them: references, names, dates, codes and Money.

The pieces ``fhir.py`` builds import records from. Lenient where exports differ in form (a reference as a
``urn:uuid:``, ``Type/id`` or absolute URL; a partial date), strict where money is concerned (every amount a
number in the hospital's currency, matched to its adjudication category by code, never by display text).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from .amounts import needs_rounding, to_minor
from .records import BadInput

# Line code systems the portal names (its dictionary and templates), by their FHIR system URIs. The order
# is the preference when a line carries several codings: billing codes before clinical ones.
CODE_SYSTEMS = {
    "http://www.ama-assn.org/go/cpt": "cpt",
    "urn:oid:2.16.840.1.113883.6.12": "cpt",
    "https://bluebutton.cms.gov/resources/codesystem/hcpcs": "hcpcs",
    "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "hcpcs",
    "urn:oid:2.16.840.1.113883.6.285": "hcpcs",
    "https://www.nubc.org/CodeSystem/RevenueCodes": "revenue",
    "http://terminology.hl7.org/CodeSystem/ex-revenue-center": "revenue",
    "https://bluebutton.cms.gov/resources/variables/rev_cntr": "revenue",
    "http://hl7.org/fhir/sid/cvx": "cvx",
    "http://hl7.org/fhir/sid/ndc": "ndc",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "http://snomed.info/sct": "snomed",
}
_PREFERENCE = {name: rank for rank, name in enumerate(dict.fromkeys(CODE_SYSTEMS.values()))}

# Adjudication categories, matched by system and code (never by display text), to what the portal calls
# them. "paid" is the insurer's payment; "nch_paid" (Medicare's) counts only when no other payment is given.
_HL7 = "http://terminology.hl7.org/CodeSystem/adjudication"
_CARIN = "http://hl7.org/fhir/us/carin-bb/CodeSystem/C4BBAdjudication"
_BLUE_BUTTON = "https://bluebutton.cms.gov/resources/codesystem/adjudication"
_BLUE_BUTTON_VARIABLES = "https://bluebutton.cms.gov/resources/variables/"
CATEGORIES = {
    (_HL7, "submitted"): "submitted", (_HL7, "eligible"): "allowed", (_HL7, "benefit"): "paid",
    (_HL7, "deductible"): "deductible", (_HL7, "copay"): "copay",
    (_CARIN, "submitted"): "submitted", (_CARIN, "eligible"): "allowed", (_CARIN, "benefit"): "paid",
    (_CARIN, "paidtoprovider"): "paid", (_CARIN, "paidtopatient"): "paid_to_patient",
    (_CARIN, "priorpayerpaid"): "prior_payer", (_CARIN, "coinsurance"): "coinsurance",
    (_CARIN, "copay"): "copay", (_CARIN, "deductible"): "deductible", (_CARIN, "noncovered"): "not_covered",
    (_CARIN, "discount"): "discount",
    (_BLUE_BUTTON, "line_sbmtd_chrg_amt"): "submitted", (_BLUE_BUTTON, "line_alowd_chrg_amt"): "allowed",
    (_BLUE_BUTTON, "line_prvdr_pmt_amt"): "paid", (_BLUE_BUTTON, "line_nch_pmt_amt"): "nch_paid",
    (_BLUE_BUTTON, "line_bene_pmt_amt"): "paid_to_patient",
    (_BLUE_BUTTON, "line_bene_prmry_pyr_pd_amt"): "prior_payer",
    (_BLUE_BUTTON, "line_coinsrnc_amt"): "coinsurance", (_BLUE_BUTTON, "line_bene_ptb_ddctbl_amt"): "deductible",
}

# SNOMED CT displays end in a semantic tag, "(procedure)", that means nothing on a bill.
_SEMANTIC_TAG = re.compile(r"\s*\((procedure|finding|regime/therapy|situation|observable entity|qualifier value|"
                           r"substance|product|physical object|disorder|event|record artifact)\)\s*$", re.I)
_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


# --- References -----------------------------------------------------------------------------------------

class Resources:
    """The resources of a bundle (or of NDJSON files), found by the references FHIR allows: a bundle's
    fullUrl (``urn:uuid:…``), ``Type/id``, an absolute URL ending in ``Type/id``, or ``#id`` for a contained one."""

    def __init__(self, entries: Iterable[tuple[str | None, dict]]) -> None:
        self.by_reference: dict[str, dict] = {}
        # NDJSON has no fullUrls, yet its resources may still say "urn:uuid:<id>".
        self.by_uuid: dict[str, dict] = {}
        for full_url, resource in entries:
            if full_url:
                self.by_reference[str(full_url)] = resource
            if resource.get("id"):
                self.by_reference[f"{resource['resourceType']}/{resource['id']}"] = resource
                self.by_uuid.setdefault(f"urn:uuid:{resource['id']}", resource)

    def get(self, reference: object, container: dict | None = None, kind: str | None = None) -> dict | None:
        text = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(text, str):
            return None
        found = None
        if text.startswith("#"):
            for contained in (container or {}).get("contained", []) or []:
                if isinstance(contained, dict) and contained.get("id") == text[1:]:
                    found = contained
        else:
            found = self.by_reference.get(text) or self.by_uuid.get(text)
            if found is None:
                match = _REFERENCE.search(text)
                if match:
                    found = self.by_reference.get(f"{match[1]}/{match[2]}")
        if found is not None and kind and found.get("resourceType") != kind:
            return None
        return found

    def key(self, reference: object, kind: str | None = None) -> str | None:
        """The ``Type/id`` a reference names, whether or not the resource is here. A ``urn:uuid:`` reference
        to a resource not in the file names ``kind/uuid`` when the element can only refer to one ``kind``
        (Synthea and many exporters use the resource id as the uuid)."""
        found = self.get(reference)
        if found is not None and found.get("id"):
            return f"{found['resourceType']}/{found['id']}"
        text = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(text, str):
            return None
        if kind and text.startswith("urn:uuid:") and 0 < len(text) - 9 <= 64:
            return f"{kind}/{text[9:]}"
        match = _REFERENCE.search(text)
        return f"{match[1]}/{match[2]}" if match else None


def resource_label(resource: dict) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id', '?')}"


# --- Small readers --------------------------------------------------------------------------------------

def clean_text(value: object, limit: int) -> str:
    return " ".join(value.split())[:limit] if isinstance(value, str) else ""


def tidy_name(text: str) -> str:
    # Billing systems often shout: "BEVERLY HOSPITAL CORPORATION" reads better as "Beverly Hospital Corporation".
    return text.title() if text.isupper() else text


def human_name(resource: dict) -> tuple[str, str]:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    chosen = next((n for n in names if n.get("use") in ("official", "usual")), names[0] if names else {})
    given = " ".join(g for g in chosen.get("given") or [] if isinstance(g, str))
    family = chosen.get("family") if isinstance(chosen.get("family"), str) else ""
    if not given and not family and isinstance(chosen.get("text"), str):
        given, _, family = chosen["text"].rpartition(" ")
    return clean_text(given, 100), clean_text(family, 100)


def practitioner_name(resource: dict) -> str:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    chosen = names[0] if names else {}
    prefix = " ".join(p for p in chosen.get("prefix") or [] if isinstance(p, str))
    given, family = human_name(resource)
    return clean_text(" ".join(part for part in (prefix, given, family) if part), 200)


def postal_address(resource: dict) -> str:
    for address in resource.get("address") or []:
        if not isinstance(address, dict):
            continue
        if isinstance(address.get("text"), str):
            return address["text"].strip()
        lines = [line for line in address.get("line") or [] if isinstance(line, str)]
        place = " ".join(p for p in (address.get("city"), address.get("state"), address.get("postalCode"))
                         if isinstance(p, str))
        return "\n".join(lines + ([place] if place else []))
    return ""


def fhir_day(value: object, zone: ZoneInfo, what: str) -> date:
    """A FHIR date or dateTime as a day on the hospital's calendar."""
    if not isinstance(value, str):
        raise BadInput(f"{what} is not a date")
    partial = _PARTIAL_DATE.match(value)
    if partial:
        return date(int(partial[1]), int(partial[2] or 1), 1)
    try:
        if "T" not in value:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(f"{what} is not a date: {value[:40]!r}") from None
    return moment.astimezone(zone).date() if moment.tzinfo else moment.date()


def fhir_period(value: object, zone: ZoneInfo, what: str) -> tuple[date, date | None] | None:
    if not isinstance(value, dict) or not value.get("start"):
        return None
    start = fhir_day(value["start"], zone, f"{what}.start")
    end = fhir_day(value["end"], zone, f"{what}.end") if value.get("end") else None
    return start, (end if end and end > start else None)


def describe(display: str, code_system: str, code: str) -> str:
    """A line's description from its coding's display text (a plain fallback when the dictionary lacks it)."""
    text = _SEMANTIC_TAG.sub("", " ".join(display.split()))
    if not text:
        return f"{code_system.upper()} {code}"
    return (text[0].upper() + text[1:])[:300]


def best_coding(concept: object) -> tuple[str, str, str] | None:
    """The best (code system, code, description) of a CodeableConcept; unknown systems count as "local"."""
    if not isinstance(concept, dict):
        return None
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict) and isinstance(c.get("code"), str)]
    if not codings:
        return None
    coding = min(codings, key=lambda c: _PREFERENCE.get(CODE_SYSTEMS.get(c.get("system")), len(_PREFERENCE)))
    system = CODE_SYSTEMS.get(coding.get("system"), "local")
    code = coding["code"].strip()
    if not code or len(code) > 20:
        raise BadInput(f"the service code {code[:30]!r} is empty or longer than 20 characters")
    display = coding.get("display") if isinstance(coding.get("display"), str) else concept.get("text")
    return system, code, describe(display if isinstance(display, str) else "", system, code)


def adjudication_category(adjudication: dict) -> str | None:
    for coding in (adjudication.get("category") or {}).get("coding") or []:
        if not isinstance(coding, dict):
            continue
        system, code = coding.get("system"), coding.get("code")
        if not isinstance(code, str):
            continue
        if code.startswith(_BLUE_BUTTON_VARIABLES):
            system, code = _BLUE_BUTTON, code[len(_BLUE_BUTTON_VARIABLES):]
        elif isinstance(system, str) and system.startswith(_BLUE_BUTTON_VARIABLES):
            system = _BLUE_BUTTON
        if (system, code) in CATEGORIES:
            return CATEGORIES[(system, code)]
    return None


class MoneyReader:
    """Reads FHIR Money values into minor units of the hospital's currency, checking each one's currency."""

    def __init__(self, currency: str, resource: str) -> None:
        self.currency, self.resource = currency, resource
        # How many amounts had to be rounded: since the last line was settled, and in all.
        self.rounded = self.rounded_in_all = 0

    def __call__(self, money: object, what: str) -> int:
        if not isinstance(money, dict) or "value" not in money:
            raise BadInput(f"{what} is not a Money value", self.resource)
        currency = money.get("currency", self.currency)
        if currency != self.currency:
            raise BadInput(f"{what} is in {str(currency)[:8]}, but this hospital bills in {self.currency}",
                           self.resource)
        try:
            minor = to_minor(money["value"], self.currency, what=what)
        except BadInput as error:
            raise BadInput(error.reason, self.resource) from None
        if needs_rounding(money["value"], self.currency):
            self.rounded += 1
            self.rounded_in_all += 1
        return minor


def adjudicated_amounts(adjudications: object, read: MoneyReader, what: str) -> dict[str, int]:
    amounts: Counter[str] = Counter()
    for adjudication in adjudications or []:
        if not isinstance(adjudication, dict) or "amount" not in adjudication:
            continue  # a reason code or a percentage, not money
        category = adjudication_category(adjudication)
        if category:
            amounts[category] += read(adjudication["amount"], f"{what} adjudication {category}")
    return dict(amounts)


def insurer_paid(amounts: dict[str, int]) -> int:
    """What insurers paid the hospital for a line: this payer's payment (Medicare's NCH payment only when no
    other is given) and a primary payer's. Money an insurer paid the patient is not among it: the patient
    owes the hospital that part, as if the plan had not paid it."""
    return amounts.get("paid", amounts.get("nch_paid", 0)) + amounts.get("prior_payer", 0)
