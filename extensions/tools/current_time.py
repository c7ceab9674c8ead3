"""The current date and time tool."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def current_time(timezone: str = "UTC") -> str:
    """Get the current date and time, with the weekday, in a time zone.

    Args:
        timezone: An IANA time zone name such as "UTC", "Europe/Paris" or "Asia/Shanghai".
    """
    if len(timezone) > 64 or ".." in timezone or timezone.startswith("/"):
        raise ValueError(f"not a time zone name: {timezone[:64]!r}")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}; use an IANA name like 'Europe/Paris'") from exc
    now = datetime.now(zone)
    return now.strftime("%A %Y-%m-%d %H:%M:%S ") + (now.tzname() or timezone) + f" ({now.isoformat()})"


TOOL = current_time
