"""CSV download rules shared by every report (attendance, office-hours stats)."""

from __future__ import annotations


def csv_safe(text: str) -> str:
    """A cell starting with = + - @ (or a tab/CR) runs as a formula in spreadsheets (CSV
    injection): such text gets a leading apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_iso(value) -> str:
    """ISO 8601 for a date or time cell; empty for None."""
    return value.isoformat() if value is not None else ""
