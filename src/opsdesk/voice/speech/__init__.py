"""Speech engines of the voice desk, offline: Silero VAD, faster-whisper and pocketsphinx ASR, espeak-ng TTS."""
