"""`flask import fhir`: Synthea bundles and hand-made edge cases into statements that add up to the claims."""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.billing.models import Account, LineItem, Patient, Statement, Visit
from portal.billing.services import summary_for
from portal.extensions import db
from portal.imports.models import ImportedClaim
from portal.statements import cache

from . import fhir_bundles as fb

SYNTHEA = Path(__file__).parent / "data" / "fhir" / "synthea"


def cents(value) -> int:  # noqa: ANN001
    return int(Decimal(str(value)).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def row_counts() -> dict[str, int]:
    return {model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Account, Patient, Statement, Visit, LineItem, ImportedClaim)}


@pytest.fixture
def hospital(make):
    return make.organisation()


def run(runner, *args):  # noqa: ANN001, ANN202
    return runner.invoke(args=["import", *args], catch_exceptions=False)


def visit_lines(claim_id: str) -> list[LineItem]:
    claim = db.session.scalar(select(ImportedClaim).where(ImportedClaim.source_key == f"fhir:Claim/{claim_id}"))
    return list(claim.visit.lines)


def test_synthea_bundles_become_statements_that_add_up_to_each_claim(runner, hospital, glossary):
    result = run(runner, "fhir", str(SYNTHEA))
    assert result.exit_code == 0, result.output
    assert "Imported 6 of 6 bundles." in result.output
    assert "accounts:   6 created" in result.output and "patients:   6 created" in result.output
    # Pharmacy claims have no explanation of benefit: listed, with their resource and why.
    assert "Claim/00cb79e4-8118-4f4d-84a9-d7d471f749a6: the insurer has not sent its decision" in result.output
    assert "547 Observation" in result.output
    # Every sample code is in the dictionary but the one medicine billed without insurance, named by its
    # prescription (Synthea's pharmacy claim names only the visit it was prescribed in).
    assert "1 codes have no plain-language name" in result.output
    assert "rxnorm 1049630: DiphenhydrAMINE Hydrochloride 25 MG Oral Tablet (1 line)" in result.output
    checked = 0
    for path in SYNTHEA.glob("*.json"):
        bundle = json.loads(path.read_text(), parse_float=Decimal)
        for entry in bundle["entry"]:
            eob = entry["resource"]
            if eob["resourceType"] != "ExplanationOfBenefit":
                continue
            lines = visit_lines(eob["claim"]["reference"].removeprefix("urn:uuid:"))
            submitted = sum(cents(t["amount"]["value"]) for t in eob["total"])
            # The statement adds up to the claim: the visit priced only in the total is a line of its own.
            assert sum(line.charge for line in lines) == submitted
            paid = cents(eob["payment"]["amount"]["value"])
            assert abs(sum(line.insurance_paid for line in lines) - paid) <= len(lines)
            for line in lines:
                assert line.insurance_paid + line.adjustment + line.deductible + line.copay + line.coinsurance \
                    + line.not_covered == line.charge or line.allowed is None
            checked += 1
    assert checked == 85
    liz = db.session.scalar(select(Patient).where(Patient.family_name == "Conn"))
    assert liz.account.preferred_locale == "en" and liz.birth_date == date(1986, 11, 28)
    assert liz.account.guarantor_name == "Liz Conn" and "Beverly" in liz.account.mailing_address
    visit = db.session.scalar(select(Visit).where(Visit.patient_id == liz.id).order_by(Visit.visit_date))
    assert visit.facility == "Beverly Hospital Corporation" and visit.provider.startswith("Dr. ")
    assert visit.payer == "Private" and visit.department == "Outpatient clinic"
    # Monthly statements dated the month's last day, due 30 days later.
    statement = visit.statement
    assert (statement.statement_date + timedelta(days=1)).day == 1
    assert statement.period_start == visit.visit_date.replace(day=1)
    assert (statement.due_date - statement.statement_date).days == 30
    assert statement.number.isdigit() and len(statement.number) == 10

    before = row_counts()
    again = run(runner, "fhir", str(SYNTHEA))
    assert again.exit_code == 0, again.output
    assert "0 new, 0 corrected, 0 cancelled, 86 unchanged" in again.output
    assert "statements: 0 created, 0 updated (0 of them left with nothing on them)" in again.output
    assert row_counts() == before


def test_a_dry_run_checks_everything_and_writes_nothing(runner, hospital, tmp_path):
    path = fb.write(tmp_path / "one.json", fb.checkup_bundle())
    before = row_counts()
    result = run(runner, "fhir", "--dry-run", str(path))
    assert result.exit_code == 0, result.output
    assert "Checked 1 of 1 bundles (dry run: nothing was written)." in result.output
    assert "accounts:   1 would be created" in result.output
    assert row_counts() == before


def test_float_artefacts_round_half_up_and_the_visit_fee_is_a_line(runner, hospital, tmp_path, glossary):
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.checkup_bundle())))
    assert result.exit_code == 0, result.output
    fee, flu = visit_lines("c-x1")
    assert (fee.code_system, fee.code, fee.description) == ("snomed", "185349003", "Encounter for check up")
    assert fee.charge == 12500 and fee.insurance_paid == 0 and fee.not_covered == 12500
    assert (flu.charge, flu.allowed, flu.insurance_paid, flu.coinsurance) == (14052, 14052, 11242, 2810)
    assert flu.service_date == date(2026, 10, 5)
    statement = fee.visit.statement
    assert summary_for(statement).amount_due.minor == 12500 + 2810


def test_rounding_residue_goes_to_the_insurers_payment(runner, hospital, tmp_path):
    # 5.005 + 5.005 rounds to 10.02, a cent more than the 10.01 allowed: the insurer's payment gives it back.
    bundle = fb.checkup_bundle(flu_net="10.01", coinsurance="5.005", paid="5.005", total="10.01")
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0, result.output
    (flu,) = visit_lines("c-x1")
    assert (flu.charge, flu.insurance_paid, flu.coinsurance) == (1001, 500, 501)


def test_hl7_and_carin_categories_are_matched_by_code_not_display(runner, hospital, tmp_path):
    line = fb.item(1, "99213", "Office visit", system="http://www.ama-assn.org/go/cpt", net=200, encounter_id="e1",
                   adjudications=[
        fb.adjudication(fb.HL7, "submitted", 200), fb.adjudication(fb.HL7, "eligible", 150),
        fb.adjudication(fb.HL7, "benefit", 90, display="Copay"), fb.adjudication(fb.HL7, "copay", 20),
        fb.adjudication(fb.HL7, "deductible", 25), fb.adjudication(fb.CARIN, "coinsurance", 10),
        fb.adjudication(fb.CARIN, "noncovered", 5),
        # A made-up code with a familiar display is not a deductible.
        fb.adjudication("http://example.org/codes", "x-ded", 999, display="Deductible"),
    ])
    bundle = fb.bundle(fb.patient(), *fb.organisation_and_doctor(), fb.encounter("e1"),
                       fb.eob("x1", [line], total=200, payment=90))
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0, result.output
    (office,) = visit_lines("c-x1")
    assert office.code_system == "cpt"
    assert (office.allowed, office.adjustment, office.insurance_paid, office.copay, office.deductible,
            office.coinsurance, office.not_covered) == (15000, 5000, 9000, 2000, 2500, 1000, 500)


def test_an_eob_with_no_priced_line_bills_its_total_as_the_visit(runner, hospital, tmp_path):
    visit = fb.item(1, "50849002", "Emergency room admission (procedure)", encounter_id="e1")
    diagnosis = fb.item(2, "38341003", "Hypertension")
    bundle = fb.bundle(fb.patient(), *fb.organisation_and_doctor(), fb.encounter("e1", kind="EMER"),
                       fb.eob("x1", [visit, diagnosis], total=Decimal("75.00"), payment=0))
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0, result.output
    (fee,) = visit_lines("c-x1")
    assert (fee.code, fee.description, fee.charge) == ("50849002", "Emergency room admission", 7500)
    assert fee.visit.department == "Emergency"


def test_no_insurance_coverage_is_self_pay_and_language_comes_from_communication(runner, hospital, tmp_path):
    bundle = fb.checkup_bundle(payer="no_insurance", language="es-MX", paid="0")
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0, result.output
    lines = visit_lines("c-x1")
    assert all(line.allowed is None and line.insurance_paid == 0 for line in lines)
    assert lines[0].visit.payer is None
    assert lines[0].visit.statement.account.preferred_locale == "es"
    chinese = fb.checkup_bundle(pid="p2", eid="e2", xid="x2", language="zh-CN", bundle_id="b2")
    assert run(runner, "fhir", str(fb.write(tmp_path / "zh.json", chinese))).exit_code == 0
    assert visit_lines("c-x2")[0].visit.statement.account.preferred_locale == "zh_Hans"


def test_unknown_codes_get_their_display_text_and_are_listed(runner, hospital, tmp_path, glossary):
    line = fb.item(1, "123456789", "Made-up therapy (regime/therapy)", net=50, servicedDate="2026-10-05",
                   adjudications=[fb.blue_button("line_alowd_chrg_amt", 50), fb.blue_button("line_prvdr_pmt_amt", 40),
                                  fb.blue_button("line_coinsrnc_amt", 10)])
    bundle = fb.bundle(fb.patient(), *fb.organisation_and_doctor(), fb.encounter("e1"),
                       fb.eob("x1", [line], total=50, payment=40))
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0, result.output
    assert "1 codes have no plain-language name in the service dictionary" in result.output
    assert "snomed 123456789: Made-up therapy (1 line)" in result.output
    (therapy,) = visit_lines("c-x1")
    assert therapy.description == "Made-up therapy"


def test_claims_group_into_one_statement_per_guarantor_per_period(runner, make, tmp_path):
    make.organisation(statement_period="monthly", payment_due_days=21)
    october = [fb.encounter("e1", start="2026-10-05T09:00:00-05:00"),
               fb.encounter("e2", start="2026-10-28T09:00:00-05:00"),
               fb.encounter("e3", start="2026-11-02T09:00:00-05:00")]
    eobs = [fb.eob(f"x{n}", [fb.item(1, "185349003", "Check up", encounter_id=f"e{n}")], total=100, payment=0)
            for n in (1, 2, 3)]
    bundle = fb.bundle(fb.patient(), *fb.organisation_and_doctor(), *october, *eobs)
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0, result.output
    statements = db.session.scalars(select(Statement).order_by(Statement.statement_date)).all()
    assert [(s.statement_date, s.due_date, len(s.visits)) for s in statements] == [
        (date(2026, 10, 31), date(2026, 11, 21), 2), (date(2026, 11, 30), date(2026, 12, 21), 1)]


def test_a_child_on_a_parents_policy_is_billed_to_the_parent(runner, hospital, tmp_path):
    parent, child = fb.patient("mum", given="Ana", family="Reyes"), fb.patient("kid", given="Leo", family="Reyes")
    claim = fb.eob("x1", [fb.item(1, "185349003", "Check up", encounter_id="e1")], pid="kid", total=100, payment=0)
    claim["contained"][0]["subscriber"] = {"reference": "urn:uuid:mum"}
    bundle = fb.bundle(parent, child, *fb.organisation_and_doctor(), fb.encounter("e1", "kid"), claim)
    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle))).exit_code == 0
    leo = db.session.scalar(select(Patient).where(Patient.given_name == "Leo"))
    assert leo.account.guarantor_name == "Ana Reyes"
    assert visit_lines("c-x1")[0].visit.statement.account_id == leo.account_id


def test_a_corrected_claim_updates_its_statement_and_discards_its_cached_pdf(runner, hospital, tmp_path, app):
    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.checkup_bundle()))).exit_code == 0
    fee, flu = visit_lines("c-x1")
    statement, line_ids = fee.visit.statement, [fee.id, flu.id]
    cached = cache.store(statement.number, "en", "oldversion", b"%PDF-old")
    corrected = fb.checkup_bundle(flu_net="150.00", coinsurance="30.00", paid="120.00", total="275.00")
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", corrected)))
    assert result.exit_code == 0, result.output
    assert "0 new, 1 corrected, 0 cancelled, 0 unchanged" in result.output
    assert "statements: 0 created, 1 updated" in result.output and "lines:      0 created, 1 updated" in result.output
    db.session.expire_all()
    fee, flu = visit_lines("c-x1")
    assert [fee.id, flu.id] == line_ids and flu.charge == 15000 and flu.coinsurance == 3000
    assert fee.visit.statement.number == statement.number
    assert not Path(cached).exists()
    actions = db.session.execute(select(AuditEvent.action, AuditEvent.actor_kind, AuditEvent.subject_id)
                                 .order_by(AuditEvent.id)).all()
    assert [tuple(a) for a in actions] == [("statement.imported", "import", statement.id),
                                           ("statement.corrected_by_import", "import", statement.id)]


def test_a_cancelled_claim_takes_its_visit_off_the_statement_which_stays(runner, hospital, tmp_path, make, client,
                                                                         login_as):
    from portal.auth.models import UserAccount

    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.checkup_bundle()))).exit_code == 0
    bundle = fb.checkup_bundle()
    bundle["entry"][-1]["resource"]["status"] = "entered-in-error"
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0, result.output
    assert "1 cancelled" in result.output
    assert "statements: 0 created, 1 updated (1 of them left with nothing on them)" in result.output
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    # The paper bill's number still opens it, with nothing due.
    statement = db.session.scalar(select(Statement))
    assert summary_for(statement).amount_due.minor == 0
    user = make.user(email="sam@example.org")
    db.session.add(UserAccount(user_id=user.id, account_id=statement.account_id))
    db.session.commit()
    login_as(user)
    assert client.get(f"/statements/{statement.number}").status_code == 200
    assert db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_kind == "import")
                              .order_by(AuditEvent.id)).all() == ["statement.imported", "statement.emptied_by_import"]


def test_ndjson_files_are_read_together_and_imported_per_patient(runner, hospital, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    resources = fb.checkup_bundle()["entry"]
    by_type: dict[str, list[str]] = {}
    for entry in resources:
        resource = json.loads(json.dumps(entry["resource"], default=str).replace('"urn:uuid:p1"', '"Patient/p1"'))
        by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource, default=str))
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n")
    (folder / "Observation.ndjson").write_text('{"resourceType": "Observation", "id": "o1", "status": "final"}\n')
    result = run(runner, "fhir", str(folder))
    assert result.exit_code == 0, result.output
    assert "patients:   1 created" in result.output and "claims:     1 new" in result.output
    assert "Not billing data, left alone: 1 Observation." in result.output
    # Files named one by one are read together too: the same claim, unchanged.
    one_by_one = run(runner, "fhir", *sorted(str(path) for path in folder.iterdir()))
    assert one_by_one.exit_code == 0 and "1 unchanged" in one_by_one.output, one_by_one.output
    # A later export with only the explanation of benefit finds the patient imported before.
    later = tmp_path / "later"
    later.mkdir()
    eob = json.loads(by_type["ExplanationOfBenefit"][0])
    eob["id"], eob["claim"] = "x9", {"reference": "Claim/c-x9"}
    (later / "ExplanationOfBenefit.ndjson").write_text(json.dumps(eob) + "\n")
    result = run(runner, "fhir", str(later))
    assert result.exit_code == 0, result.output
    assert "patients:   0 created" in result.output and "claims:     1 new" in result.output


BAD = {
    "not-json.json": ("{\"resourceType\": \"Bundle\", ", "-", "not valid JSON"),
    "document.json": ({"resourceType": "Bundle", "id": "d", "type": "document", "entry": []}, "Bundle/d",
                      "a Bundle of type 'document' holds no bills"),
    "negative.json": ("negative", "ExplanationOfBenefit/x1", "is negative"),
    "text-amount.json": ("text", "ExplanationOfBenefit/x1", "is not a number"),
    "euro.json": ("euro", "ExplanationOfBenefit/x1", "is in EUR, but this hospital bills in USD"),
    "no-patient.json": ("no-patient", "ExplanationOfBenefit/x1", "is not in the file and was not imported before"),
    "item-shape.json": ("item-shape", "ExplanationOfBenefit/x1", "item 3 is not an object"),
}


def _bad_bundle(kind: str) -> dict:
    bundle = fb.checkup_bundle()
    eob = bundle["entry"][-1]["resource"]
    flu = eob["item"][1]
    if kind == "negative":
        flu["adjudication"][1]["amount"]["value"] = Decimal("-5")
    elif kind == "text":
        flu["net"]["value"] = "140.52"
        flu["adjudication"][2]["amount"]["value"] = "lots"
    elif kind == "euro":
        flu["net"]["currency"] = "EUR"
        flu["adjudication"][2]["amount"]["currency"] = "EUR"
    elif kind == "no-patient":
        bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Patient"]
        eob["patient"] = {"reference": "Patient/nobody"}
    elif kind == "item-shape":
        eob["item"].append("not an item")
    return bundle


def test_bad_input_is_reported_by_file_resource_and_reason_and_leaves_no_rows(runner, hospital, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    fb.write(folder / "good.json", fb.checkup_bundle(pid="good", eid="eg", xid="xg", bundle_id="good"))
    for name, (content, _resource, _reason) in BAD.items():
        if isinstance(content, str) and name == "not-json.json":
            (folder / name).write_text(content)
        elif isinstance(content, dict):
            fb.write(folder / name, content)
        else:
            fb.write(folder / name, _bad_bundle(content))
    result = run(runner, "fhir", str(folder))
    assert result.exit_code == 1
    assert f"Imported 1 of {len(BAD) + 1} bundles." in result.output
    assert f"FAILED: {len(BAD)} bundles not imported" in result.output
    for name, (_content, resource, reason) in BAD.items():
        line = next((l for l in result.output.splitlines() if l.strip().startswith(f"{name}:")), "")
        assert resource in line and reason in line, (name, result.output)
    # Only the good bundle's patient is in; the bad ones' patients, accounts and claims are not.
    assert db.session.scalars(select(Patient.source_key)).all() == ["fhir:Patient/good"]
    assert db.session.scalar(select(func.count()).select_from(Account)) == 1


def test_a_bundle_with_one_bad_claim_imports_none_of_its_claims(runner, hospital, tmp_path):
    bundle = fb.checkup_bundle()
    bad = fb.eob("x2", [fb.item(1, "1", "Thing", net=10, servicedDate="2026-10-05",
                                adjudications=[fb.blue_button("line_alowd_chrg_amt", 20)])],
                 total=10, payment=0)
    bundle["entry"].append({"fullUrl": "urn:uuid:x2", "resource": bad})
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 1
    assert "b.json: ExplanationOfBenefit/x2: item 1: the allowed amount is more than the charge" in result.output
    assert row_counts() == dict.fromkeys(row_counts(), 0)


def test_the_billing_period_and_due_days_are_organisation_settings(runner, hospital, tmp_path):
    result = run(runner, "settings", "--period", "quarterly", "--due-days", "21")
    assert result.exit_code == 0 and "per quarter of care, due 21 days after its date" in result.output
    assert run(runner, "settings", "--period", "yearly").exit_code == 2
    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.checkup_bundle()))).exit_code == 0
    statement = db.session.scalar(select(Statement))
    assert (statement.period_start, statement.statement_date, statement.due_date) == (
        date(2026, 10, 1), date(2026, 12, 31), date(2027, 1, 21))


def test_an_imported_statement_reads_in_plain_language_and_only_its_patient_sees_it(
        runner, hospital, tmp_path, glossary, make, client, login_as):
    from portal.auth.models import UserAccount

    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.checkup_bundle(language="es")))).exit_code == 0
    statement = db.session.scalar(select(Statement))
    user = make.user(email="sam@example.org")
    db.session.add(UserAccount(user_id=user.id, account_id=statement.account_id))
    db.session.commit()
    login_as(make.user(email="other@example.org"))
    assert client.get(f"/statements/{statement.number}").status_code == 404
    client.delete_cookie("session")
    login_as(user)
    page = client.get(f"/statements/{statement.number}", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Checkup visit" in text and "Encounter for check up" in text
    assert "$153.10" in text and "Springfield General Hospital" in text and "Dr. Ana Lopez" in text


def _paths(node, path=()):  # noqa: ANN001, ANN202
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            yield from _paths(value, (*path, position))


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=8)
                     | st.decimals(allow_nan=False, allow_infinity=False, places=3),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                     max_leaves=6)
_TEMPLATE = fb.checkup_bundle()
_PLACES = list(_paths(_TEMPLATE))[1:]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(_PLACES), value=_JSON)
def test_any_mangled_resource_is_reported_never_a_crash_and_never_half_written(hospital, place, value):
    from portal.imports.cli import hospital_facts, run_import
    from portal.imports.fhir import unit_from_document
    from portal.imports.records import BadInput

    document = json.loads(json.dumps(_TEMPLATE, default=str), parse_float=Decimal)
    target = document
    for step in place[:-1]:
        target = target[step]
    target[place[-1]] = value
    try:
        unit = unit_from_document(document, "fuzz.json", hospital_facts(hospital))
    except BadInput as error:
        unit = error
    before = row_counts()
    report = run_import([unit], hospital, dry_run=False)
    assert report.units == 1 and report.imported + len(report.failed) == 1
    if report.failed:
        assert report.failed[0].reason and row_counts() == before
    db.session.rollback()
    for model in (ImportedClaim, LineItem, Visit, Statement, Patient, Account):
        db.session.query(model).delete()
    db.session.commit()


@pytest.mark.parametrize("kind", ["collection", "transaction", "batch", "searchset"])
def test_every_kind_of_bundle_that_carries_resources_is_read(runner, hospital, tmp_path, kind):
    bundle = fb.checkup_bundle()
    bundle["type"] = kind
    result = run(runner, "fhir", str(fb.write(tmp_path / f"{kind}.json", bundle)))
    assert result.exit_code == 0 and "claims:     1 new" in result.output, result.output


def test_a_single_resource_file_is_read_as_a_bundle_of_one(runner, hospital, tmp_path):
    patient_only = fb.write(tmp_path / "patient.json", fb.patient("solo", family="Okafor"))
    result = run(runner, "fhir", str(patient_only))
    assert result.exit_code == 0 and "patients:   1 created" in result.output, result.output


# --- What a review found: each case once broke the importer ------------------------------------------------

def _claim(n: int, start: str, *, status: str = "active", total=100) -> tuple[dict, dict]:
    return (fb.encounter(f"e{n}", start=start),
            fb.eob(f"x{n}", [fb.item(1, "185349003", "Check up", encounter_id=f"e{n}")], total=total, payment=0,
                   status=status))


def test_a_cancelled_and_a_new_claim_of_one_period_in_one_bundle_keep_the_statement(runner, hospital, tmp_path):
    first = _claim(1, "2026-10-05T09:00:00-05:00")
    assert run(runner, "fhir", str(fb.write(tmp_path / "a.json", fb.bundle(
        fb.patient(), *fb.organisation_and_doctor(), *first)))).exit_code == 0
    number = db.session.scalar(select(Statement.number))
    cancelled = _claim(1, "2026-10-05T09:00:00-05:00", status="entered-in-error")
    replacement = _claim(2, "2026-10-06T09:00:00-05:00")
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.bundle(
        fb.patient(), *fb.organisation_and_doctor(), *cancelled, *replacement))))
    assert result.exit_code == 0, result.output
    (statement,) = db.session.scalars(select(Statement)).all()
    assert statement.number == number and [v.visit_date for v in statement.visits] == [date(2026, 10, 6)]


def test_a_new_billing_period_never_reuses_statements_of_the_old_one(runner, hospital, tmp_path):
    october = _claim(1, "2026-10-05T09:00:00-05:00")
    assert run(runner, "fhir", str(fb.write(tmp_path / "a.json", fb.bundle(
        fb.patient(), *fb.organisation_and_doctor(), *october)))).exit_code == 0
    assert run(runner, "settings", "--period", "quarterly").exit_code == 0
    november = _claim(2, "2026-11-20T09:00:00-05:00")
    corrected = _claim(1, "2026-10-05T09:00:00-05:00", total=120)
    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.bundle(
        fb.patient(), *fb.organisation_and_doctor(), *november, *corrected)))).exit_code == 0
    by_date = {s.statement_date: [v.visit_date.day for v in s.visits]
               for s in db.session.scalars(select(Statement)).all()}
    # The October visit, corrected, stays on its monthly statement; November goes on the quarter's.
    assert by_date == {date(2026, 10, 31): [5], date(2026, 12, 31): [20]}


def test_a_cancelled_claim_with_no_explanation_of_benefit_is_cancelled_not_skipped(runner, hospital, tmp_path):
    assert run(runner, "fhir", str(fb.write(tmp_path / "a.json", fb.checkup_bundle()))).exit_code == 0
    withdrawn = {"resourceType": "Claim", "id": "c-x1", "status": "cancelled", "use": "claim",
                 "patient": {"reference": "urn:uuid:p1"}, "insurance": [{"focal": True,
                                                                         "coverage": {"display": "private"}}]}
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.bundle(withdrawn))))
    assert result.exit_code == 0 and "1 cancelled" in result.output, result.output
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0


def test_a_withdrawn_explanation_replaced_by_another_does_not_cancel_the_claim(runner, hospital, tmp_path):
    bundle = fb.checkup_bundle()
    original = json.loads(json.dumps(bundle["entry"][-1]["resource"], default=str), parse_float=Decimal)
    original["id"], original["status"] = "x0", "entered-in-error"
    bundle["entry"].append({"fullUrl": "urn:uuid:x0", "resource": original})
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 0 and "1 new, 0 corrected, 0 cancelled" in result.output, result.output
    assert "ExplanationOfBenefit/x0: withdrawn, and replaced by another" in result.output


def test_a_correction_keeps_each_line_and_its_question_on_the_same_service(runner, hospital, tmp_path, make):
    from portal.questions import services as question_services
    from portal.questions.models import Question

    exact = fb.checkup_bundle(total="140.52")  # no visit fee: the flu shot is the only line
    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", exact))).exit_code == 0
    (flu,) = visit_lines("c-x1")
    statement = flu.visit.statement
    question = question_services.ask(statement, flu, question_services.NewQuestion(
        "charges", "Why was the flu shot so much?", "en", "email", contact_email="sam@example.org"), user=None)
    db.session.commit()
    # The corrected claim adds the visit fee, which reads first on the statement.
    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", fb.checkup_bundle()))).exit_code == 0
    db.session.expire_all()
    fee, flu_again = visit_lines("c-x1")
    assert flu_again.id == flu.id and flu_again.code == "140" and fee.code == "185349003"
    assert db.session.get(Question, question.id).line_item_id == flu.id


def test_an_export_without_its_patient_re_imports_unchanged(runner, hospital, tmp_path):
    assert run(runner, "fhir", str(fb.write(tmp_path / "a.json", fb.checkup_bundle()))).exit_code == 0
    without_patient = fb.checkup_bundle()
    without_patient["entry"] = [e for e in without_patient["entry"] if e["resource"]["resourceType"] != "Patient"]
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", without_patient)))
    assert result.exit_code == 0 and "0 new, 0 corrected, 0 cancelled, 1 unchanged" in result.output, result.output


def test_rounding_never_invents_money_nor_a_visit_fee(runner, hospital, tmp_path):
    # Exact amounts: the cent the insurer did not pay and nobody named is the patient's, not a rounding.
    exact = fb.checkup_bundle(flu_net="1.00", coinsurance="0.99", paid="0", total="1.00")
    assert run(runner, "fhir", str(fb.write(tmp_path / "a.json", exact))).exit_code == 0
    (flu,) = visit_lines("c-x1")
    assert (flu.insurance_paid, flu.coinsurance, flu.not_covered) == (0, 99, 1)
    # Parts above the allowed amount are refused, not trimmed.
    over = fb.checkup_bundle(pid="p2", eid="e2", xid="x2", flu_net="1.00", coinsurance="1.01", paid="0",
                             total="1.00", bundle_id="b2")
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", over)))
    assert result.exit_code == 1 and "add up to more than the allowed amount" in result.output
    # Two lines of 10.004 and a total of 20.008: 10.00 + 10.00 against 20.01 is rounding, not a visit fee.
    lines = [fb.item(n, code, "Shot", system="http://hl7.org/fhir/sid/cvx", net=Decimal("10.004"),
                     servicedDate="2026-10-05") for n, code in ((1, "140"), (2, "115"))]
    bundle = fb.bundle(fb.patient("p3"), *fb.organisation_and_doctor(),
                       fb.eob("x3", lines, pid="p3", total=Decimal("20.008"), payment=0, payer="no_insurance"))
    assert run(runner, "fhir", str(fb.write(tmp_path / "c.json", bundle))).exit_code == 0
    assert [line.charge for line in visit_lines("c-x3")] == [1000, 1000]


def test_money_an_insurer_paid_the_patient_is_still_owed_to_the_hospital(runner, hospital, tmp_path):
    line = fb.item(1, "99213", "Office visit", system="http://www.ama-assn.org/go/cpt", net=100, encounter_id="e1",
                   adjudications=[fb.adjudication(fb.HL7, "submitted", 100), fb.adjudication(fb.HL7, "eligible", 100),
                                  fb.adjudication(fb.CARIN, "paidtopatient", 80),
                                  fb.adjudication(fb.CARIN, "coinsurance", 20)])
    bundle = fb.bundle(fb.patient(), *fb.organisation_and_doctor(), fb.encounter("e1"),
                       fb.eob("x1", [line], total=100, payment=80))
    assert run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle))).exit_code == 0
    (office,) = visit_lines("c-x1")
    assert office.insurance_paid == 0 and office.patient_owes_minor == 10000


@pytest.mark.parametrize("value, reason", [
    (Decimal("1e17"), "is too large"), (Decimal("1E+999999"), "is too large"), (Decimal("NaN"), "is not a number")])
def test_absurd_amounts_are_refused_by_name(runner, hospital, tmp_path, value, reason):
    bundle = fb.checkup_bundle()
    bundle["entry"][-1]["resource"]["item"][1]["net"]["value"] = value
    bundle["entry"][-1]["resource"]["item"][1]["adjudication"][2]["amount"]["value"] = value
    result = run(runner, "fhir", str(fb.write(tmp_path / "b.json", bundle)))
    assert result.exit_code == 1 and reason in result.output, result.output
    assert row_counts()["patients"] == 0


def test_a_deeply_nested_ndjson_line_is_reported(runner, hospital, tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    result = run(runner, "fhir", str(folder))
    assert result.exit_code == 1 and "line 1 is not valid JSON" in result.output
