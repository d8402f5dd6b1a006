def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_is_503_when_the_database_is_down(make_app):
    # A port nothing listens on: the connection is refused at once.
    app = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    # Pages still render: the form page with a generic name, a page that needs data as a friendly 503 that
    # says when to come back.
    assert client.get("/quick-pay").status_code == 200
    response = client.get("/statements/400100017")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "The billing portal is briefly unavailable" in response.get_data(as_text=True)
