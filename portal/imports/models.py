"""What the importers remember about each claim they took in, so that importing it again changes nothing."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..billing.models import Visit, utcnow
from ..extensions import db

ACTIVE, CANCELLED = "active", "cancelled"


class ImportedClaim(db.Model):
    """One claim from a hospital's billing system and the visit it became on a statement.

    ``digest`` is a hash of everything the portal took from the claim: the same digest on a later import means
    nothing changed and nothing is written; a different one is a corrected claim, applied to the same visit.
    """

    __tablename__ = "imported_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    # "fhir:Claim/<id>" or "csv:<account>/<visit>": the claim as its billing system names it.
    source_key: Mapped[str] = mapped_column(String(255))
    digest: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    # The visit it became; None once a cancelled claim's visit has been taken off its statement.
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    # The file it last came from (its name only), to answer "where did this line come from?".
    source_file: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    visit: Mapped[Visit | None] = relationship()

    __table_args__ = (
        UniqueConstraint("organisation_id", "source_key"),
        CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
    )
