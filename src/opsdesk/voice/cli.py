"""`opsdesk voice serve`: the SIP/RTP gateway on its own, until Ctrl-C or SIGTERM (then BYE to every call)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from opsdesk.app.context import AppContext
    from opsdesk.voice.desk import BankingDesk
    from opsdesk.voice.gateway import GatewayConfig, SpeechEngines, VoiceGateway

voice_app = typer.Typer(help="Voice desk: the SIP/RTP gateway.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def _port_range(value: str) -> tuple[int, int]:
    low, _, high = value.partition("-")
    if not (low.isdigit() and high.isdigit()) or not 1024 <= int(low) < int(high) <= 65535:
        raise typer.BadParameter("expected LOW-HIGH, e.g. 40000-41000")
    return int(low), int(high)


@voice_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on for SIP and RTP."),
    port: int = typer.Option(5060, min=1, max=65535, help="SIP port (UDP)."),
    advertise: str = typer.Option("", help="Address written into Contact/SDP when it differs from --host."),
    rtp_ports: str = typer.Option("40000-41000", help="RTP port range, LOW-HIGH."),
    allow: list[str] = typer.Option(["127.0.0.0/8"], help="Networks allowed to send SIP (repeat the option)."),
    calls_per_source: int = typer.Option(20, min=1, help="Concurrent calls allowed from one address."),
    max_calls: int = typer.Option(50, min=1, help="Concurrent calls in all."),
    operator: str = typer.Option("", help="SIP URI calls are transferred to (REFER) when a caller asks for a person."),
    prompt: Path = typer.Option(None, exists=True, dir_okay=False, help="WAV played when a call is answered."),
    greeting: str = typer.Option("Hello, this is the opsdesk voice desk.", help="Said after the prompt (with TTS)."),
    recordings: Path = typer.Option(None, file_okay=False, help="Keep each caller's audio as a WAV file here."),
    metrics_port: int = typer.Option(0, min=0, max=65535, help="Serve Prometheus /metrics on this port (0: off)."),
    answer_delay: float = typer.Option(0.0, min=0.0, max=30.0, help="Seconds of ringing before answering."),
    vad: str = typer.Option("silero", help="Voice activity detector: silero or energy."),
    asr: str = typer.Option("none", help="Recogniser: none (echo), whisper-base, whisper-tiny.en, pocketsphinx."),
    tts: str = typer.Option("espeak-ng", help="Synthesiser: espeak-ng or none (prompts only)."),
    auth_file: Path = typer.Option(
        None, exists=True, dir_okay=False, help="Lines of USER:PASSWORD; INVITEs must then carry digest auth."
    ),
    dialogue: str = typer.Option("banking", help="banking (the bank desk's flow) or echo (says back what it heard)."),
    workspace: str = typer.Option(
        "", help="Workspace slug: its database keeps call records and the operator inbox gets transfer summaries."
    ),
    bank_timeout: float = typer.Option(2.0, min=0.1, max=30.0, help="Seconds the bank's back end has per request."),
    realtime_rtp: bool = typer.Option(
        True,
        "--realtime-rtp/--no-realtime-rtp",
        help="Pace RTP from a real-time (SCHED_FIFO) thread where allowed (root, CAP_SYS_NICE or rtprio).",
    ),
) -> None:
    """Answer SIP calls on HOST:PORT with the voice pipeline."""
    from opsdesk.core.errors import ConfigurationError
    from opsdesk.voice.gateway import GatewayConfig
    from opsdesk.voice.sip.config import UserAgentConfig

    try:
        engines = _engines(vad, asr, tts)
        sip = UserAgentConfig(
            host=host,
            port=port,
            advertised_host=advertise,
            answer_delay=answer_delay,
            allow=tuple(allow),
            calls_per_source=calls_per_source,
            max_calls=max_calls,
            credentials=_credentials(auth_file) if auth_file else {},
        )
        config = GatewayConfig(
            sip=sip,
            rtp_ports=_port_range(rtp_ports),
            greeting=greeting,
            prompt=_prompt(prompt) if prompt else b"",
            operator_uri=operator,
            recordings_dir=recordings,
        )
        if dialogue not in ("banking", "echo"):
            raise ValueError(f"unknown dialogue {dialogue!r}: banking or echo")
        if workspace and dialogue != "banking":
            raise ValueError("--workspace keeps the banking dialogue's records: use it with --dialogue banking")
    except (ValueError, ConfigurationError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=host)
    import uvloop

    from opsdesk.voice.tuning import tune_for_calls

    tuning = tune_for_calls(realtime_rtp=realtime_rtp)  # the GIL's switch interval, BLAS threads (as `up` does)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve_desk(config, engines, dialogue, workspace, bank_timeout))
    finally:
        tuning.restore()


_MODEL_THREAD_NICENESS = 5


def _lower_this_thread() -> None:
    """Runs in each worker thread: recognisers and synthesisers (and the threads their libraries start from it)
    yield the CPU to the event loop, which carries every call's 20 ms RTP slots."""
    import os
    import threading

    with contextlib.suppress(OSError, AttributeError):  # not Linux, or not allowed: leave priorities alone
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + _MODEL_THREAD_NICENESS)


async def _serve_desk(
    config: GatewayConfig, engines: SpeechEngines, dialogue: str, workspace: str, bank_timeout: float
) -> None:
    """The gateway with its dialogue: the banking desk (with a database when a workspace is named) or the echo."""
    from opsdesk.voice.gateway import VoiceGateway

    if dialogue == "echo":
        await _serve(VoiceGateway(config, engines))
        return
    ctx = await _open_context() if workspace else None
    try:
        workspace_id = await _workspace_id(ctx, workspace) if ctx is not None else None
        desk = await _banking_desk(ctx, workspace_id, bank_timeout)
        try:
            gateway = VoiceGateway(config, engines, dialogue=desk.dialogue, on_record=desk.record)
            await _serve(gateway, started=desk.load_classifier_later)  # keyword rules until the classifier is in
        finally:
            await desk.aclose()
    finally:
        if ctx is not None:
            await ctx.close()
            ctx.db.stop_server()


async def _banking_desk(ctx: AppContext | None, workspace_id: uuid.UUID | None, bank_timeout: float) -> BankingDesk:
    from opsdesk.voice.desk import open_banking_desk

    return await open_banking_desk(ctx=ctx, workspace_id=workspace_id, bank_timeout=bank_timeout)


async def _open_context() -> AppContext:
    from opsdesk.app.context import AppContext
    from opsdesk.core.settings import get_settings

    return await AppContext.open(get_settings())


async def _find_workspace(ctx: AppContext, slug: str) -> uuid.UUID | None:
    from sqlalchemy import select

    from opsdesk.auth.models import Workspace

    async with ctx.db.session() as session:
        found: uuid.UUID | None = await session.scalar(select(Workspace.id).where(Workspace.slug == slug))
    return found


async def _workspace_id(ctx: AppContext, slug: str) -> uuid.UUID:
    found = await _find_workspace(ctx, slug)
    if found is None:
        err_console.print(f"[red]error:[/red] no workspace {slug!r}")
        raise typer.Exit(2)
    return found


async def _serve(gateway: VoiceGateway, started: Callable[[], None] | None = None) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix="voice-models", initializer=_lower_this_thread))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await gateway.start()
    except OSError as exc:
        where = f"{gateway.config.sip.host}:{gateway.config.sip.port}"
        err_console.print(f"[red]error:[/red] cannot listen on {where}: {exc}")
        raise typer.Exit(1) from exc
    console.print(f"Voice gateway on sip:{gateway.config.sip.contact_host}:{gateway.port} (UDP, TCP); Ctrl-C to stop.")
    if started is not None:
        started()
    await stop.wait()
    console.print(f"Stopping: hanging up {len(gateway.calls)} call(s).")
    await gateway.stop()


async def start_in_process(
    host: str, port: int, ctx: AppContext | None = None, *, asr: str | None = None, recordings: Path | None = None
) -> VoiceGateway:
    """The gateway inside `opsdesk up --voice-port`: Silero VAD, espeak-ng and the banking dialogue over the demo bank,
    with the recogniser `asr` (`OPSDESK_VOICE_ASR` by default; "none": keys only) loaded in the background and each
    caller's audio kept in `recordings` (`OPSDESK_VOICE_RECORDINGS_DIR`) when set. A missing engine is a warning.
    With `ctx`: checkpoints in the app's database, and call records and transfer summaries kept in the default
    workspace (`OPSDESK_DEFAULT_WORKSPACE`) when it exists. Without it, no recogniser unless `asr` names one. The
    process is tuned for calls as `voice serve` tunes it (`voice/tuning.py`); with `ctx`, put back when it closes."""
    from opsdesk.core.errors import ConfigurationError
    from opsdesk.voice.desk import open_banking_desk
    from opsdesk.voice.engines import SHARED_ENGINES_KEY, available_engines, load_recognizer_later
    from opsdesk.voice.gateway import GatewayConfig, VoiceGateway
    from opsdesk.voice.sip.config import UserAgentConfig
    from opsdesk.voice.tuning import tune_for_calls

    settings = ctx.settings if ctx is not None else None
    asr = asr or (settings.voice_asr if settings is not None else "none")
    recordings = recordings or (settings.voice_recordings_dir if settings is not None else None)
    config = GatewayConfig(sip=UserAgentConfig(host=host, port=port), recordings_dir=recordings)
    workspace_id = await _find_workspace(ctx, ctx.settings.default_workspace) if ctx is not None else None
    desk = await open_banking_desk(ctx=ctx, workspace_id=workspace_id)
    if ctx is not None:
        ctx.extras["voice.desk"] = desk  # closed (its checkpoint pool) with the app context
    engines = await asyncio.to_thread(available_engines, warn=_warn)
    gateway = VoiceGateway(config, engines, dialogue=desk.dialogue, on_record=desk.record)
    try:
        await gateway.start()
    except OSError as exc:
        raise ConfigurationError(f"The voice gateway cannot listen on {host}:{port}: {exc}") from exc
    realtime = settings.voice_realtime_rtp if settings is not None else True
    tuning = tune_for_calls(realtime_rtp=realtime)  # as `voice serve` runs: switch interval, BLAS threads, pacer
    if ctx is not None:
        ctx.extras["voice.tuning"] = tuning  # put back when the context closes
    if ctx is not None:
        ctx.extras[SHARED_ENGINES_KEY] = engines  # the WebSocket calls' too: one recogniser service per process
    if asr != "none":  # calls are answered on keys until it is loaded
        loading = load_recognizer_later(engines, asr, warn=_warn, loaded=console.print)
        if ctx is not None:
            ctx.extras["voice.recognizer"] = loading  # abandoned with the context if still loading
        else:
            _loads.add(loading)
    if ctx is not None:  # closed with the context, which stops a first training still running
        desk.load_classifier_later()
    return gateway


_loads: set[object] = set()  # recognisers loading for a gateway without an app context: keep their tasks alive


def _warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}")


def _credentials(path: Path) -> dict[str, str]:
    """USER:PASSWORD per line (blank lines and # comments skipped); kept in a file so no password shows in `ps`."""
    credentials: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        user, colon, password = line.strip().partition(":")
        if not colon or not user or not password:
            raise ValueError(f"{path}:{number}: expected USER:PASSWORD")
        credentials[user] = password
    return credentials


def _engines(vad: str, asr: str, tts: str) -> SpeechEngines:
    """The engines named on the command line, loaded now so a missing model fails before the first call."""
    from opsdesk.core.errors import ConfigurationError
    from opsdesk.voice.gateway import SpeechEngines
    from opsdesk.voice.pipeline.processors import EnergyDetector

    engines = SpeechEngines()
    if vad == "silero":
        from opsdesk.voice.speech.vad import SileroVad

        SileroVad(8000)  # fails here, not on the first call, when the package is missing
        engines.vad = lambda: SileroVad(8000)
    elif vad == "energy":
        engines.vad = EnergyDetector
    else:
        raise ConfigurationError(f"Unknown voice activity detector {vad!r}: silero or energy")
    if asr != "none":
        from opsdesk.voice.speech.asr import recognizer

        engines.asr = recognizer(asr)
        load = getattr(engines.asr, "load", None)
        if load is not None:
            load()  # the first caller should not wait for the model
    if tts != "none":
        from opsdesk.voice.speech.tts import synthesizer

        engines.tts = synthesizer(tts, output_rate=8000)  # the phone's rate: no resampling in the call
    return engines


def _prompt(path: Path) -> bytes:
    from opsdesk.voice.audio import WavError, read_wav, resample

    try:
        audio = read_wav(path)
    except WavError as exc:
        raise ValueError(f"{path}: {exc}") from exc
    return resample(audio.samples, audio.rate, 8000).tobytes()


@voice_app.command()
def call(
    wav: Path = typer.Argument(..., exists=True, dir_okay=False, help="What the caller says (any rate, mono)."),
    to: str = typer.Option("sip:desk@127.0.0.1:5060", help="Who to call: sip:USER@HOST:PORT."),
    record: Path = typer.Option(None, dir_okay=False, help="Write what the desk said here (WAV, 8 kHz)."),
    digits: str = typer.Option("", help="Keys to press after speaking (0-9, *, #), sent as RFC 4733 events."),
    listen: float = typer.Option(8.0, min=0.0, max=600.0, help="Seconds to keep listening after speaking."),
) -> None:
    """Place a test call: speak a WAV file to the desk, record its answer, hang up."""
    import re

    import numpy as np

    from opsdesk.voice.audio import write_wav
    from opsdesk.voice.sip.client import CallFailed, place_call

    target = re.fullmatch(r"sip:(?:([^@\s]+)@)?([A-Za-z0-9.\-]+)(?::(\d{1,5}))?", to)
    if target is None or not re.fullmatch(r"[0-9*#A-Da-d]*", digits):
        err_console.print("[red]error:[/red] --to must look like sip:desk@127.0.0.1:5060 and --digits be keypad keys")
        raise typer.Exit(2)
    try:
        speech = _prompt(wav)
        outcome = asyncio.run(
            place_call(
                target.group(2),
                int(target.group(3) or 5060),
                speech,
                user=target.group(1) or "desk",
                digits=digits,
                listen_seconds=listen,
            )
        )
    except (ValueError, CallFailed, OSError) as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    seconds = len(outcome.heard) / 16000
    console.print(f"Call answered; heard {seconds:.1f} s of audio; hung up by the {outcome.hung_up_by}.")
    if record is not None:
        write_wav(record, np.frombuffer(bytes(outcome.heard), dtype="<i2"), 8000)
        console.print(f"What the desk said: {record}")
