"""Quick pay: a statement number and date of birth open that one statement, for 30 minutes."""
import time

from portal.audit.models import AuditEvent
from portal.extensions import db


def test_opens_that_statement_only(client, make, submit):
    statement = make.statement()
    other = make.statement(make.account("Other Person"))
    response = submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    assert response.status_code == 302 and response.headers["Location"] == f"/statements/{statement.number}"
    page = client.get(f"/statements/{statement.number}").get_data(as_text=True)
    assert "For your privacy, this ends in 30 minutes." in page
    assert client.get(f"/statements/{other.number}").status_code == 404
    assert client.get("/statements").status_code == 302  # the list needs a login
    actions = [e.action for e in db.session.scalars(db.select(AuditEvent))]
    assert "quick_pay.opened" in actions and "statement.viewed" in actions
    viewed = db.session.scalar(db.select(AuditEvent).where(AuditEvent.action == "statement.viewed"))
    assert viewed.actor_kind == "guest" and viewed.subject_id == statement.id


def test_number_typed_with_spaces_and_dashes(client, make, submit):
    make.statement(number="400100017")
    response = submit("/quick-pay", {"statement_number": " 400-100 017", "date_of_birth": "1980-05-17"})
    assert response.headers["Location"] == "/statements/400100017"


def test_wrong_date_of_birth_opens_nothing(client, make, submit):
    statement = make.statement()
    response = submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/18/1980"})
    assert response.status_code == 400
    assert "We could not find a bill with that statement number and date of birth" in response.get_data(as_text=True)
    assert client.get(f"/statements/{statement.number}").status_code == 404


def test_access_ends_after_thirty_minutes(client, make, submit, monkeypatch):
    statement = make.statement()
    submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    assert client.get(f"/statements/{statement.number}").status_code == 200
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 29 * 60 + 30)
    response = client.get(f"/statements/{statement.number}")
    assert response.status_code == 200
    assert "For your privacy, this ends in 1 minute." in response.get_data(as_text=True)
    monkeypatch.setattr(time, "time", lambda: real_time() + 31 * 60)
    assert client.get(f"/statements/{statement.number}").status_code == 404


def test_the_link_on_a_paper_bill_fills_in_the_number(client, make):
    statement = make.statement()
    page = client.get(f"/quick-pay?statement={statement.number}").get_data(as_text=True)
    assert f'value="{statement.number}"' in page
