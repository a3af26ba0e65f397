"""Named states are `StrEnum`s: wherever a member goes (JSON bodies, log fields, f-strings in
messages, metric labels, comparisons with strings read back from the API) it is its plain value.
On this Python a `(str, Enum)` member formats as `Class.NAME` instead, hence the test per enum.
The Control Center and the CLI read CRD states from the HTTP API and keep their own list (their
layers cannot import the engine): they must name the same states."""
import json

import pytest

from orkestra.cli.status import _SYMBOLS
from orkestra.config import Mode
from orkestra.controlcenter.tracker import RuntimeStatus
from orkestra.controlcenter.viewmodels import STATES
from orkestra.engine.activation import Step
from orkestra.engine.health import CrdState
from orkestra.engine.pool import WorkerState
from orkestra.informers import InformerStatus
from orkestra.workqueue import Offered


@pytest.mark.parametrize("enum", [Mode, Step, CrdState, WorkerState, InformerStatus, Offered, RuntimeStatus],
                         ids=lambda enum: enum.__name__)
def test_a_state_is_its_plain_value_in_text_and_json(enum):
    for member in enum:
        value = member.value
        assert (str(member), f"{member}", format(member), "%s" % member, "{}".format(member)) == (value,) * 5
        assert json.dumps({member: [member]}) == json.dumps({value: [value]})
        assert json.dumps([member], indent=1) == json.dumps([value], indent=1)   # the pure-Python encoder
        assert member == value and hash(member) == hash(value)


def test_the_control_center_and_the_cli_name_the_engine_crd_states():
    assert sorted(STATES) == sorted(CrdState)
    assert sorted(_SYMBOLS) == sorted(CrdState)
