"""The hospital this portal serves, as shown in every page's header and footer."""
from __future__ import annotations

import logging

from flask import Flask, g
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .billing.models import Organisation
from .extensions import db
from .i18n import _


def current_organisation() -> Organisation | None:
    """The organisation running this portal (the first one), looked up once per request."""
    if "organisation" not in g:
        try:
            g.organisation = db.session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
        except SQLAlchemyError:
            # The database is down: pages (the error page above all) still render, with a generic name.
            db.session.rollback()
            logging.getLogger("portal.site").warning("organisation unavailable: database error")
            g.organisation = None
    return g.organisation


def organisation_time_zone() -> str:
    organisation = current_organisation()
    return organisation.time_zone if organisation else "UTC"


def init_app(app: Flask) -> None:
    @app.context_processor
    def site_context() -> dict:
        organisation = current_organisation()
        return {"site_name": organisation.name if organisation else _("Patient billing"),
                "site_phone": organisation.phone if organisation else None}
