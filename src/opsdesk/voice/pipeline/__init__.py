"""A call's pipeline: typed frames through processors (VAD → ASR → dialogue → TTS), each timed."""
