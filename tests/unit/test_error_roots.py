"""Load-time errors of the bottom layers are `OrkestraError`s (issue 10 item 3), so one
`except OrkestraError` treats a bad duration or template as expected, never as a panic."""
import pytest

from orkestra.durations import DurationError, parse_duration
from orkestra.errors import OrkestraError
from orkestra.template import TemplateSyntaxError, compile_template


def test_a_bad_duration_is_an_orkestra_error_and_still_a_value_error():
    with pytest.raises(OrkestraError) as err:
        parse_duration("ten seconds")
    assert isinstance(err.value, DurationError)
    assert isinstance(err.value, ValueError)


def test_a_template_syntax_error_is_an_orkestra_error_and_still_a_value_error():
    with pytest.raises(OrkestraError) as err:
        compile_template("{{ .a ")
    assert isinstance(err.value, TemplateSyntaxError)
    assert isinstance(err.value, ValueError)
