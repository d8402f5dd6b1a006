"""Read FHIR R4 billing data (Synthea, payer and provider exports) into import records. No database here.

What a statement needs is spread over several resources: the ``ExplanationOfBenefit`` (what was charged and
how the insurer decided, line by line), its ``Claim`` and ``Encounter`` (where, when and by whom), the
``Patient`` (who) and the ``Coverage`` (which insurer, and who the policy holder is). The rules for the
messy parts of real exports are in the docstrings below and in the README's "Importing bills" section;
reading single values (references, dates, codes, Money) is in ``fhir_values.py``.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from ..errors import has_nul
from ..i18n import locale_from_header
from .amounts import MAX_MINOR, settle_insured, settle_self_pay
from .fhir_values import (MoneyReader, Resources, adjudicated_amounts, best_coding, clean_text, fhir_day, fhir_period,
                          human_name, insurer_paid, postal_address, practitioner_name, resource_label, tidy_name)
from .records import AccountRecord, BadInput, ClaimRecord, LineRecord, PatientRecord, Skipped, Unit

logger = logging.getLogger(__name__)

WITHDRAWN = ("cancelled", "entered-in-error")
# A bundle larger than this is refused before it is parsed (Synthea's largest are 4 MB); bulk exports are NDJSON.
MAX_JSON_BYTES = 100 * 10**6
MAX_QUANTITY = 100_000
BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset", "transaction-response", "batch-response")
# Resource types the importer reads; everything else in a bundle (clinical data) is counted and left alone.
BILLING_TYPES = ("Patient", "Coverage", "Organization", "Practitioner", "Encounter", "Claim",
                 "ExplanationOfBenefit", "Location")
# What NDJSON lines are parsed for: the billing types and the prescriptions that name a pharmacy claim's medicine.
NDJSON_TYPES = (*BILLING_TYPES, "MedicationRequest")
# Exporters write resourceType first; a line that does not start so is parsed to find out (a contained
# resource's type further in says nothing of the line's own).
_NDJSON_TYPE = re.compile(rb'\s*\{\s*"resourceType"\s*:\s*"([A-Za-z]{1,64})"')

# Coverage that means "no insurance": Synthea's payor display, and the HL7 self-pay coverage code.
_SELF_PAY_WORDS = {"no_insurance", "no insurance", "self-pay", "self pay", "selfpay", "uninsured"}
_SELF_PAY_CODES = {("http://terminology.hl7.org/CodeSystem/coverage-selfpay", "pay")}

# The kind of visit, from Encounter.class (HL7 v3 ActCode), as the department a statement names.
DEPARTMENTS = {
    "AMB": "Outpatient clinic", "PRENC": "Outpatient clinic", "EMER": "Emergency", "IMP": "Inpatient",
    "ACUTE": "Inpatient", "NONAC": "Inpatient", "OBSENC": "Observation", "SS": "Day surgery",
    "HH": "Home health", "VR": "Virtual visit", "FLD": "Field visit",
}
# When a claim's total is more than its priced lines and no line names the visit itself, the difference is
# billed under the revenue code for that kind of visit (each has a plain-language entry in the dictionary).
VISIT_FEE_REVENUE = {"EMER": ("0450", "Emergency room visit"), "IMP": ("0100", "Room and board"),
                     "ACUTE": ("0100", "Room and board"), "OBSENC": ("0762", "Observation room")}
DEFAULT_VISIT_FEE = ("0510", "Clinic visit")

@dataclass(frozen=True)
class Hospital:
    """What the reader needs to know about the organisation it imports for."""

    name: str
    currency: str
    time_zone: str
    locales: tuple[str, ...]


# --- Reading files ------------------------------------------------------------------------------------

def _load_json(data: bytes, file: str) -> object:
    try:
        return json.loads(data, parse_float=Decimal)
    except (ValueError, RecursionError) as error:
        raise BadInput(f"not valid JSON ({error})", file=file) from None


def units_from_paths(paths: Iterable[str], hospital: Hospital) -> Iterator[Unit | BadInput]:
    """Every unit in these files and folders, in order; a file that cannot be read yields a BadInput.

    JSON files are a unit each; all the NDJSON files named or found in the folders are read together at the
    end (their resources refer to each other across files), then imported one patient at a time."""
    ndjson: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            names = sorted(os.listdir(path))
            for name in names:
                if name.endswith(".json"):
                    yield from _units_from_json_file(os.path.join(path, name), hospital)
            ndjson += [os.path.join(path, name) for name in names if name.endswith(".ndjson")]
        elif path.endswith(".ndjson"):
            ndjson.append(path)
        else:
            yield from _units_from_json_file(path, hospital)
    if ndjson:
        yield from _units_from_ndjson(ndjson, hospital)


def list_files(paths: Iterable[str]) -> list[str]:
    """The files ``units_from_paths`` will read, for the progress bar."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            found += [os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith((".json", ".ndjson"))]
        else:
            found.append(path)
    return found


def _units_from_json_file(path: str, hospital: Hospital) -> Iterator[Unit | BadInput]:
    file = os.path.basename(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_JSON_BYTES + 1)
    except OSError as error:
        yield BadInput(f"cannot be read ({error.strerror})", file=file)
        return
    if len(data) > MAX_JSON_BYTES:
        yield BadInput(f"is larger than {MAX_JSON_BYTES // 10**6} MB: export it as NDJSON or in several bundles",
                       file=file)
        return
    try:
        document = _load_json(data, file)
        unit = unit_from_document(document, file, hospital)
    except BadInput as error:
        error.file = file
        unit = error
    except Exception:  # noqa: BLE001 (a last resort: one odd file must not stop the others)
        logger.exception("import: %s could not be read", file)
        unit = BadInput("could not be read: an unexpected error, logged for the developers", file=file)
    yield unit


def unit_from_document(document: object, file: str, hospital: Hospital) -> Unit:
    """One JSON document (a Bundle, or a single resource) as one unit."""
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        raise BadInput("not a FHIR resource or Bundle", file=file)
    if document["resourceType"] != "Bundle":
        entries = [(None, document)]
        label = resource_label(document)
    else:
        if document.get("type") not in BUNDLE_TYPES:
            raise BadInput(f"a Bundle of type {str(document.get('type'))[:30]!r} holds no bills to import "
                           f"(expected one of {', '.join(BUNDLE_TYPES[:3])})", f"Bundle/{document.get('id', '')}")
        raw_entries = document.get("entry", [])
        if not isinstance(raw_entries, list):
            raise BadInput("Bundle.entry is not a list", f"Bundle/{document.get('id', '')}")
        entries = []
        for position, entry in enumerate(raw_entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise BadInput("this entry holds no FHIR resource", f"Bundle entry {position + 1}")
            entries.append((entry.get("fullUrl"), resource))
        label = f"Bundle/{document['id']}" if document.get("id") else file
    index = Resources(entries)
    return build_unit(file, label, index, [resource for _, resource in entries], hospital)


def _units_from_ndjson(paths: list[str], hospital: Hospital) -> Iterator[Unit | BadInput]:
    """NDJSON (bulk data export): one resource per line, usually one file per type, referring to each other
    across files. Lines of types the importer does not read are counted without being parsed, which keeps a
    large clinical export out of memory; the rest are imported one patient at a time."""
    entries: list[tuple[None, dict]] = []
    ignored: dict[str, int] = {}
    for path in paths:
        file = os.path.basename(path)
        try:
            with open(path, "rb") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    kind = _NDJSON_TYPE.match(line)
                    if kind and kind[1].decode() not in NDJSON_TYPES:
                        ignored[kind[1].decode()] = ignored.get(kind[1].decode(), 0) + 1
                        continue
                    try:
                        resource = json.loads(line, parse_float=Decimal)
                    except (ValueError, RecursionError) as error:
                        yield BadInput(f"line {number} is not valid JSON ({str(error)[:80]}); the files were not "
                                       f"imported", file=file)
                        return
                    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                        yield BadInput(f"line {number} holds no FHIR resource; the files were not imported", file=file)
                        return
                    entries.append((None, resource))
        except OSError as error:
            yield BadInput(f"cannot be read ({error.strerror}); the files were not imported", file=file)
            return
    index = Resources(entries)
    folders = {os.path.basename(os.path.dirname(os.path.abspath(p))) for p in paths}
    file = folders.pop() if len(folders) == 1 and len(paths) > 1 else os.path.basename(paths[0])
    # Each patient's claims, explanations of benefit and coverage make one unit; claims of a patient who is
    # not in the files (imported earlier) make a unit of their own.
    groups: dict[str, list[dict]] = {}
    for _, resource in entries:
        kind = resource["resourceType"]
        if kind == "Patient":
            owner = f"Patient/{resource.get('id')}"
        elif kind in ("Claim", "ExplanationOfBenefit"):
            owner = index.key(resource.get("patient"), "Patient") or "?"
        elif kind == "Coverage":
            owner = index.key(resource.get("beneficiary"), "Patient") or "?"
        else:
            continue
        groups.setdefault(str(owner), []).append(resource)
    for owner, members in groups.items():
        try:
            unit = build_unit(file, owner, index, members, hospital)
            unit.ignored, ignored = ignored, {}  # reported once, with the first patient
        except BadInput as error:
            error.file = file
            unit = error
        except Exception:  # noqa: BLE001 (a last resort: one odd patient must not stop the others)
            logger.exception("import: %s in %s could not be read", owner, file)
            unit = BadInput("could not be read: an unexpected error, logged for the developers", owner, file)
        yield unit


# --- Building a unit ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Coverage:
    payer: str | None
    subscriber: dict | None


@contextmanager
def _reading(label: str) -> Iterator[None]:
    """Report a resource of an unexpected shape (a list where FHIR has an object, text where a number
    belongs…) as bad input naming it, instead of failing the whole run."""
    try:
        yield
    except BadInput as error:
        error.resource = error.resource or label
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError, ArithmeticError) as error:
        raise BadInput(f"a resource of the wrong shape ({type(error).__name__}: {str(error)[:80]})", label) from None


def build_unit(file: str, label: str, index: Resources, members: list[dict], hospital: Hospital) -> Unit:
    """The accounts, patients and claims of these resources (looked up in ``index`` for references)."""
    if has_nul(members):
        raise BadInput("holds a NUL character, which no bill has: the file is damaged", label, file)
    with _reading(label):
        return _build_unit(file, label, index, members, hospital)


def _build_unit(file: str, label: str, index: Resources, members: list[dict], hospital: Hospital) -> Unit:
    unit = Unit(file=file, label=label)
    zone = ZoneInfo(hospital.time_zone)
    claims, explanations = {}, []
    for resource in members:
        kind = resource["resourceType"]
        if kind not in BILLING_TYPES:
            unit.ignored[kind] = unit.ignored.get(kind, 0) + 1
        elif kind == "Claim":
            claims[resource_label(resource)] = resource
        elif kind == "ExplanationOfBenefit":
            explanations.append(resource)
    with _reading(label):
        guarantors = _guarantors(index, members)
    for resource in members:
        if resource["resourceType"] == "Patient":
            with _reading(resource_label(resource)):
                _add_patient(unit, resource, guarantors, index, hospital)
    explained = set()
    # When one claim has several explanations (an original withdrawn and its replacement), the standing one
    # counts: withdrawn ones go last, so that they only cancel a claim nothing else decides.
    explanations.sort(key=lambda eob: eob.get("status") in WITHDRAWN)
    for eob in explanations:
        with _reading(resource_label(eob)):
            _add_explained(unit, eob, index, guarantors, hospital, zone, claims, explained)
    for claim in claims.values():
        with _reading(resource_label(claim)):
            _add_claim(unit, f"fhir:{resource_label(claim)}", None, claim, index, guarantors, hospital, zone)
    return unit


def _add_explained(unit: Unit, eob: dict, index: Resources, guarantors: dict[str, str], hospital: Hospital,
                   zone: ZoneInfo, claims: dict[str, dict], explained: set[str]) -> None:
    """Add the claim an explanation of benefit decides (the Claim, if in the file, is then done with)."""
    claim = index.get(eob.get("claim"), eob, "Claim")
    claim_key = index.key(eob.get("claim"), "Claim") if eob.get("claim") else None
    key = f"fhir:{claim_key}" if claim_key and claim_key.startswith("Claim/") else f"fhir:{resource_label(eob)}"
    if key in explained:
        reason = ("withdrawn, and replaced by another explanation of benefit for the same claim"
                  if eob.get("status") in WITHDRAWN else "a second explanation of benefit for the same claim "
                  "(secondary insurance is billed by the office by hand)")
        unit.skipped.append(Skipped(resource_label(eob), reason))
        return
    explained.add(key)
    if claim is not None:
        claims.pop(resource_label(claim), None)
    _add_claim(unit, key, eob, claim, index, guarantors, hospital, zone)


def _guarantors(index: Resources, members: list[dict]) -> dict[str, str]:
    """Patient key → the key of the patient who holds their policy, when that is someone else (a parent)."""
    found = {}
    coverages = [r for r in members if r["resourceType"] == "Coverage"]
    for resource in members:
        if resource["resourceType"] in ("Claim", "ExplanationOfBenefit"):
            coverages += [c for c in resource.get("contained") or []
                          if isinstance(c, dict) and c.get("resourceType") == "Coverage"]
    for coverage in coverages:
        beneficiary = index.key(coverage.get("beneficiary"), "Patient")
        subscriber = index.key(coverage.get("subscriber"))
        if beneficiary and subscriber and subscriber != beneficiary and subscriber.startswith("Patient/"):
            found[f"fhir:{beneficiary}"] = f"fhir:{subscriber}"
    return found


def _add_patient(unit: Unit, resource: dict, guarantors: dict[str, str], index: Resources,
                 hospital: Hospital) -> None:
    label = resource_label(resource)
    if not resource.get("id"):
        raise BadInput("a Patient without an id cannot be found again on the next import", label)
    key = f"fhir:{label}"
    given, family = human_name(resource)
    if not family and not given:
        raise BadInput("the patient has no name", label)
    if not resource.get("birthDate"):
        raise BadInput("the patient has no birthDate, which patients need to find their bill", label)
    birth_date = fhir_day(resource["birthDate"], ZoneInfo("UTC"), "birthDate")
    mrn = None
    for identifier in resource.get("identifier") or []:
        if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
            continue
        codes = {c.get("code") for c in (identifier.get("type") or {}).get("coding") or [] if isinstance(c, dict)}
        if "MR" in codes:
            mrn = identifier["value"]
            break
    mrn = clean_text(mrn or resource["id"], 40)
    account_key = guarantors.get(key, key)
    unit.patients[key] = PatientRecord(key, account_key, mrn, given, family, birth_date)
    if account_key == key or account_key not in unit.accounts:
        holder = resource if account_key == key else index.get({"reference": account_key[5:]}, kind="Patient")
        if holder is not None:
            holder_given, holder_family = human_name(holder)
            unit.accounts[account_key] = AccountRecord(
                account_key, clean_text(f"{holder_given} {holder_family}".strip(), 200), postal_address(holder),
                _language(holder, hospital))


def _language(resource: dict, hospital: Hospital) -> str | None:
    """The patient's language (Patient.communication, the preferred one first) if the portal speaks it."""
    spoken = [c for c in resource.get("communication") or [] if isinstance(c, dict)]
    spoken.sort(key=lambda c: c.get("preferred") is not True)
    for communication in spoken:
        for coding in (communication.get("language") or {}).get("coding") or []:
            if isinstance(coding, dict) and isinstance(coding.get("code"), str):
                locale = locale_from_header([(coding["code"], 1.0)], list(hospital.locales))
                if locale:
                    return locale
    return None


def _coverage(resource: dict, index: Resources) -> _Coverage:
    """Who insures this claim (None: self-pay) and who holds the policy."""
    entries = [i for i in resource.get("insurance") or [] if isinstance(i, dict)]
    if not entries:
        return _Coverage(None, None)
    entry = next((i for i in entries if i.get("focal")), entries[0])
    reference = entry.get("coverage") or {}
    coverage = index.get(reference, resource, "Coverage")
    words = []
    if isinstance(reference, dict) and isinstance(reference.get("display"), str):
        words.append(reference["display"])
    payer = None
    if coverage is not None:
        for payor in coverage.get("payor") or []:
            organisation = index.get(payor, coverage, "Organization")
            if organisation is not None and isinstance(organisation.get("name"), str):
                payer = tidy_name(organisation["name"])
            elif isinstance(payor, dict) and isinstance(payor.get("display"), str):
                words.append(payor["display"])
        kind = coverage.get("type") or {}
        if isinstance(kind.get("text"), str):
            words.append(kind["text"])
        for coding in kind.get("coding") or []:
            if isinstance(coding, dict) and (coding.get("system"), coding.get("code")) in _SELF_PAY_CODES:
                return _Coverage(None, None)
    if any(word.strip().lower() in _SELF_PAY_WORDS for word in words):
        return _Coverage(None, None)
    if payer is None:
        insurer = resource.get("insurer") or {}
        named = index.get(insurer, resource, "Organization")
        if named is not None and isinstance(named.get("name"), str):
            payer = tidy_name(named["name"])
        else:
            text = next((w for w in words if w.strip()), insurer.get("display") if isinstance(insurer, dict) else "")
            text = " ".join(str(text or "").replace("_", " ").split())
            payer = (text[0].upper() + text[1:])[:200] if text else "Insurance"
    return _Coverage(payer, coverage.get("subscriber") if coverage else None)


def _add_claim(unit: Unit, key: str, eob: dict | None, claim: dict | None, index: Resources,
               guarantors: dict[str, str], hospital: Hospital, zone: ZoneInfo) -> None:
    source = eob if eob is not None else claim
    label = resource_label(source)
    status, use = source.get("status"), source.get("use", "claim")
    if use in ("preauthorization", "predetermination"):
        unit.skipped.append(Skipped(label, f"a {use}, not a bill"))
        return
    if status == "draft":
        unit.skipped.append(Skipped(label, "a draft, not yet sent"))
        return
    if eob is not None and eob.get("outcome") in ("queued", "error"):
        unit.skipped.append(Skipped(label, "the insurer has not decided it yet" if eob.get("outcome") == "queued"
                                    else "the insurer could not process it"))
        return
    patient_key = index.key(source.get("patient"), "Patient")
    if not patient_key or not patient_key.startswith("Patient/"):
        raise BadInput("its patient reference names no Patient in the file", label)
    patient_key = f"fhir:{patient_key}"
    if patient_key not in unit.patients and index.get(source.get("patient"), kind="Patient") is not None:
        # The patient is in the file but belongs to another unit (NDJSON): the loader finds or makes them.
        _add_patient(unit, index.get(source.get("patient"), kind="Patient"), guarantors, index, hospital)
    account_key = unit.patients[patient_key].account_key if patient_key in unit.patients else ""
    # Withdrawn by the hospital (the Claim) or by the insurer (the EOB): either takes the visit off the bill.
    if any(r.get("status") in WITHDRAWN for r in (eob, claim) if r is not None):
        unit.claims.append(ClaimRecord(key, label, patient_key, account_key, hospital.currency, date.min, None,
                                       "", "", "", None, (), cancelled=True))
        return
    coverage = _coverage(eob if eob is not None else claim, index)
    if eob is None and coverage.payer is not None:
        unit.skipped.append(Skipped(label, "the insurer has not sent its decision (no ExplanationOfBenefit) yet"))
        return
    read = MoneyReader(hospital.currency, label)
    encounter = None
    for item in [*(eob or {}).get("item", []), *(claim or {}).get("item", [])]:
        if isinstance(item, dict):
            for reference in item.get("encounter") or []:
                encounter = encounter or index.get(reference, kind="Encounter")
    visit = _visit_facts(eob, claim, encounter, index, hospital, zone, label)
    lines, fee_code = _lines(eob if eob is not None else claim, coverage.payer is not None, visit, read, zone, label)
    lines = _with_visit_fee(lines, eob, claim, coverage.payer is not None, fee_code, encounter, visit, read, label,
                            index)
    if not lines:
        unit.skipped.append(Skipped(label, "nothing is charged on it"))
        return
    unit.claims.append(ClaimRecord(
        key, label, patient_key, account_key, hospital.currency, visit[0], visit[1], visit[2], visit[3], visit[4],
        coverage.payer, tuple(lines)))


def _visit_facts(eob: dict | None, claim: dict | None, encounter: dict | None, index: Resources,
                 hospital: Hospital, zone: ZoneInfo, label: str) -> tuple[date, date | None, str, str, str]:
    """When (the encounter's period, else the claim's billable period, else when it was made), where, which
    department and which clinician."""
    sources = [r for r in (claim, eob) if r is not None]
    period = fhir_period(encounter.get("period"), zone, "Encounter.period") if encounter else None
    for resource in sources:
        period = period or fhir_period(resource.get("billablePeriod"), zone, "billablePeriod")
    if period is None:
        served = []
        for resource in sources:
            for item in resource.get("item") or []:
                if isinstance(item, dict) and item.get("servicedDate"):
                    served.append(fhir_day(item["servicedDate"], zone, "servicedDate"))
                elif isinstance(item, dict) and fhir_period(item.get("servicedPeriod"), zone, "servicedPeriod"):
                    served.append(fhir_period(item["servicedPeriod"], zone, "servicedPeriod")[0])
        period = (min(served), max(served) if max(served) > min(served) else None) if served else None
    if period is None:
        created = next((r.get("created") for r in sources if r.get("created")), None)
        if created is None:
            raise BadInput("no date: it has no encounter period, billable period or created date", label)
        period = (fhir_day(created, zone, "created"), None)
    facility = ""
    if encounter is not None:
        place = index.get(encounter.get("serviceProvider"), kind="Organization")
        facility = place.get("name", "") if place else ""
    for resource in sources:
        for field in ("facility", "provider"):
            if not facility:
                place = index.get(resource.get(field), resource)
                if place is not None and place.get("resourceType") in ("Organization", "Location"):
                    facility = place.get("name", "")
    department = DEPARTMENTS.get(((encounter or {}).get("class") or {}).get("code"), "Outpatient clinic")
    provider = ""
    for participant in (encounter or {}).get("participant") or []:
        person = index.get((participant or {}).get("individual"), kind="Practitioner")
        if person is not None and not provider:
            provider = practitioner_name(person)
    for resource in sources:
        team = [(member or {}).get("provider") for member in resource.get("careTeam") or []]
        for reference in [resource.get("provider"), *team]:
            person = index.get(reference, resource, "Practitioner")
            if person is not None and not provider:
                provider = practitioner_name(person)
    return (period[0], period[1], tidy_name(clean_text(facility, 200)) or hospital.name, department, provider)


def _item_price(item: dict, read: MoneyReader, what: str, adjudicated: dict[str, int]) -> int | None:
    if "submitted" in adjudicated:
        return adjudicated["submitted"]
    if "net" in item:
        return read(item["net"], f"{what} net")
    if "unitPrice" in item:
        price = read(item["unitPrice"], f"{what} unitPrice")
        quantity = Decimal(_quantity_value(item, what, read.resource))
        charge = int((price * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if charge > MAX_MINOR:
            raise BadInput(f"{what} unitPrice times quantity is too large", read.resource)
        return charge
    return None


def _quantity_value(item: dict, what: str, label: str) -> int | Decimal:
    """An item's quantity as given (1 when it gives none), refused unless a number above 0 and at most
    MAX_QUANTITY."""
    value = (item.get("quantity") or {}).get("value", 1) if isinstance(item.get("quantity"), dict) else 1
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or not 0 < value <= MAX_QUANTITY:
        raise BadInput(f"{what} quantity is not a number from 0 to {MAX_QUANTITY}", label)
    return value


def _quantity(item: dict, what: str, label: str) -> int:
    # Whole units on a bill: half an hour of a timed service reads as 1.
    return max(1, int(Decimal(_quantity_value(item, what, label)).to_integral_value()))


def _lines(source: dict, insured: bool, visit: tuple, read: MoneyReader, zone: ZoneInfo,
           label: str) -> tuple[list[LineRecord], tuple[str, str, str] | None]:
    """The priced items of an EOB (or a self-pay claim) as lines, and the code of the item that names the
    visit itself (an unpriced item pointing at the encounter), for the visit fee."""
    lines, fee_code = [], None
    first, last = visit[0], visit[1] or visit[0]
    for position, item in enumerate(source.get("item") or []):
        if not isinstance(item, dict):
            raise BadInput(f"item {position + 1} is not an object", label)
        what = f"item {item.get('sequence', position + 1)}"
        try:
            coded = best_coding(item.get("productOrService"))
        except BadInput as error:
            raise BadInput(f"{what}: {error.reason}", label) from None
        adjudicated = adjudicated_amounts(item.get("adjudication"), read, what)
        charge = _item_price(item, read, what, adjudicated)
        if charge is None:
            if item.get("encounter") and coded and fee_code is None:
                fee_code = coded
            continue
        if coded is None:
            raise BadInput(f"{what} is priced but has no productOrService code", label)
        served = None
        if item.get("servicedDate"):
            served = fhir_day(item["servicedDate"], zone, f"{what} servicedDate")
        elif isinstance(item.get("servicedPeriod"), dict) and item["servicedPeriod"].get("start"):
            served = fhir_day(item["servicedPeriod"]["start"], zone, f"{what} servicedPeriod")
        # A line dated outside its visit is an export error (Synthea's are years off): the visit's date holds.
        if served is None or not first <= served <= last:
            served = first
        if insured:
            parts = {name: adjudicated.get(name, 0) for name in ("deductible", "copay", "coinsurance", "not_covered")}
            amounts = settle_insured(charge, adjudicated.get("allowed"), insurer_paid(adjudicated), parts,
                                     rounded=read.rounded, what=what, resource=label)
        else:
            amounts = settle_self_pay(charge, adjudicated.get("discount", 0), what=what, resource=label)
        read.rounded = 0
        lines.append(LineRecord(coded[0], coded[1], coded[2], _quantity(item, what, label), served, amounts))
    return lines, fee_code


def _total(resource: dict | None, category: str, read: MoneyReader) -> int | None:
    if resource is None:
        return None
    total = resource.get("total")
    if isinstance(total, dict):  # a Claim's total is one Money
        return read(total, "total") if category == "submitted" else None
    amounts = adjudicated_amounts(total, read, "total")
    return amounts.get(category)


def _with_visit_fee(lines: list[LineRecord], eob: dict | None, claim: dict | None, insured: bool,
                    fee_code: tuple[str, str, str] | None, encounter: dict | None, visit: tuple, read: MoneyReader,
                    label: str, index: Resources) -> list[LineRecord]:
    """Add the part of the claim's total that no line carries (Synthea prices the visit itself only in the
    total) as a line of its own, so that the statement adds up to the claim.

    The line is named by the claim's item for the encounter, else the encounter's type, else the revenue
    code for that kind of visit. What the insurer paid beyond its line payments (``payment.amount``) is its
    payment for this line; claim-level deductible, copay and coinsurance beyond the lines' are its parts; the
    rest of it is the patient's, as not covered.
    """
    submitted = _total(eob, "submitted", read)
    if submitted is None:
        submitted = _total(claim, "submitted", read)
    if submitted is None:
        return lines
    fee = submitted - sum(line.amounts["charge"] for line in lines)
    if fee and abs(fee) <= read.rounded_in_all:
        return lines  # rounding the lines and the total separately, not a charge
    if fee < 0:
        raise BadInput("its priced lines add up to more than its total", label)
    if fee == 0:
        return lines
    prescription = next((index.get(r.get("prescription"), r, "MedicationRequest") for r in (claim, eob)
                         if r is not None and r.get("prescription")), None)
    if prescription is not None and best_coding(prescription.get("medicationCodeableConcept")):
        # A pharmacy claim is for the medicine, though Synthea's item names the visit it was prescribed in.
        fee_code = best_coding(prescription["medicationCodeableConcept"])
    if fee_code is None:
        coded = best_coding(((encounter or {}).get("type") or [None])[0])
        if coded is None:
            code, name = VISIT_FEE_REVENUE.get(((encounter or {}).get("class") or {}).get("code"), DEFAULT_VISIT_FEE)
            coded = ("revenue", code, name)
        fee_code = coded
    if not insured:
        amounts = settle_self_pay(fee, 0, what="the visit", resource=label)
    else:
        paid_total = 0
        if eob is not None and isinstance(eob.get("payment"), dict) and "amount" in eob["payment"]:
            paid_total = read(eob["payment"]["amount"], "payment.amount")
        paid = max(0, paid_total - sum(line.amounts["insurance_paid"] for line in lines))
        parts = {}
        for part in ("deductible", "copay", "coinsurance"):
            claimed = _total(eob, part, read) or 0
            parts[part] = max(0, claimed - sum(line.amounts[part] for line in lines))
        allowed_total = _total(eob, "allowed", read)
        allowed = fee
        if allowed_total is not None:
            allowed = min(fee, max(0, allowed_total - sum(line.amounts["allowed"] or 0 for line in lines)))
        paid = min(paid, allowed)
        amounts = settle_insured(fee, allowed, paid, parts, rounded=0, what="the visit", resource=label)
    return [LineRecord(fee_code[0], fee_code[1], fee_code[2], 1, visit[0], amounts), *lines]

