"""opsdesk: a self-hosted AI operations platform."""

__version__ = "0.1.0"
