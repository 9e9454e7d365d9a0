"""RTP media for the voice desk: packets, a jitter buffer, RFC 4733 DTMF, and a per-call session with a paced sender."""
