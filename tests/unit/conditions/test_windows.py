"""Time, day-of-week and cron conditions with an injected clock (docs/katalog.md#conditions)."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from orkestra.conditions import compile_condition, compile_conditions

UTC = timezone.utc


def at(text: str, zone: str = "UTC"):
    """A clock pinned to a wall time in `zone` (ISO, no offset)."""
    moment = datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))
    return lambda: moment


def holds(cond: dict, clock) -> bool:
    return compile_condition(cond).evaluate({}, clock=clock)


class TestTimeWindow:
    @pytest.mark.parametrize("now, expected", [
        ("2026-03-02T08:59:59", False),
        ("2026-03-02T09:00:00", True),      # after is inclusive
        ("2026-03-02T12:30:00", True),
        ("2026-03-02T17:59:59", True),
        ("2026-03-02T18:00:00", False),     # before is exclusive
    ])
    def test_day_window(self, now, expected):
        assert holds({"time": {"after": "09:00", "before": "18:00"}}, at(now)) is expected

    @pytest.mark.parametrize("now, expected", [
        ("2026-03-02T21:59:00", False),
        ("2026-03-02T22:00:00", True),
        ("2026-03-02T23:59:00", True),
        ("2026-03-03T00:00:00", True),
        ("2026-03-03T05:59:00", True),
        ("2026-03-03T06:00:00", False),
        ("2026-03-03T12:00:00", False),
    ])
    def test_window_wraps_past_midnight(self, now, expected):
        assert holds({"time": {"after": "22:00", "before": "06:00"}}, at(now)) is expected

    def test_open_ended_windows(self):
        assert holds({"time": {"after": "20:00"}}, at("2026-03-02T21:00:00"))
        assert not holds({"time": {"after": "20:00"}}, at("2026-03-02T19:00:00"))
        assert holds({"time": {"before": "07:30"}}, at("2026-03-02T07:29:00"))
        assert not holds({"time": {"before": "07:30"}}, at("2026-03-02T07:30:00"))

    def test_timezone_converts_now(self):
        # 08:30 UTC is 09:30 in Berlin (CET, winter)
        cond = {"time": {"after": "09:00", "before": "18:00"}, "timezone": "Europe/Berlin"}
        assert holds(cond, at("2026-03-02T08:30:00"))
        assert not holds({"time": {"after": "09:00", "before": "18:00"}}, at("2026-03-02T08:30:00"))

    def test_yaml_base60_integers_are_read_as_times(self):
        # YAML 1.1 reads an unquoted 18:00 as 1080 (base 60)
        assert holds({"time": {"after": 540, "before": 1080}}, at("2026-03-02T10:00:00"))

    def test_naive_clock_counts_as_utc(self):
        naive = lambda: datetime(2026, 3, 2, 10, 0)  # noqa: E731
        assert holds({"time": {"after": "09:00", "before": "11:00"}}, naive)

    def test_negate(self):
        assert not holds({"time": {"after": "09:00", "before": "18:00"}, "negate": True}, at("2026-03-02T10:00:00"))


class TestDayOfWeek:
    # 2026-03-02 is a Monday, 2026-03-07 a Saturday, 2026-03-01 a Sunday
    def test_weekday_and_weekend(self):
        assert holds({"dayOfWeek": {"weekday": True}}, at("2026-03-02T12:00:00"))
        assert not holds({"dayOfWeek": {"weekday": True}}, at("2026-03-07T12:00:00"))
        assert holds({"dayOfWeek": {"weekend": True}}, at("2026-03-01T12:00:00"))
        assert not holds({"dayOfWeek": {"weekend": True}}, at("2026-03-02T12:00:00"))

    def test_in_with_short_full_and_mixed_case_names(self):
        cond = {"dayOfWeek": {"in": ["MON", "Wednesday", "fri"]}}
        assert holds(cond, at("2026-03-02T12:00:00"))
        assert holds(cond, at("2026-03-04T12:00:00"))
        assert not holds(cond, at("2026-03-03T12:00:00"))

    def test_not_in(self):
        cond = {"dayOfWeek": {"notIn": ["sat", "sun"]}}
        assert holds(cond, at("2026-03-02T12:00:00"))
        assert not holds(cond, at("2026-03-01T12:00:00"))

    def test_timezone_can_change_the_day(self):
        # Sunday 23:30 UTC is already Monday in Tokyo
        cond = {"dayOfWeek": {"in": ["mon"]}, "timezone": "Asia/Tokyo"}
        assert holds(cond, at("2026-03-01T23:30:00"))
        assert not holds({"dayOfWeek": {"in": ["mon"]}}, at("2026-03-01T23:30:00"))


class TestCronWindow:
    def test_weekly_window_with_duration(self):
        cond = {"cron": "0 2 * * 0", "duration": "2h"}       # Sundays 02:00-04:00
        assert not holds(cond, at("2026-03-01T01:59:59"))
        assert holds(cond, at("2026-03-01T02:00:00"))        # fire time is inside
        assert holds(cond, at("2026-03-01T03:59:59"))
        assert not holds(cond, at("2026-03-01T04:00:00"))    # end is outside
        assert not holds(cond, at("2026-03-02T02:30:00"))    # Monday

    def test_default_duration_is_sixty_seconds(self):
        assert holds({"cron": "30 12 * * *"}, at("2026-03-02T12:30:59"))
        assert not holds({"cron": "30 12 * * *"}, at("2026-03-02T12:31:00"))

    def test_day_names_ranges_and_steps(self):
        cond = {"cron": "*/15 9-17 * * mon-fri", "duration": "5m"}
        assert holds(cond, at("2026-03-02T09:45:00"))
        assert holds(cond, at("2026-03-02T17:04:00"))
        assert not holds(cond, at("2026-03-02T09:50:00"))   # 09:45 + 5m has passed
        assert not holds(cond, at("2026-03-07T09:45:00"))   # Saturday

    def test_lists_and_month_names(self):
        cond = {"cron": "0 0 1 jan,jul *", "duration": "24h"}
        assert holds(cond, at("2026-01-01T13:00:00"))
        assert holds(cond, at("2026-07-01T23:59:00"))
        assert not holds(cond, at("2026-02-01T01:00:00"))

    @pytest.mark.parametrize("alias, inside, outside", [
        ("@hourly", "2026-03-02T10:00:30", "2026-03-02T10:01:00"),
        ("@daily", "2026-03-02T00:00:10", "2026-03-02T00:01:00"),
        ("@weekly", "2026-03-01T00:00:00", "2026-03-02T00:00:00"),   # Sunday midnight
        ("@monthly", "2026-03-01T00:00:59", "2026-03-02T00:00:00"),
        ("@yearly", "2026-01-01T00:00:00", "2026-03-01T00:00:00"),
    ])
    def test_aliases(self, alias, inside, outside):
        assert holds({"cron": alias}, at(inside))
        assert not holds({"cron": alias}, at(outside))

    def test_timezone(self):
        cond = {"cron": "0 2 * * *", "duration": "1h", "timezone": "America/New_York"}
        assert holds(cond, at("2026-03-02T07:30:00"))          # 02:30 in New York (EST)
        assert not holds(cond, at("2026-03-02T02:30:00"))

    def test_window_across_dst_change_counts_real_time(self):
        # Berlin springs forward on 2026-03-29 at 02:00 -> 03:00: a 2h window from 01:00
        # local (00:00 UTC) ends at 02:00 UTC, which is 04:00 local.
        cond = {"cron": "0 1 * * *", "duration": "2h", "timezone": "Europe/Berlin"}
        assert holds(cond, at("2026-03-29T03:59:00", "Europe/Berlin"))
        assert not holds(cond, at("2026-03-29T04:00:00", "Europe/Berlin"))

    def test_negate(self):
        assert holds({"cron": "@daily", "negate": True}, at("2026-03-02T12:00:00"))


def test_one_clock_read_per_evaluation():
    reads = []

    def clock():
        reads.append(1)
        return datetime(2026, 3, 2, 10, 0, tzinfo=UTC) + timedelta(hours=len(reads) - 1)

    cs = compile_conditions([{"time": {"after": "09:00", "before": "10:30"}},
                             {"time": {"after": "09:59", "before": "10:01"}}], None)
    assert cs.evaluate({}, clock=clock)
    assert len(reads) == 1
