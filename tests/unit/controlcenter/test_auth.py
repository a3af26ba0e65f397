"""Login rules: the brute-force throttle (injected clock), safe redirects, CSRF and credentials."""
from __future__ import annotations

import pytest

from orkestra.controlcenter.auth import LoginThrottle, credentials_match, csrf_valid, safe_next
from tests.unit.controlcenter.fakes import Clock


def test_five_failures_in_five_minutes_lock_the_address_out_for_five_minutes():
    clock = Clock(0)
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.begin("10.0.0.1")
        clock.advance(10)
    assert throttle.retry_after("10.0.0.1") == 0
    throttle.begin("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == 300
    assert throttle.retry_after("10.0.0.2") == 0, "other addresses are not affected"
    clock.advance(299.5)
    assert throttle.retry_after("10.0.0.1") == 1
    clock.advance(1)
    assert throttle.retry_after("10.0.0.1") == 0


def test_failures_older_than_the_window_do_not_count():
    clock = Clock(0)
    throttle = LoginThrottle(clock=clock)
    for _ in range(4):
        throttle.begin("a")
    clock.advance(301)
    throttle.begin("a")
    assert throttle.retry_after("a") == 0


def test_a_success_clears_the_failures():
    throttle = LoginThrottle(clock=Clock(0))
    for _ in range(4):
        throttle.begin("a")
    throttle.succeeded("a")
    throttle.begin("a")
    assert throttle.retry_after("a") == 0


def test_the_throttle_tracks_a_bounded_number_of_addresses():
    throttle = LoginThrottle(clock=Clock(0), max_tracked=100)
    for i in range(1000):
        throttle.begin(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle._failures) == 100


@pytest.mark.parametrize("target, expected", [
    ("/k/cluster1-8080", "/k/cluster1-8080"), ("/k/a?x=1#top", "/k/a?x=1#top"), (None, "/"), ("", "/"),
    ("//evil.example", "/"), ("https://evil.example/", "/"), ("/\\evil.example", "/"), ("evil", "/"),
    ("javascript:alert(1)", "/"), ("/ok\r\nSet-Cookie: x=1", "/"), ("/\\/evil", "/"),
])
def test_only_local_paths_are_followed(target, expected):
    assert safe_next(target) == expected


def test_credentials_and_tokens_must_match_exactly():
    assert credentials_match("admin", "pw", expected_user="admin", expected_password="pw")
    assert not credentials_match("admin", "pw ", expected_user="admin", expected_password="pw")
    assert not credentials_match("Admin", "pw", expected_user="admin", expected_password="pw")
    assert csrf_valid("abc", "abc") and not csrf_valid("abc", "abd")
    assert not csrf_valid("", "") and not csrf_valid(None, None) and not csrf_valid("abc", None)
