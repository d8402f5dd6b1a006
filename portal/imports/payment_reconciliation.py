"""The day's portal payments and refunds as a FHIR R4 Bundle of ``PaymentReconciliation`` resources.

``flask --app portal payments export --format fhir`` writes what this builds, for a hospital billing system
to post the portal's card payments automatically. No database here: it takes the export rows
(``portal.payments.services.export_rows``) and returns a dict ready for ``json.dump``.

One ``PaymentReconciliation`` per row, so that each payment and each refund is posted (and found again)
on its own:

- ``id`` is derived from the payment reference (a payment) or the Stripe refund id (a refund), so that the
  same day exported twice gives the same ids;
- ``identifier`` names the row for the billing system to recognise it if sent again (payments by the portal's
  payment reference and the PaymentIntent; refunds by the Stripe refund, the payment they give money back on
  being in ``detail.predecessor``), and ``paymentIdentifier`` is Stripe's id of the money movement;
- ``created`` is when it was posted (ISO 8601 in the hospital's time zone), ``paymentDate`` that day on the
  hospital's calendar, ``paymentAmount`` the exact amount (refunds negative);
- ``detail[0]`` says what the money is for: the statement (``request``, by identifier, as the portal's
  statements are not FHIR resources anywhere the billing system could resolve) and the guarantor account
  (the HL7 cross-version extension for R5's ``allocation.account``).

FHIR ``decimal`` is a JSON number, and ``json`` cannot write a ``Decimal``: ``to_json`` writes each amount's
exact digits (``50.00``, ``-0.01``) as the number, so no float ever holds money.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..money import Money

if TYPE_CHECKING:  # the rows come from the payments package; importing it here would need the database
    from ..payments.services import ExportRow

# The portal's own identifier systems. URNs rather than web addresses: they name the portal's numbering, not
# a server anyone could look them up on.
PAYMENT_SYSTEM = "urn:patient-billing-portal:payment"
REFUND_SYSTEM = "urn:patient-billing-portal:stripe-refund"
ADJUSTMENT_SYSTEM = "urn:patient-billing-portal:balance-adjustment"
PAYMENT_INTENT_SYSTEM = "urn:patient-billing-portal:stripe-payment-intent"
STATEMENT_SYSTEM = "urn:patient-billing-portal:statement"
ACCOUNT_SYSTEM = "urn:patient-billing-portal:account"
ORGANISATION_SYSTEM = "urn:patient-billing-portal:organisation"
EXPORT_SYSTEM = "urn:patient-billing-portal:payment-export"

PAYMENT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/payment-type"
# R4's PaymentReconciliation.detail has no element for the account a payment is booked to; R5's renamed
# ``allocation`` has one (``account``, a Reference(Account)). HL7's cross-version extension carries that R5
# element on R4's ``detail`` (its stated context), so a receiver that knows R5 reads it as the R5 element and
# nothing of ours has to be defined. Preferred over a home-made extension (an invented definition URL) and over
# putting the account into ``detail.identifier`` (which identifies the payment item, not what it is paid to).
ACCOUNT_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-PaymentReconciliation.allocation.account"

DISPOSITIONS = {"payment": "Card payment through the patient portal", "refund": "Refund through the patient portal",
                "adjustment": "Adjustment by the billing office in the patient portal"}
# http://terminology.hl7.org/CodeSystem/payment-type has three codes: "payment" (partial or complete settlement
# of the amounts due), "adjustment" (an adjustment regarding claims already paid) and "advance" (against future
# claims). A refund gives back part or all of a payment already posted on the statement, so it is an adjustment
# of what was paid, not a settlement; the negative amount and ``detail.predecessor`` (the payment) say which.
# The billing office's own adjustments (a disputed charge corrected) move no money: the resource's payment amount is
# zero and its detail's amount is what was taken off the statement.
PAYMENT_TYPES = {"payment": ("payment", "Payment"), "refund": ("adjustment", "Adjustment"),
                 "adjustment": ("adjustment", "Adjustment")}

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def fhir_id(prefix: str, raw: str) -> str:
    """A FHIR resource id (``[A-Za-z0-9-.]{1,64}``) made from ``raw``, the same every time.

    Payment references (``secrets.token_urlsafe``) and Stripe ids use letters, digits, ``-`` and ``_``, never
    ``.``: ``_`` becomes ``.``, which keeps distinct references distinct. Anything else (or too long) is hashed.
    """
    candidate = f"{prefix}-{raw.replace('_', '.')}"
    if "." not in raw and _FHIR_ID.fullmatch(candidate):
        return candidate
    return f"{prefix}-{hashlib.sha256(raw.encode('utf-8')).hexdigest()[:40]}"


def to_json(document: object, **options) -> str:
    """``document`` as JSON text, each Decimal written as a JSON number with exactly its digits (``50.00``,
    ``-0.01``, ``1.005``): FHIR decimals keep the amount's precision, and no float ever holds money."""
    # Decimals go through json as marked strings, then lose their quotes; a marker fresh for each call cannot
    # be met in the document's own text.
    marker = secrets.token_hex(8)

    def marked(value: object) -> str:
        if isinstance(value, Decimal) and value.is_finite():
            return f"{marker}{format(value, 'f')}{marker}"
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    text = json.dumps(document, default=marked, **options)
    return re.sub(f'"{marker}(-?[0-9]+(?:\\.[0-9]+)?){marker}"', lambda match: match[1], text)


def money(amount: Money) -> dict:
    return {"value": amount.to_decimal(), "currency": amount.currency}


def identifier(system: str, value: str, use: str | None = None) -> dict:
    result = {"system": system, "value": value}
    if use:
        result["use"] = use
    return result


def payment_reconciliation(row: ExportRow, *, time_zone: str, organisation_name: str | None = None,
                           organisation_slug: str | None = None) -> dict:
    """One ``PaymentReconciliation`` for one export row (a card payment posted, or a refund made)."""
    if row.kind not in DISPOSITIONS:
        raise ValueError(f"unknown export row type {row.kind!r}")
    posted = row.at.astimezone(ZoneInfo(time_zone))
    paid_on = posted.date().isoformat()
    if row.kind == "payment":
        resource_id = fhir_id("payment", row.payment_reference)
        business_ids = [identifier(PAYMENT_SYSTEM, row.payment_reference, "official")]
        if row.stripe_id:
            business_ids.append(identifier(PAYMENT_INTENT_SYSTEM, row.stripe_id, "secondary"))
        stripe_system = PAYMENT_INTENT_SYSTEM
    elif row.kind == "adjustment":
        resource_id = fhir_id("adjustment", row.payment_reference)
        business_ids = [identifier(ADJUSTMENT_SYSTEM, row.payment_reference, "official")]
        stripe_system = None
    else:
        # A refund shares its payment's reference: were that its identifier too, looking the payment up by
        # identifier would find the refund as well. It is named by its own Stripe id, and points to the payment.
        resource_id = fhir_id("refund", row.stripe_id)
        business_ids = [identifier(REFUND_SYSTEM, row.stripe_id, "official")]
        stripe_system = REFUND_SYSTEM
    code, display = PAYMENT_TYPES[row.kind]
    detail: dict = {
        "extension": [{"url": ACCOUNT_EXTENSION,
                       "valueReference": {"type": "Account", "identifier": identifier(ACCOUNT_SYSTEM, row.account),
                                          "display": f"Account {row.account}"}}],
        "identifier": identifier(business_ids[0]["system"], business_ids[0]["value"]),
    }
    if row.kind == "refund":
        detail["predecessor"] = identifier(PAYMENT_SYSTEM, row.payment_reference)
    detail["type"] = {"coding": [{"system": PAYMENT_TYPE_SYSTEM, "code": code, "display": display}]}
    # The statement is the bill the money is for: a patient statement is what FHIR calls an Invoice. A logical
    # reference (by identifier): the portal serves no FHIR resource for it to point to.
    detail["request"] = {"type": "Invoice", "identifier": identifier(STATEMENT_SYSTEM, row.statement),
                         "display": f"Statement {row.statement}"}
    if row.kind == "payment" and organisation_slug:
        # Who receives the money: the hospital. A refund's payee is the card holder, whom the export does not name.
        detail["payee"] = {"type": "Organization", "identifier": identifier(ORGANISATION_SYSTEM, organisation_slug),
                           **({"display": organisation_name} if organisation_name else {})}
    detail["date"] = paid_on
    detail["amount"] = money(row.amount)
    resource: dict = {
        "resourceType": "PaymentReconciliation",
        "id": resource_id,
        "identifier": business_ids,
        "status": "active",
        "created": posted.isoformat(timespec="seconds"),
        "outcome": "complete",
        "disposition": DISPOSITIONS[row.kind],
        "paymentDate": paid_on,
        "paymentAmount": money(Money.zero(row.amount.currency) if row.kind == "adjustment" else row.amount),
    }
    if row.stripe_id and stripe_system:
        # The payment processor's number for this movement of money, where R4 puts a cheque or EFT number.
        resource["paymentIdentifier"] = identifier(stripe_system, row.stripe_id)
    resource["detail"] = [detail]
    return resource


def payment_reconciliation_bundle(rows: Iterable[ExportRow], *, day: date, time_zone: str,
                                  organisation_name: str | None = None,
                                  organisation_slug: str | None = None) -> dict:
    """A FHIR R4 ``collection`` Bundle of one ``PaymentReconciliation`` per row, in the rows' order.

    ``day`` is the exported day on the hospital's calendar and ``time_zone`` the hospital's; the Bundle's id and
    identifier name the organisation (``organisation_slug``) and the day, so a file sent twice can be recognised.
    """
    name = f"{organisation_slug}-{day.isoformat()}" if organisation_slug else day.isoformat()
    bundle: dict = {
        "resourceType": "Bundle",
        "id": fhir_id("payments", name),
        "identifier": identifier(EXPORT_SYSTEM, name),
        "type": "collection",
    }
    entries = [{"resource": payment_reconciliation(row, time_zone=time_zone, organisation_name=organisation_name,
                                                   organisation_slug=organisation_slug)} for row in rows]
    if entries:  # FHIR elements are left out rather than empty
        bundle["entry"] = entries
    return bundle
