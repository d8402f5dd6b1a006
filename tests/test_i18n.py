from datetime import date

import pytest

from portal.i18n import date_input_example, parse_date_input


@pytest.mark.parametrize("text, locale, expected", [
    ("03/27/1985", "en", date(1985, 3, 27)),
    ("3/7/1985", "en", date(1985, 3, 7)),
    ("3-27-1985", "en", date(1985, 3, 27)),
    ("1985-03-27", "en", date(1985, 3, 27)),
    ("27/03/1985", "es", date(1985, 3, 27)),
    ("27.03.1985", "bg", date(1985, 3, 27)),
    ("1985/3/27", "zh_Hans", date(1985, 3, 27)),
    (" 1985-3-27 ", "ar", date(1985, 3, 27)),
])
def test_dates_are_read_in_the_locale_order(text, locale, expected):
    assert parse_date_input(text, locale) == expected


@pytest.mark.parametrize("text", ["27/03/1985", "03/27/85", "1985", "March 27 1985", "02/30/1985", "", "1985-13-01",
                                  "99/99/9999", "0x1f/2/1985"])
def test_impossible_or_ambiguous_dates_are_refused(text):
    with pytest.raises(ValueError):
        parse_date_input(text, "en")


@pytest.mark.parametrize("locale, example", [("en", "03/27/1985"), ("es", "27/03/1985"), ("bg", "27.03.1985"),
                                             ("zh_Hans", "1985/03/27")])
def test_example_shows_the_locale_order_with_a_four_digit_year(locale, example):
    assert date_input_example(locale) == example


def test_pages_are_english_with_direction(client):
    page = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en" dir="ltr">' in page


@pytest.mark.parametrize("locale, short, long", [
    ("en", "Dec 3, 2026, 2:00\u202fAM", "December 3, 2026, 2:00\u202fAM CST"),
    ("es", "3 dic 2026, 2:00", "3 de diciembre de 2026, 2:00"),
])
def test_times_read_to_the_minute_with_the_zone_named_only_by_name(app, make, locale, short, long):
    from datetime import datetime, timezone

    from flask_babel import force_locale

    from portal.i18n import datetime_filter

    make.organisation()  # in Chicago
    moment = datetime(2026, 12, 3, 8, 0, 9, tzinfo=timezone.utc)  # 2:00:09 there
    with app.test_request_context(), force_locale(locale):
        assert datetime_filter(moment, "medium") == short
        assert datetime_filter(moment) == long


def test_lists_are_joined_as_each_language_joins_them(app):
    from flask_babel import force_locale

    from portal.i18n import list_filter

    with app.test_request_context():
        for locale, expected in (("en", "English, Español, and Français"), ("es", "English, Español y Français"),
                                 ("ar", "English وEspañol وFrançais")):
            with force_locale(locale):
                assert list_filter(["English", "Español", "Français"]) == expected
        assert list_filter([]) == ""


def test_a_request_that_switches_language_reads_each_language_from_its_own_catalog(app):
    """The catalog is kept for the rest of a request once looked up; a page that prints or emails in another
    language (force_locale) must still get that language, in Python and in templates, and its own afterwards."""
    from flask import render_template_string
    from flask_babel import force_locale

    from portal.i18n import _, current_locale

    page = '{{ _("Statement date") }}|{{ ngettext("%(num)d line", "%(num)d lines", 2) }}'
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert _("Statement date") == "Statement date" and current_locale() == "en"
        english = render_template_string(page)
        with force_locale("es"):
            spanish = render_template_string(page)
            assert _("Statement date") == spanish.split("|")[0] != "Statement date"
            with force_locale("bg"):
                assert _("Statement date") not in ("Statement date", spanish.split("|")[0])
                assert current_locale() == "bg"
            assert _("Statement date") == spanish.split("|")[0] and current_locale() == "es"
        assert _("Statement date") == "Statement date" and current_locale() == "en"
        assert render_template_string(page) == english == "Statement date|2 lines"
