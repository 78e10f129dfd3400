"""The computer's own time zone, by its IANA name."""

from __future__ import annotations

from zoneinfo import ZoneInfo


def local_zone_name() -> str:
    """The computer's IANA time zone (UTC when it cannot be told)."""
    try:
        import tzlocal  # noqa: PLC0415 - APScheduler's own dependency; rarely needed

        name = tzlocal.get_localzone_name()
        ZoneInfo(name)
    except Exception:  # any failure means "unknown": fall back to UTC
        return "UTC"
    return name
