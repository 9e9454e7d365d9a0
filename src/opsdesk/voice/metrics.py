"""Prometheus metrics of the voice gateway: calls, SIP traffic, RTP quality and cadence, pipeline stage latency."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ACTIVE_CALLS = Gauge("opsdesk_voice_active_calls", "Calls in progress on the voice gateway.")
CALLS = Counter("opsdesk_voice_calls_total", "Calls by how they ended.", ["outcome"])
SIP_MESSAGES = Counter("opsdesk_voice_sip_messages_total", "SIP messages received, by method or status.", ["kind"])
SIP_REJECTED = Counter(
    "opsdesk_voice_sip_rejected_total", "SIP messages refused or dropped (malformed, not allowed, limits).", ["reason"]
)
RTP_PACKETS = Counter("opsdesk_voice_rtp_packets_total", "RTP packets by direction.", ["direction"])
RTP_LATE = Counter("opsdesk_voice_rtp_late_packets_total", "RTP packets dropped because they came after their turn.")
RTP_LOST = Counter("opsdesk_voice_rtp_lost_packets_total", "RTP packets the jitter buffer stopped waiting for.")
RTP_FOREIGN = Counter(
    "opsdesk_voice_rtp_foreign_packets_total", "Packets ignored because they came from an unexpected source."
)
RTP_JITTER = Histogram(
    "opsdesk_voice_rtp_jitter_seconds",
    "Interarrival jitter (RFC 3550) of received RTP, sampled every second per call.",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32),
)
RTP_SEND_LATENESS = Histogram(
    "opsdesk_voice_rtp_send_lateness_seconds",
    "How long after its 20 ms slot each outbound RTP packet left (outbound cadence).",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.04, 0.1),
)
RTP_SKIPPED_SLOTS = Counter(
    "opsdesk_voice_rtp_skipped_slots_total", "Outbound 20 ms slots skipped after a stall (never sent as a burst)."
)
RTP_SEND_ERRORS = Counter(
    "opsdesk_voice_rtp_send_errors_total", "Outbound RTP slots that failed (the socket refused the packet)."
)
STAGE_SECONDS = Histogram(
    "opsdesk_voice_stage_seconds",
    "Pipeline stage latency: from a frame entering a processor to the first frame it produced for it.",
    ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5),
)
ASR_BATCH_SIZE = Histogram(
    "opsdesk_voice_asr_batch_size",
    "Utterances the recogniser decoded together in one batch (1: nothing waited alongside).",
    buckets=(1, 2, 3, 4, 6, 8),
)
ASR_WAIT_SECONDS = Histogram(
    "opsdesk_voice_asr_wait_seconds",
    "How long an utterance waited for a free recogniser worker before its decode began.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5),
)
ASR_DECODE_SECONDS = Histogram(
    "opsdesk_voice_asr_decode_seconds",
    "Recogniser work per call of the model: a batch over the short window, a looping decode made again over 20 s"
    " (fallback), or a long utterance over Whisper's own 30 s windows (full).",
    ["window"],
    buckets=(0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5),
)
ASR_FALLBACK_DECODES = Counter(
    "opsdesk_voice_asr_fallback_decodes_total",
    "Decodes made again over the 20 s window because the short window's decode looped.",
)
TTS_SYNTHESES = Gauge("opsdesk_voice_tts_processes", "Speech synthesis processes running now (espeak-ng).")
TTS_WAIT_SECONDS = Histogram(
    "opsdesk_voice_tts_wait_seconds",
    "How long a sentence waited for a synthesis slot (the cap on concurrent espeak-ng processes), by whether it"
    " opens a reply (first) or continues one (later).",
    ["sentence"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5),
)
DIALOGUE_ENDS = Counter(
    "opsdesk_voice_dialogue_ends_total",
    "Banking dialogues by how they ended (transfer or hangup) and the caller's identity check.",
    ["end", "auth"],
)
