"""CSV cell rules shared by every report (attendance, office-hours insight); the
renderer base that applies them is collab.core.renderers.CsvRenderer."""

from __future__ import annotations

from datetime import date, datetime


def csv_safe(text: str) -> str:
    """A cell starting with = + - @ (or a tab/CR) runs as a formula in spreadsheets (CSV
    injection): such text gets a leading apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_iso(value) -> str:
    """ISO 8601 for a date or time cell; empty for None."""
    return value.isoformat() if value is not None else ""


def csv_cell(value) -> object:
    """One cell: None -> empty; True/False -> yes/no; a date or time -> ISO 8601; text
    made formula-safe; numbers and ids as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str):
        return csv_safe(value)
    return value
