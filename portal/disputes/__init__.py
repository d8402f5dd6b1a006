"""Disputed charges: a patient says a line of their bill is wrong, a named staff member decides."""
