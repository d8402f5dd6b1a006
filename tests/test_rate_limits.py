"""At most 5 failed sign-ins or statement look-ups a minute, per address and per target; the 6th is 429."""


def _fail_login(submit, email="pat@example.org", address="10.0.0.1"):
    return submit("/login", {"email": email, "password": "wrong password"}, environ_base={"REMOTE_ADDR": address})


def test_sixth_failed_sign_in_is_refused_even_with_the_right_password(client, make, submit):
    make.user()
    for _ in range(5):
        assert _fail_login(submit).status_code == 401
    response = submit("/login", {"email": "pat@example.org", "password": "correct horse battery"},
                      environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert response.status_code == 429
    assert "Too many tries" in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0


def test_limit_per_email_across_addresses(client, make, submit):
    make.user()
    for i in range(5):
        _fail_login(submit, address=f"10.0.1.{i}")
    assert _fail_login(submit, address="10.0.1.99").status_code == 429
    # Another email from a fresh address is not held up.
    assert _fail_login(submit, email="someone@example.org", address="10.0.2.1").status_code == 401


def test_limit_per_address_across_emails(client, make, submit):
    for i in range(5):
        _fail_login(submit, email=f"guess{i}@example.org")
    assert _fail_login(submit, email="guess99@example.org").status_code == 429


def test_successful_sign_ins_do_not_count(client, make, submit):
    user = make.user()
    for _ in range(8):
        response = submit("/login", {"email": user.email, "password": "correct horse battery"})
        assert response.status_code == 302
        submit("/logout", page="/statements")


def test_statement_look_ups_share_the_limit(client, make, submit):
    statement = make.statement()
    for _ in range(3):
        assert submit("/quick-pay", {"statement_number": statement.number,
                                     "date_of_birth": "01/01/2000"}).status_code == 400
    for _ in range(2):
        assert submit("/register", {"statement_number": statement.number, "date_of_birth": "01/01/2000",
                                    "last_name": "Nope"}).status_code == 400
    response = submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"})
    assert response.status_code == 429


def test_look_ups_of_one_statement_from_many_addresses(client, make, submit):
    statement = make.statement()
    for i in range(5):
        submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": f"01/0{i + 1}/2000"},
               environ_base={"REMOTE_ADDR": f"10.9.0.{i}"})
    response = submit("/quick-pay", {"statement_number": statement.number, "date_of_birth": "05/17/1980"},
                      environ_base={"REMOTE_ADDR": "10.9.0.200"})
    assert response.status_code == 429


def test_password_reset_emails_are_limited(client, make, submit):
    make.user()
    for _ in range(5):
        assert submit("/password/forgot", {"email": "pat@example.org"}).status_code == 302
    assert submit("/password/forgot", {"email": "pat@example.org"}).status_code == 429


def test_limits_can_use_redis(make_app, make, redis_url):
    """The production path: counts kept in Redis, shared by every worker and machine."""
    import redis

    server = redis.Redis.from_url(redis_url)
    app = make_app(RATELIMIT_STORAGE_URI=redis_url, AUTH_RATE_LIMIT="2 per minute")
    client = app.test_client()
    with app.app_context():
        make.user()
    codes = []
    for _ in range(3):
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        codes.append(client.post("/login", data={"email": "pat@example.org", "password": "wrong password",
                                                 "csrf_token": token}).status_code)
    assert codes == [401, 401, 429]
    assert server.keys("LIMITS*")
    server.flushdb()
    server.close()
