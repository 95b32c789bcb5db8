"""Time as config.yaml writes it: crontab expressions -> APScheduler 3.x triggers, durations
("6h", "30m") -> timedelta, and the latest slot of a trigger. Pure: config validates with it,
the scheduler runs with it.

    trigger = cron_trigger("0 8 * * mon", ZoneInfo("Europe/Paris"))
    last_slot(trigger, since, now)  # the latest fire time in (since, now], or None
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * sun",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab: 0 (and 7) is Sunday
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)", re.IGNORECASE)
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def cron_trigger(expr: str, tz: tzinfo | None = None):
    """A CronTrigger from a crontab expression: 5 fields (minute hour day month weekday), 6
    fields with seconds first, or a macro (@hourly, @daily, @weekly, @monthly, @yearly).

    Weekday numbers follow crontab (0 and 7 are Sunday), not APScheduler 3.x (0 is Monday)."""
    from apscheduler.triggers.cron import CronTrigger

    if not isinstance(expr, str):
        raise ValueError("expected a crontab expression such as \"0 8 * * mon\"")
    text = MACROS.get(expr.strip().lower(), expr)
    fields = text.split()
    if len(fields) == 5:
        fields.insert(0, "0")
    elif len(fields) != 6:
        raise ValueError(
            f"{expr!r} is not a crontab expression: expected 5 fields (minute hour day month "
            f"weekday) or 6 with seconds first, got {len(fields)}"
        )
    second, minute, hour, day, month, weekday = fields
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_weekdays(weekday), timezone=tz or timezone.utc)
    except ValueError as exc:
        raise ValueError(f"{expr!r} is not a valid crontab expression: {exc}") from None


def _weekdays(field: str) -> str:
    """Crontab weekday numbers -> names, which APScheduler reads the same way crontab does."""
    if field in ("*", "?"):
        return "*"
    days: list[str] = []
    for part in field.split(","):
        if re.search(r"[a-zA-Z]", part):
            days.append(part.lower())
            continue
        span, _, step = part.partition("/")
        try:
            if span == "*":
                lo, hi = 0, 6
            elif "-" in span:
                lo, hi = (int(x) for x in span.split("-", 1))
            else:
                lo = int(span)
                hi = 6 if step else lo
            every = int(step or 1)
        except ValueError:
            raise ValueError(f"weekday {part!r}: expected numbers 0-7 or names mon-sun") from None
        if not (0 <= lo <= hi <= 7) or every < 1:
            raise ValueError(f"weekday {part!r}: expected 0-7 (0 and 7 are Sunday), low to high")
        days += [WEEKDAYS[d % 7] for d in range(lo, hi + 1, every)]
    return ",".join(dict.fromkeys(days))


def parse_duration(value: Any) -> Any:
    """"6h", "30m", "1h30m", "45s", "500ms", "2d" or a number of seconds -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 6h, 30m, 45s or a number of seconds")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("must not be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return timedelta(seconds=float(text))
        if text and re.fullmatch(rf"(?:{_DURATION.pattern}\s*)+", text, re.IGNORECASE):
            return timedelta(seconds=sum(float(n) * _UNITS[u.lower()]
                                         for n, u in _DURATION.findall(text)))
    raise ValueError("expected a duration such as 6h, 30m, 45s or a number of seconds")


def last_slot(trigger, since: datetime, now: datetime) -> datetime | None:
    """The latest fire time of `trigger` in (since, now], or None.

    APScheduler 3.x only looks forward, so this bisects `get_next_fire_time` (monotone in its
    start) to the second: about 20 calls for a one-second schedule over six hours."""
    now = now.replace(microsecond=0)  # fire times are whole seconds
    lo = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    if lo is None or lo > now:
        return None
    hi = now
    while hi - lo > timedelta(seconds=1):
        mid = lo + timedelta(seconds=(hi - lo).total_seconds() // 2)
        found = trigger.get_next_fire_time(None, mid)
        if found is not None and found <= now:
            lo = found
        else:
            hi = mid
    found = trigger.get_next_fire_time(None, hi)
    return found if found is not None and found <= now else lo
