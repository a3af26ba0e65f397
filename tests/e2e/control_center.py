"""Helpers for the Control Center's e2e tests: a real `ork control` process and headless Chromium.

* `ork_control(urls, ...)` (fixture factory) starts `ork control` as a subprocess under
  gunicorn on a free port and waits for `/ready`; every process is stopped at teardown.
* `chromium()` is Debian's Chromium driven by Selenium through Debian's chromedriver. Both
  paths are given explicitly, so Selenium Manager never runs and nothing is downloaded;
  `make setup` installs the two packages.
* `Session` is a tiny HTTP client with a cookie jar, for the security tests that look at
  status codes, headers and cookies rather than at pages.

Screenshots go to `ORK_CC_SCREENSHOTS` (a directory) when set, else to a pytest temp dir.
"""
from __future__ import annotations

import base64
import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pytest

from tests.e2e.ork_runtime import free_port

_ORK = str(Path(sys.executable).with_name("ork"))
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
USER, PASSWORD = "admin", "s3cret-for-tests"


class ControlProcess:
    def __init__(self, proc: subprocess.Popen, url: str, log_path: Path) -> None:
        self.proc, self.url, self._log_path = proc, url, log_path

    def logs(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def control_command(urls: list[str], *, host: str = "127.0.0.1", port: int | None = None, refresh: str = "1s",
                    extra: tuple[str, ...] = ()) -> list[str]:
    return [_ORK, "control", "--host", host, "--port", str(port or free_port()), "--urls", ",".join(urls),
            "--refresh", refresh, *extra]


def control_env(env: Mapping[str, str | None] | None) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ORK_CC_", "ADMIN_", "SESSION_"))}
    base.update({"ADMIN_USERNAME": USER, "ADMIN_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"})
    for key, value in (env or {}).items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


@pytest.fixture
def ork_control(tmp_path_factory) -> Iterator[Callable[..., ControlProcess]]:
    """Factory: `ork_control(urls, *, env=None, refresh="1s", extra=()) -> ControlProcess` (ready)."""
    started: list[ControlProcess] = []
    workdir = tmp_path_factory.mktemp("ork-control")

    def start(urls: list[str], *, env: Mapping[str, str | None] | None = None, refresh: str = "1s",
              extra: tuple[str, ...] = ()) -> ControlProcess:
        port = free_port()
        log_path = workdir / f"control-{len(started)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(control_command(urls, port=port, refresh=refresh, extra=extra), stdout=log,
                                    stderr=subprocess.STDOUT, env=control_env(env), cwd=str(workdir))
        handle = ControlProcess(proc, f"http://127.0.0.1:{port}", log_path)
        started.append(handle)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"ork control exited with {proc.returncode}:\n{handle.logs()[-3000:]}")
            try:
                with urllib.request.urlopen(handle.url + "/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return handle
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        pytest.fail(f"ork control did not become ready within 30s:\n{handle.logs()[-3000:]}")

    yield start
    for handle in started:
        handle.stop()


# ---------------------------------------------------------------------------- HTTP with cookies
class Session:
    """urllib with a cookie jar and without following redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, method: str, path: str, *, form: Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], str, list[str]]:
        """(status, headers, body, raw Set-Cookie headers)."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=dict(headers or {}))
        try:
            resp = self._opener.open(req, timeout=15)
        except urllib.error.HTTPError as err:
            resp = err
        body = resp.read().decode(errors="replace")
        return resp.status, dict(resp.headers), body, resp.headers.get_all("Set-Cookie") or []

    def csrf(self, path: str = "/login") -> str:
        _, _, body, _ = self.request("GET", path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', body)
        assert match, f"no csrf_token field in {path}"
        return match.group(1)

    def login(self, username: str = USER, password: str = PASSWORD, *, next_path: str = "/") -> tuple[int, dict[str, str], str, list[str]]:
        token = self.csrf()
        return self.request("POST", "/login", form={"csrf_token": token, "username": username,
                                                    "password": password, "next": next_path})


# ---------------------------------------------------------------------------- Chromium
def chromium(width: int = 1366, height: int = 900) -> Any:
    """Headless Debian Chromium through Debian's chromedriver (no Selenium Manager, no download)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: `make setup` installs chromium and chromium-driver "
                        f"(apt-get install chromium chromium-driver)", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--hide-scrollbars", "--no-first-run",
                "--disable-extensions", "--disable-background-networking"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole test module."""
    driver = chromium()
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory) -> Path:
    wanted = os.environ.get("ORK_CC_SCREENSHOTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("cc-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(driver: Any, directory: Path, name: str, *, width: int = 1366) -> Path:
    """A full-page PNG of the current page, laid out at `width` CSS pixels (below 600: as a phone)."""
    metrics = {"deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": width, "height": 800, **metrics})
    try:
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": min(height, 6000), **metrics})
        shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path = directory / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def horizontal_overflow(driver: Any, width: int) -> int:
    """How many CSS pixels the current page is wider than a `width`-wide window (0: it fits)."""
    driver.set_window_size(width, 900)
    try:
        inner, overflow = driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth - document.documentElement.clientWidth]")
        assert inner == width, f"the window could not be made {width} px wide (it is {inner})"
        return max(0, int(overflow))
    finally:
        driver.set_window_size(1366, 900)


def browser_login(driver: Any, base: str, *, username: str = USER, password: str = PASSWORD) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(base + "/login")
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def text(driver: Any, css: str) -> str:
    """innerText of the first match, read in one step inside the page (live updates swap nodes)."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css)


def attr(driver: Any, css: str, name: str) -> str | None:
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null",
                                 css, name)


def count(driver: Any, css: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length", css))


def texts(driver: Any, css: str) -> list[str]:
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)", css)


def click(driver: Any, by: str, value: str, *, within: str | None = None) -> None:
    """Click an element, finding it again when a live update replaced it under our feet."""
    from selenium.webdriver.common.by import By

    def attempt() -> bool:
        scope = driver.find_element(By.CSS_SELECTOR, within) if within else driver
        scope.find_element(by, value).click()
        return True
    wait_until(attempt, timeout=10, message=f"click {value}")


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, *, message: str = "",
               interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as err:  # the page may be mid-swap: stale elements, missing nodes
            last_error = err
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}" + (f" (last error: {last_error})" if last_error else ""))
