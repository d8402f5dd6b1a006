"""Glossary terms and plain-language service descriptions, one row per locale.

The database is the runtime source; the files in ``content/`` are loaded into it by
``flask --app portal glossary load``, and a billing office adds its own service descriptions with
``flask --app portal dictionary import``.
"""
from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

# Where a service description came from: the portal's own dictionary, or the billing office's import.
SOURCE_BUILTIN, SOURCE_LOCAL = "builtin", "local"


class GlossaryTerm(db.Model):
    """One billing or insurance term explained in one language."""

    __tablename__ = "glossary_terms"

    id: Mapped[int] = mapped_column(primary_key=True)
    locale: Mapped[str] = mapped_column(String(16))
    # The same slug in every language: the term's link anchor (/glossary#deductible).
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(120))
    # Other names patients meet (copay for copayment): shown, searched and recognised on bills.
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Other word forms (plurals) recognised on bills but not shown.
    matches: Mapped[list[str]] = mapped_column(JSON, default=list)
    short_definition: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str] = mapped_column(Text)
    example: Mapped[str] = mapped_column(Text)
    related: Mapped[list[str]] = mapped_column(JSON, default=list)

    __table_args__ = (UniqueConstraint("locale", "slug"),)

    @property
    def names(self) -> list[str]:
        """The title and every synonym."""
        return [self.title, *self.synonyms]


class ServiceDescription(db.Model):
    """A plain-language name and explanation for one code, or a range of codes, in one language."""

    __tablename__ = "service_descriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    code_system: Mapped[str] = mapped_column(String(16))
    # A single code has code_first == code_last; a range (CPT by category) spans them, both inclusive.
    code_first: Mapped[str] = mapped_column(String(20))
    code_last: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    explanation: Mapped[str] = mapped_column(String(400))

    __table_args__ = (
        UniqueConstraint("source", "locale", "code_system", "code_first", "code_last",
                         name="uq_service_descriptions_code"),
        CheckConstraint("source IN ('builtin', 'local')", name="source_known"),
        CheckConstraint("code_first <= code_last", name="range_ordered"),
    )

    @property
    def is_range(self) -> bool:
        return self.code_first != self.code_last

    @property
    def code(self) -> str:
        """The code as written in dictionary files: ``J2405`` or ``99281-99285``."""
        return f"{self.code_first}-{self.code_last}" if self.is_range else self.code_first


Index("ix_service_descriptions_lookup", ServiceDescription.code_system, ServiceDescription.code_first)


class ContentVersion(db.Model):
    """A token that changes, in the same transaction, whenever the glossary or the dictionary does (see
    ``cache.py``): workers that keep them in memory compare it once a request."""

    __tablename__ = "content_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
