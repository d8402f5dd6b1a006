"""Reading pages the way a patient's browser shows them."""
from __future__ import annotations

import re
from decimal import Decimal

from bs4 import BeautifulSoup


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def cents(text: str) -> int:
    """Turn an English-formatted amount such as ``-$1,234.50`` back into cents."""
    cleaned = text.strip().replace(",", "").replace("$", "")
    assert re.fullmatch(r"-?\d+\.\d{2}", cleaned), text
    return int(Decimal(cleaned) * 100)


def visible_text(element) -> str:
    """The text a sighted reader sees before opening anything: closed glossary popovers left out."""
    parts = []
    for text in element.find_all(string=True):
        if not any(parent.has_attr("popover") for parent in text.parents if parent is not element):
            parts.append(text)
    return " ".join("".join(parts).split())


def amounts(dl) -> dict[str, int]:
    """Map each label of a ``<dl class="amounts">`` to its value in cents."""
    return {visible_text(div.dt): cents(div.dd.get_text()) for div in dl.find_all("div", recursive=False)}
