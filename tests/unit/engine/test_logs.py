import io
import json
import logging

from orkestra.logs import MASK, configure, redact


def capture(level="info", fmt="json"):
    stream = io.StringIO()
    handler = configure(level, fmt, stream=stream)
    return stream, handler


def teardown_function():
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_orkestra", False):
            root.removeHandler(h)
    root.setLevel(logging.WARNING)


def test_json_line_with_extra_fields():
    stream, _ = capture()
    logging.getLogger("orkestra.engine").info("crd activated", extra={"crd": "website", "workers": 3})
    doc = json.loads(stream.getvalue())
    assert doc["level"] == "info" and doc["logger"] == "orkestra.engine" and doc["message"] == "crd activated"
    assert doc["crd"] == "website" and doc["workers"] == 3
    assert doc["time"].endswith("Z") and len(doc["time"]) == len("2026-03-01T12:00:03.120Z")


def test_levels_are_filtered_and_named():
    stream, _ = capture("warn")
    log = logging.getLogger("orkestra.test")
    log.info("hidden")
    log.warning("shown")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(d["level"], d["message"]) for d in lines] == [("warn", "shown")]


def test_exceptions_become_a_stack_field():
    stream, _ = capture()
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("orkestra.test").exception("failed")
    doc = json.loads(stream.getvalue())
    assert "ValueError: bad" in doc["stack"]


def test_secrets_are_never_printed():
    stream, _ = capture()
    secret = {"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="},
              "stringData": {"token": "abc"}}
    logging.getLogger("orkestra.test").info("dump", extra={"object": secret, "token": "s3cr3t",
                                                          "headers": {"Authorization": "Bearer xyz"}})
    text = stream.getvalue()
    assert "aHVudGVyMg==" not in text and "abc" not in text and "s3cr3t" not in text and "xyz" not in text
    doc = json.loads(text)
    assert doc["object"]["data"] == {"password": MASK} and doc["token"] == MASK
    assert doc["object"]["metadata"] == {"name": "db"}


def test_redact_leaves_ordinary_objects_alone():
    cm = {"kind": "ConfigMap", "data": {"a": "b"}}
    assert redact(cm) == cm
    assert redact({"tls.key": "PEM"}) == {"tls.key": MASK}


def test_text_format():
    stream, _ = capture(fmt="text")
    logging.getLogger("orkestra.engine").info("crd activated", extra={"crd": "website"})
    line = stream.getvalue().strip()
    assert line.endswith("info  orkestra.engine crd activated crd=website")


def test_message_text_and_string_fields_are_redacted_too():
    """Issue 16 item 10: redaction covers the message, not only field names."""
    for fmt in ("json", "text"):
        stream, _ = capture(fmt=fmt)
        log = logging.getLogger("orkestra.test")
        log.error("registry login failed: password=hunter2 for user bob",
                  extra={"error": "GET /v2/: Authorization: Bearer eyJhbGciOi.payload.sig refused"})
        log.warning('reconcile failed: {"token": "tok-123"}; secretName: web-tls')
        text = stream.getvalue()
        assert "hunter2" not in text and "eyJhbGciOi" not in text and "tok-123" not in text
        assert "password=***" in text and "for user bob" in text
        assert "secretName: web-tls" in text, "a Secret's name is not a secret"
        teardown_function()


def test_an_authorization_header_is_masked_whatever_its_scheme():
    """Review finding: `Authorization: Basic <credentials>` kept the credentials (only the word
    after the colon was masked)."""
    stream, _ = capture(fmt="json")
    logging.getLogger("orkestra.test").error(
        "fetch failed; headers: Authorization: Basic dXNlcjpodW50ZXIy, authorization=Digest abc123def")
    text = stream.getvalue()
    assert "dXNlcjpodW50ZXIy" not in text and "abc123def" not in text
    assert "Authorization: ***" in text
    teardown_function()
