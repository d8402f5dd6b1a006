"""The amounts a statement page lists: which rows a line, a visit and the statement show, and in what order."""
from flask_babel import force_locale

from portal.billing.models import LineItem
from portal.billing.rows import AmountRows
from portal.billing.services import breakdown
from portal.money import Money


def _line(charge, *, allowed=None, insurance_paid=0, adjustment=0, **share) -> LineItem:
    return LineItem(charge=charge, allowed=allowed,
                    insurance_paid=insurance_paid, adjustment=adjustment, deductible=share.get("deductible", 0),
                    copay=share.get("copay", 0), coinsurance=share.get("coinsurance", 0),
                    not_covered=share.get("not_covered", 0))


def _listed(rows) -> list[tuple[str, int, str]]:
    return [(str(row.label), row.amount.minor, row.emphasis) for row in rows]


def test_an_insured_line_lists_only_the_parts_of_the_share_that_apply(app):
    line = _line(20000, allowed=12000, insurance_paid=9000, adjustment=8000, deductible=2000, coinsurance=1000)
    with app.test_request_context():
        assert _listed(AmountRows("USD").line(line)) == [
            ("Charge", 20000, ""), ("Allowed amount", 12000, ""), ("Insurance paid", 9000, ""),
            ("Adjustment", 8000, ""), ("Deductible", 2000, ""), ("Coinsurance", 1000, ""), ("You owe", 3000, "owes")]


def test_a_self_pay_line_shows_its_discount_only_when_there_is_one(app):
    with app.test_request_context():
        assert _listed(AmountRows("USD").line(_line(5000, adjustment=1500))) == [
            ("Charge", 5000, ""), ("Self-pay discount", 1500, ""), ("You owe", 3500, "owes")]
        assert _listed(AmountRows("USD").line(_line(5000))) == [("Charge", 5000, ""), ("You owe", 5000, "owes")]


def test_totals_list_every_part_and_end_with_what_is_due_when_payments_are_given(app):
    lines = [_line(20000, allowed=12000, insurance_paid=9000, adjustment=8000, deductible=3000),
             _line(5000, allowed=5000, insurance_paid=4000, copay=1000)]
    totals = breakdown(lines, "USD")
    with app.test_request_context():
        rows = AmountRows("USD")
        visit = _listed(rows.breakdown(totals))
        assert visit == [("Charges", 25000, ""), ("Allowed amount", 17000, ""), ("Insurance paid", 13000, ""),
                         ("Adjustments", 8000, ""), ("Deductible", 3000, ""), ("Copay", 1000, ""),
                         ("Coinsurance", 0, ""), ("Not covered", 0, ""),
                         ("You owe for these services", 4000, "owes")]
        statement = _listed(rows.breakdown(totals, Money(1500, "USD"), Money(2500, "USD")))
        assert statement == visit + [("Payments received", 1500, ""), ("Amount due", 2500, "total")]
        with force_locale("es"):
            assert AmountRows("USD").line(lines[0])[0].label == "Cargo"  # labels in the page's language
