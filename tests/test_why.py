""""Why do I owe this?": the sentences for each kind of line and statement, word for word."""
from dataclasses import dataclass

import pytest

from portal.glossary.why import explain_line, explain_statement
from portal.money import Money


@dataclass
class Line:
    """A line's adjudication, as the explanations read it; the parts must add up to the charge."""

    charge: int
    allowed: int | None = None
    insurance_paid: int = 0
    adjustment: int = 0
    deductible: int = 0
    copay: int = 0
    coinsurance: int = 0
    not_covered: int = 0

    def __post_init__(self):
        parts = (self.insurance_paid + self.adjustment + self.deductible + self.copay + self.coinsurance
                 + self.not_covered)
        # As the database checks: an insured line's parts add up to its charge.
        assert self.allowed is None or parts == self.charge, "a test line must reconcile like a real one"

    @property
    def insured(self) -> bool:
        return self.allowed is not None

    def minor(self, field: str) -> int:
        if field == "patient_owes":
            return self.charge - self.insurance_paid - self.adjustment
        return getattr(self, field) or 0


LINE_CASES = {
    "deductible only (the issue's example)": (
        Line(120000, allowed=45000, insurance_paid=30000, adjustment=75000, deductible=15000), False,
        ["The hospital charged $1,200.00.",
         "Your insurance agreed to a price of $450.00 and paid $300.00.",
         "The other $750.00 was taken off under the hospital's agreement with your insurance.",
         "You owe $150.00 because it counts toward your deductible."]),
    "copay only": (
        Line(18500, allowed=10175, insurance_paid=7175, adjustment=8325, copay=3000), False,
        ["The hospital charged $185.00.",
         "Your insurance agreed to a price of $101.75 and paid $71.75.",
         "The other $83.25 was taken off under the hospital's agreement with your insurance.",
         "You owe $30.00 because it is your copay for this visit."]),
    "coinsurance only": (
        Line(10000, allowed=6000, insurance_paid=4800, adjustment=4000, coinsurance=1200), False,
        ["The hospital charged $100.00.",
         "Your insurance agreed to a price of $60.00 and paid $48.00.",
         "The other $40.00 was taken off under the hospital's agreement with your insurance.",
         "You owe $12.00 because it is your coinsurance, your part of the agreed price."]),
    "several parts": (
        Line(10000, allowed=6000, insurance_paid=4000, adjustment=3000, deductible=1000, copay=500,
             coinsurance=500, not_covered=1000), False,
        ["The hospital charged $100.00.",
         "Your insurance agreed to a price of $60.00 and paid $40.00.",
         "The hospital took $30.00 off under its agreement with your insurance.",
         "You owe $30.00 in all.",
         "$10.00 of that counts toward your deductible.",
         "$5.00 of that is your copay.",
         "$5.00 of that is your coinsurance.",
         "$10.00 of that is not covered by your plan."]),
    "denied": (
        Line(210000, allowed=0, not_covered=210000), False,
        ["The hospital charged $2,100.00.",
         "Your insurance did not pay for this service.",
         "You owe $2,100.00 because your plan does not cover it.",
         "If you think this is wrong, you can ask your insurance for an appeal."]),
    "denied with a write-off": (
        Line(50000, allowed=0, adjustment=20000, not_covered=30000), False,
        ["The hospital charged $500.00.",
         "Your insurance did not pay for this service.",
         "The hospital took $200.00 off the bill.",
         "You owe $300.00 because your plan does not cover it.",
         "If you think this is wrong, you can ask your insurance for an appeal."]),
    "denied after accepting the price": (
        Line(1000, allowed=1000, not_covered=1000), False,
        ["The hospital charged $10.00.",
         "Your insurance did not pay for this service.",
         "You owe $10.00 because your plan does not cover it.",
         "If you think this is wrong, you can ask your insurance for an appeal."]),
    "part not covered": (
        Line(1000, allowed=600, insurance_paid=400, adjustment=400, not_covered=200), False,
        ["The hospital charged $10.00.",
         "Your insurance agreed to a price of $6.00 and paid $4.00.",
         "The other $4.00 was taken off under the hospital's agreement with your insurance.",
         "You owe $2.00 because your plan does not cover that part of the service."]),
    "fully paid: part not covered": (
        Line(1000, allowed=600, insurance_paid=400, adjustment=400, not_covered=200), True,
        ["The hospital charged $10.00.",
         "Your insurance agreed to a price of $6.00 and paid $4.00.",
         "The other $4.00 was taken off under the hospital's agreement with your insurance.",
         "You paid $2.00 because your plan does not cover that part of the service."]),
    "zero balance: insurance paid the agreed price": (
        Line(4800, allowed=2640, insurance_paid=2640, adjustment=2160), False,
        ["The hospital charged $48.00.",
         "Your insurance agreed to a price of $26.40 and paid $26.40.",
         "The other $21.60 was taken off under the hospital's agreement with your insurance.",
         "Your insurance paid all of the agreed price, so you owe nothing."]),
    "zero balance: all taken off": (
        Line(1500, allowed=0, adjustment=1500), False,
        ["The hospital charged $15.00.",
         "Your insurance did not pay for this service.",
         "The hospital took $15.00 off the bill.",
         "You owe nothing for this service."]),
    "full price accepted": (
        Line(5000, allowed=5000, insurance_paid=4000, coinsurance=1000), False,
        ["The hospital charged $50.00.",
         "Your insurance accepted the full price and paid $40.00.",
         "You owe $10.00 because it is your coinsurance, your part of the agreed price."]),
    "agreed price, nothing paid yet": (
        Line(30000, allowed=16500, adjustment=13500, deductible=16500), False,
        ["The hospital charged $300.00.",
         "Your insurance agreed to a price of $165.00 but paid nothing.",
         "The other $135.00 was taken off under the hospital's agreement with your insurance.",
         "You owe $165.00 because it counts toward your deductible."]),
    "self-pay with a discount": (
        Line(98500, adjustment=39400), False,
        ["The hospital charged $985.00.",
         "You had no insurance for this visit, so you got a self-pay discount of $394.00.",
         "You owe the rest: $591.00."]),
    "self-pay without a discount": (
        Line(2500), False,
        ["The hospital charged $25.00.",
         "You had no insurance for this visit.",
         "You owe the rest: $25.00."]),
    "no charge": (
        Line(0, allowed=0), False,
        ["There is no charge for this service."]),
    "fully paid: deductible": (
        Line(120000, allowed=45000, insurance_paid=30000, adjustment=75000, deductible=15000), True,
        ["The hospital charged $1,200.00.",
         "Your insurance agreed to a price of $450.00 and paid $300.00.",
         "The other $750.00 was taken off under the hospital's agreement with your insurance.",
         "You paid $150.00 because it counts toward your deductible."]),
    "fully paid: several parts": (
        Line(10000, allowed=7000, insurance_paid=5000, adjustment=3000, copay=1000, coinsurance=1000), True,
        ["The hospital charged $100.00.",
         "Your insurance agreed to a price of $70.00 and paid $50.00.",
         "The other $30.00 was taken off under the hospital's agreement with your insurance.",
         "You paid $20.00 in all.",
         "$10.00 of that is your copay.",
         "$10.00 of that is your coinsurance."]),
    "fully paid: self-pay": (
        Line(10000, adjustment=4000), True,
        ["The hospital charged $100.00.",
         "You had no insurance for this visit, so you got a self-pay discount of $40.00.",
         "You paid the rest: $60.00."]),
}


@pytest.mark.parametrize("line, settled, expected", LINE_CASES.values(), ids=LINE_CASES.keys())
def test_line_explanation(app, line, settled, expected):
    with app.test_request_context():
        assert explain_line(line, "USD", settled=settled) == expected


def _usd(minor: int) -> Money:
    return Money(minor, "USD")


STATEMENT_CASES = {
    "insured and self-pay, partly paid": (
        [Line(120000, allowed=45000, insurance_paid=30000, adjustment=75000, deductible=15000),
         Line(10000, allowed=6000, insurance_paid=4800, adjustment=4000, coinsurance=1200),
         Line(20000, adjustment=8000)],
        _usd(5000), _usd(15000 + 1200 + 12000 - 5000),
        ["The hospital charged $1,500.00 for 3 services.",
         "Your insurance paid $348.00.",
         "The hospital took $790.00 off under its agreements with your insurance.",
         "You got a self-pay discount of $80.00.",
         "Your share is $282.00.",
         "$150.00 of that counts toward your deductible.",
         "$12.00 of that is your coinsurance.",
         "$120.00 of that is for care with no insurance.",
         "You have paid $50.00.",
         "You owe $232.00."]),
    "one kind of share, paid in full": (
        [Line(120000, allowed=45000, insurance_paid=30000, adjustment=75000, deductible=15000)],
        _usd(15000), _usd(0),
        ["The hospital charged $1,200.00 for 1 service.",
         "Your insurance paid $300.00.",
         "The hospital took $750.00 off under its agreements with your insurance.",
         "Your share is $150.00.",
         "All of it counts toward your deductible.",
         "You have paid $150.00.",
         "You have paid this bill in full. Thank you."]),
    "a refused service written off in part": (
        [Line(50000, allowed=0, adjustment=20000, not_covered=30000),
         Line(10000, allowed=6000, insurance_paid=4800, adjustment=4000, coinsurance=1200)],
        _usd(0), _usd(31200),
        ["The hospital charged $600.00 for 2 services.",
         "Your insurance paid $48.00.",
         "The hospital took $40.00 off under its agreements with your insurance.",
         "The hospital took $200.00 off for services your insurance did not pay for.",
         "Your share is $312.00.",
         "$12.00 of that is your coinsurance.",
         "$300.00 of that is not covered by your plan.",
         "You owe $312.00."]),
    "overpaid": (
        [Line(10000, adjustment=4000)],
        _usd(7000), _usd(-1000),
        ["The hospital charged $100.00 for 1 service.",
         "You got a self-pay discount of $40.00.",
         "Your share is $60.00.",
         "All of it is for care with no insurance.",
         "You have paid $70.00.",
         "You have paid $10.00 more than you owe.",
         "Ask the billing office about a refund."]),
    "nothing owed": (
        [Line(4800, allowed=2640, insurance_paid=2640, adjustment=2160)],
        _usd(0), _usd(0),
        ["The hospital charged $48.00 for 1 service.",
         "Your insurance paid $26.40.",
         "The hospital took $21.60 off under its agreements with your insurance.",
         "You owe nothing on this bill."]),
    "insurance paid nothing": (
        [Line(210000, allowed=0, not_covered=210000)],
        _usd(0), _usd(210000),
        ["The hospital charged $2,100.00 for 1 service.",
         "Your insurance paid nothing.",
         "Your share is $2,100.00.",
         "All of it is for care your plan does not cover.",
         "You owe $2,100.00."]),
}


@pytest.mark.parametrize("lines, paid, due, expected", STATEMENT_CASES.values(), ids=STATEMENT_CASES.keys())
def test_statement_explanation(app, lines, paid, due, expected):
    with app.test_request_context():
        assert explain_statement(lines, "USD", paid=paid, amount_due=due) == expected


def test_amounts_follow_the_locale(app):
    line = Line(120000, allowed=45000, insurance_paid=30000, adjustment=75000, deductible=15000)
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("de"):
        # No German catalog: the English sentence, but the amount is written the German way.
        assert explain_line(line, "EUR")[0] == "The hospital charged 1.200,00\xa0€."
