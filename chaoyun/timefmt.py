"""One clock for everything a person reads: times are stored in UTC and shown in the deployment's zone.

``CHAOYUN_TIMEZONE`` (default Asia/Shanghai) and ``CHAOYUN_DATETIME_FORMAT`` / ``CHAOYUN_DATE_FORMAT`` choose
the zone and the format. Pages use the Jinja filters ``dt`` / ``date`` (chaoyun.web.render); services, PDFs,
Excel and error messages call :func:`format_dt` / :func:`format_date` here, which import nothing from web.
Naive datetimes are taken as UTC (that is how they are stored).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from chaoyun.settings import env


@lru_cache(maxsize=8)
def _zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def zone_name() -> str:
    """The IANA name (Asia/Shanghai), for browsers: Intl.DateTimeFormat(..., {timeZone})."""
    return env("TIMEZONE")


def zone() -> tzinfo:
    """The zone times are shown in (read on each call, so a test or a deployment can change it)."""
    return _zone(env("TIMEZONE"))


def to_local(value: datetime) -> datetime:
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return aware.astimezone(zone())


def utc_offset(at: datetime | None = None) -> str:
    """The zone's offset as ``+08:00``, for JavaScript that formats times itself."""
    off = to_local(at or datetime.now(UTC)).utcoffset() or timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_label(at: datetime | None = None) -> str:
    """A short zone name for labels: ``UTC+08:00``."""
    return "UTC" + utc_offset(at)


def _parse(value: datetime | date | str | None) -> datetime | date | None:
    """ISO strings (times that travelled through a dict or JSON) are parsed; empty ones count as None."""
    if isinstance(value, str):
        if not value:
            return None
        return datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    return value


def format_dt(value: datetime | date | str | None, fmt: str | None = None, empty: str = "") -> str:
    """A stored (UTC) datetime in the local zone and the deployment's format; a plain date as a date."""
    value = _parse(value)
    if value is None:
        return empty
    if not isinstance(value, datetime):
        return format_date(value)
    return to_local(value).strftime(fmt or env("DATETIME_FORMAT"))


def format_date(value: datetime | date | str | None, empty: str = "") -> str:
    """A date; a datetime is first moved to the local zone (a UTC evening is the next Beijing day)."""
    value = _parse(value)
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = to_local(value)
    return value.strftime(env("DATE_FORMAT"))


def format_time(value: datetime | str | None, empty: str = "", seconds: bool = False) -> str:
    """Only the local time of day (for lists that already show the day)."""
    parsed = _parse(value)
    if not isinstance(parsed, datetime):
        return empty
    return to_local(parsed).strftime("%H:%M:%S" if seconds else "%H:%M")


def local_today() -> date:
    return datetime.now(zone()).date()


def day_start(d: date) -> datetime:
    """Local midnight at the start of ``d``, in UTC (for queries)."""
    return datetime.combine(d, time(0), zone()).astimezone(UTC)


def day_end_exclusive(d: date) -> datetime:
    """Local midnight after ``d``, in UTC: the exclusive bound of an inclusive end date the user entered."""
    return day_start(d + timedelta(days=1))


def inclusive_end(exclusive_end: datetime | date) -> date:
    """The last day a user meant by a range stored with an exclusive end (next midnight): show it as entered."""
    if isinstance(exclusive_end, datetime):
        return to_local(exclusive_end - timedelta(microseconds=1)).date()
    return exclusive_end - timedelta(days=1)
