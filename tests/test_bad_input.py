"""Malformed input gets a clear message on the form and a 4xx, never a 500."""
import pytest

LONG = "9" * 5000


@pytest.mark.parametrize("url, data, message", [
    ("/quick-pay", {"statement_number": "40010A017", "date_of_birth": "05/17/1980"}, "6 to 12 digits, no letters"),
    ("/quick-pay", {"statement_number": "123", "date_of_birth": "05/17/1980"}, "6 to 12 digits"),
    ("/quick-pay", {"statement_number": LONG, "date_of_birth": "05/17/1980"}, "6 to 12 digits"),
    ("/quick-pay", {"statement_number": "400100017", "date_of_birth": "17/05/1980"},
     "Enter the date of birth as numbers, for example 03/27/1985"),
    ("/quick-pay", {"statement_number": "400100017", "date_of_birth": "yesterday"}, "Enter the date of birth"),
    ("/quick-pay", {"statement_number": "400100017", "date_of_birth": "01/01/2999"}, "Enter a real date of birth"),
    ("/quick-pay", {"statement_number": "400100017", "date_of_birth": "01/01/1850"}, "Enter a real date of birth"),
    ("/quick-pay", {}, "Enter the statement number from your bill."),
    ("/quick-pay", {"statement_number": " ", "date_of_birth": " "}, "Enter the patient's date of birth."),
    ("/register", {}, "Enter the patient's last name."),
    ("/register", {"statement_number": "400100017", "date_of_birth": "05/17/1980", "last_name": "x" * 101},
     "at most 100 characters"),
    ("/login", {}, "Enter your email address."),
    ("/login", {"email": "not-an-email", "password": "x"}, "Enter an email address like name@example.com."),
    ("/login", {"email": "a@" + "b" * 300 + ".org", "password": "x"}, "That email address is too long."),
    ("/login", {"email": "a@example.org", "password": "p" * 129}, "That password is too long."),
    ("/password/forgot", {"email": ""}, "Enter your email address."),
])
def test_form_errors_are_explained(submit, url, data, message):
    response = submit(url, data)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body
    assert "There is a problem" in body  # the error summary at the top of the form


def test_error_is_linked_to_its_field(submit):
    response = submit("/quick-pay", {"statement_number": "abc", "date_of_birth": "05/17/1980"})
    body = response.get_data(as_text=True)
    assert 'aria-describedby="statement_number-hint statement_number-error-1"' in body
    assert 'aria-invalid="true"' in body
    assert '<a href="#statement_number">' in body


def test_typed_values_are_kept_and_escaped(submit):
    response = submit("/register", {"statement_number": "400100017", "date_of_birth": "bad",
                                    "last_name": '<script>alert("x")</script>'})
    body = response.get_data(as_text=True)
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in body


def test_missing_csrf_token_is_a_friendly_400(client):
    response = client.post("/quick-pay", data={"statement_number": "400100017", "date_of_birth": "05/17/1980"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/statements/abc", "/statements/%00", "/statements/" + LONG,
                                  "/statements/..%2f..%2fetc", "/statements/1;DROP TABLE statements"])
def test_odd_statement_addresses_are_not_found(client, make, login_as, path):
    login_as(make.user())
    assert client.get(path).status_code in (400, 404)


@pytest.mark.parametrize("url, data", [
    ("/login", {"email": "a\x00@example.org", "password": "x"}),
    ("/register", {"statement_number": "400100017", "date_of_birth": "05/17/1980", "last_name": "a\x00b"}),
])
def test_nul_bytes_are_refused(submit, url, data):
    assert submit(url, data).status_code == 400


def test_nul_bytes_in_staff_search(client, make, login_as):
    login_as(make.user("clerk@example.org", role="staff"))
    assert client.get("/staff/statements?q=%00abc").status_code == 400
    assert client.get("/staff/statements?q=" + "%25_" * 40).status_code == 200


def test_unknown_pages_and_methods(client):
    assert client.get("/no/such/page").status_code == 404
    response = client.delete("/login")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
