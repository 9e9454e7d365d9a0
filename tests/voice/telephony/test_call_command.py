"""The test-call client (`opsdesk voice call`): it speaks, presses keys, records the desk, and hangs up."""

from __future__ import annotations

import numpy as np

from opsdesk.voice.pipeline.processors import tone as prompt_tone
from opsdesk.voice.sip.client import place_call
from tests.voice.telephony.conftest import StartDesk
from tests.voice.telephony.peers import dominant_frequencies, silence, tone


async def test_a_test_call_speaks_presses_keys_and_records_the_answer(start_desk: StartDesk) -> None:
    desk = await start_desk(prompt=prompt_tone(440, 1.0))
    speech = np.concatenate([silence(1.2), tone(700, 0.8), silence(1.0)]).tobytes()
    outcome = await place_call("127.0.0.1", desk.port, speech, digits="12", listen_seconds=1.5)

    assert outcome.status == 200
    assert outcome.hung_up_by == "caller"
    heard = dominant_frequencies(np.frombuffer(bytes(outcome.heard), dtype="<i2"))
    assert heard.count(440) >= 45
    assert heard.count(700) >= 30
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert record.outcome == "caller hung up"
    assert record.keys_pressed == 2
    assert desk.dialogues[0].digits == ["1", "2"]


async def test_a_test_call_notices_when_the_desk_hangs_up(start_desk: StartDesk) -> None:
    desk = await start_desk(max_call_seconds=1.0)
    outcome = await place_call("127.0.0.1", desk.port, silence(0.2).tobytes(), listen_seconds=5.0)

    assert outcome.hung_up_by == "desk"
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "too long"
