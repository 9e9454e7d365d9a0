"""The process settings of a voice gateway — the GIL's switch interval, BLAS on one thread and the RTP pacer's
real-time class — are the same in `opsdesk voice serve` and in `opsdesk up --voice-port`, and are put back when the
gateway's app context closes."""

from __future__ import annotations

import sys

from threadpoolctl import threadpool_info

from opsdesk.app.context import AppContext
from opsdesk.core.settings import Settings
from opsdesk.voice.rtp.pacer import shared_pacer
from opsdesk.voice.tuning import BLAS_THREADS, SWITCH_INTERVAL, tune_for_calls


def _blas_threads() -> set[int]:
    return {int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_tuning_for_calls_sets_the_switch_interval_and_blas_threads_and_puts_them_back() -> None:
    before, threads = sys.getswitchinterval(), _blas_threads()
    tuning = tune_for_calls()
    try:
        assert sys.getswitchinterval() == SWITCH_INTERVAL != before
        assert _blas_threads() == {BLAS_THREADS}  # numpy's and scipy's alike
    finally:
        tuning.restore()
    assert sys.getswitchinterval() == before and _blas_threads() == threads


async def test_the_gateway_inside_opsdesk_up_is_tuned_as_voice_serve_until_its_context_closes(
    settings: Settings,
) -> None:
    from opsdesk.voice.cli import start_in_process

    before, threads = sys.getswitchinterval(), _blas_threads()
    assert before != SWITCH_INTERVAL and threads != {BLAS_THREADS}  # the machine's own, more than one thread
    ctx = await AppContext.open(settings, migrate=False)
    try:
        gateway = await start_in_process("127.0.0.1", 0, ctx, asr="none")
        await gateway.stop()
        assert sys.getswitchinterval() == SWITCH_INTERVAL and _blas_threads() == {BLAS_THREADS}
    finally:
        await ctx.close()
    assert sys.getswitchinterval() == before and _blas_threads() == threads


async def test_the_rtp_pacer_asks_for_the_realtime_class_unless_the_settings_say_not(
    settings: Settings,
) -> None:
    from opsdesk.voice.cli import start_in_process

    pacer = shared_pacer()
    before = pacer.realtime
    try:
        pacer.realtime = False
        tuning = tune_for_calls()  # `voice serve` without --no-realtime-rtp
        assert pacer.realtime is True
        tuning.restore()
        assert pacer.realtime is False  # put back, as the switch interval is
        for wanted in (False, True):
            ctx = await AppContext.open(settings.model_copy(update={"voice_realtime_rtp": wanted}), migrate=False)
            try:
                gateway = await start_in_process("127.0.0.1", 0, ctx, asr="none")
                await gateway.stop()
                assert pacer.realtime is wanted
            finally:
                await ctx.close()
            assert pacer.realtime is False
    finally:
        pacer.realtime = before
