"""Creating a login by claiming a bill, and adding a family member's bill to a login."""
from datetime import date

from portal.auth.models import User
from portal.extensions import db

DETAILS = {"date_of_birth": "05/17/1980", "last_name": "Guarantor"}


def _claim(submit, statement, **overrides):
    return submit("/register", {"statement_number": statement.number, **DETAILS, **overrides})


def test_claim_a_bill_then_choose_email_and_password(client, make, submit):
    statement = make.statement(lines=2)
    response = _claim(submit, statement)
    assert response.status_code == 302 and response.headers["Location"] == "/register/login"
    page = client.get("/register/login").get_data(as_text=True)
    assert f"We found statement {statement.number}" in page
    response = submit("/register/login", {"email": "New@Example.org", "password": "a long enough secret",
                                          "confirm": "a long enough secret"})
    assert response.status_code == 302 and response.headers["Location"] == "/statements"
    assert f"Statement {statement.number}" in client.get("/statements").get_data(as_text=True)
    user = db.session.scalar(db.select(User).where(User.email == "new@example.org"))
    assert [a.id for a in user.accounts] == [statement.account_id]
    assert user.role == "patient"


def test_names_match_as_a_person_would_type_them(make, submit):
    account = make.account("María José García-López")
    make.patient(account, "María José", "García-López", date(1975, 1, 2))
    statement = make.statement(account)
    response = _claim(submit, statement, date_of_birth="1975-01-02", last_name="  garcia lopez ")
    assert response.status_code == 302


def test_any_mismatch_gets_the_same_answer(make, submit):
    statement = make.statement()
    for changes in ({"last_name": "Someone"}, {"date_of_birth": "05/18/1980"}, {"statement_number": "999999999"}):
        response = _claim(submit, statement, **changes)
        assert response.status_code == 400
        assert "We could not find a bill with those details" in response.get_data(as_text=True)


def test_a_patient_on_a_visit_of_the_statement_can_claim_it(make, submit):
    account = make.account("Pat Parent")
    parent = make.patient(account, "Pat", "Parent", date(1970, 1, 1))
    child = make.patient(account, "Kid", "Parent", date(2015, 6, 1))
    statement = make.statement(account, patient=child)
    assert _claim(submit, statement, date_of_birth="06/01/2015", last_name="Parent").status_code == 302
    assert parent.id  # the guarantor's own details are not on this bill's visits
    assert _claim(submit, statement, date_of_birth="01/01/1970", last_name="Parent").status_code == 400


def test_an_existing_email_signs_in_and_gets_the_bill(client, make, submit):
    first = make.statement()
    user = make.user(accounts=[first.account])
    account = make.account("Second Household")
    make.patient(account, "Robin", "Second", date(1990, 2, 3))
    second = make.statement(account)
    _claim(submit, second, date_of_birth="02/03/1990", last_name="Second")
    response = submit("/register/login", {"email": user.email, "password": "another password!",
                                          "confirm": "another password!"})
    assert response.status_code == 400
    assert "This email already has a login" in response.get_data(as_text=True)
    response = submit("/login", {"email": user.email, "password": "correct horse battery"})
    assert response.status_code == 302
    page = client.get("/statements").get_data(as_text=True)
    assert f"Statement {first.number}" in page and f"Statement {second.number}" in page


def test_signed_in_guarantor_adds_a_family_bill(client, make, login_as, submit):
    mine = make.statement()
    login_as(make.user(accounts=[mine.account]))
    spouse = make.account("Sam Spouse")
    make.patient(spouse, "Sam", "Spouse", date(1982, 8, 9))
    theirs = make.statement(spouse)
    response = _claim(submit, theirs, date_of_birth="08/09/1982", last_name="Spouse")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/statements/{theirs.number}"
    page = client.get("/statements").get_data(as_text=True)
    assert f"Statement {mine.number}" in page and f"Statement {theirs.number}" in page
    assert "Sam Spouse" in page


def test_step_two_without_step_one_starts_again(client):
    response = client.get("/register/login")
    assert response.status_code == 302 and response.headers["Location"] == "/register"


def test_a_claim_expires(client, make, submit, monkeypatch):
    statement = make.statement()
    _claim(submit, statement)
    with client.session_transaction() as session:
        session["claimed_statement"] = {**session["claimed_statement"], "expires": 0}
    assert client.get("/register/login").headers["Location"] == "/register"


def test_passwords_must_match_and_be_long_enough(make, submit):
    statement = make.statement()
    _claim(submit, statement)
    short = submit("/register/login", {"email": "a@example.org", "password": "short", "confirm": "short"})
    assert short.status_code == 400 and "Choose a password of 10 to 128 characters" in short.get_data(as_text=True)
    differ = submit("/register/login", {"email": "a@example.org", "password": "long enough one",
                                        "confirm": "long enough two"})
    assert differ.status_code == 400 and "The two passwords are not the same" in differ.get_data(as_text=True)
