"""A voice gateway on a free port per test, with the dialogues of its calls kept for inspection."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from opsdesk.voice.gateway import GatewayConfig, VoiceGateway
from opsdesk.voice.pipeline.processor import FrameProcessor
from opsdesk.voice.pipeline.processors import CallState, EchoDialogue
from opsdesk.voice.sip.config import UserAgentConfig

_SIP_FIELDS = {item.name for item in dataclasses.fields(UserAgentConfig)}


@dataclass
class Desk:
    gateway: VoiceGateway
    dialogues: list[EchoDialogue] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.gateway.port


StartDesk = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def start_desk() -> AsyncIterator[StartDesk]:
    started: list[Desk] = []

    async def start(**overrides: Any) -> Desk:
        sip = {name: overrides.pop(name) for name in list(overrides) if name in _SIP_FIELDS}
        sip.setdefault("port", 0)
        overrides.setdefault("rtp_ports", (44000, 46000))
        config = GatewayConfig(sip=UserAgentConfig(**sip), **overrides)
        dialogues: list[EchoDialogue] = []

        def dialogue(state: CallState, config: GatewayConfig) -> FrameProcessor:
            made = EchoDialogue(state, greeting=config.greeting, prompt=config.prompt)
            dialogues.append(made)
            return made

        desk = Desk(VoiceGateway(config, dialogue=dialogue), dialogues)
        await desk.gateway.start()
        started.append(desk)
        return desk

    yield start
    for desk in started:
        await desk.gateway.stop()
