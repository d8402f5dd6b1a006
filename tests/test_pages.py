"""Every page: one h1, every input labelled, language set, security headers, no inline script."""
import pytest

from .pages import soup

ANONYMOUS = ["/", "/login", "/register", "/quick-pay", "/password/forgot", "/password/reset/bad-token",
             "/no/such/page"]
PATIENT = ["/statements", "/register"]


def _assert_good_page(response, url):
    page = soup(response)
    assert len(page.find_all("h1")) == 1, url
    assert page.html["lang"] == "en" and page.html["dir"] == "ltr"
    assert page.find("meta", attrs={"name": "viewport"})
    assert page.select_one("a.skip-link[href='#main']") and page.find("main", id="main")
    for field in page.find_all(["input", "select", "textarea"]):
        if field.get("type") in ("hidden", "submit"):
            continue
        assert field.get("id") and page.find("label", attrs={"for": field["id"]}), (url, field)
    for script in page.find_all("script"):
        assert script.get("src"), f"inline script on {url}"
    assert not page.select("[style]") and not page.find("style"), url
    assert not page.select("[onclick], [onload], [onsubmit]"), url
    for form in page.find_all("form", method="post"):
        assert form.find("input", attrs={"name": "csrf_token"}), (url, form)
    headers = response.headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in headers  # plain HTTP: HSTS only over HTTPS


@pytest.mark.parametrize("url", ANONYMOUS)
def test_anonymous_pages(client, url):
    _assert_good_page(client.get(url), url)


def test_patient_pages_and_form_errors(client, make, login_as, submit):
    statement = make.statement(lines=2)
    login_as(make.user(accounts=[statement.account]))
    for url in PATIENT + [f"/statements/{statement.number}"]:
        _assert_good_page(client.get(url), url)
    _assert_good_page(submit("/register", {"statement_number": "x"}), "/register with errors")


def test_form_error_states(client, submit):
    for url in ("/login", "/quick-pay", "/register", "/password/forgot"):
        _assert_good_page(submit(url, {}), f"{url} with errors")


def test_staff_pages(client, make, login_as):
    login_as(make.user("clerk@example.org", role="staff"))
    _assert_good_page(client.get("/staff/statements?q=Alex"), "/staff/statements")


def test_rate_limited_page(client, make, submit):
    for _ in range(6):
        response = submit("/login", {"email": "x@example.org", "password": "wrong password"})
    assert response.status_code == 429
    _assert_good_page(response, "429")


def test_hsts_over_https(client):
    response = client.get("/login", base_url="https://portal.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_forms_use_the_words_on_the_paper_bill(client):
    labels = {label.get_text(strip=True) for url in ("/register", "/quick-pay", "/login")
              for label in soup(client.get(url)).find_all("label")}
    assert {"Statement number", "Date of birth", "Last name", "Email", "Password"} <= labels


def test_static_css_is_served(client):
    response = client.get("/static/css/portal.css")
    try:
        assert response.status_code == 200 and "@media" in response.get_data(as_text=True)
    finally:
        response.close()  # a file response streams from disk
