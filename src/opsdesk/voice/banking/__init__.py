"""Banking for the voice desk: what callers want (intents), and the bank behind the desk."""
