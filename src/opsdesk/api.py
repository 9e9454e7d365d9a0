"""The HTTP entry point: `uvicorn opsdesk.api:create_app --factory` (the app is built in `opsdesk.app.factory`)."""

from opsdesk.app.factory import create_app

__all__ = ["create_app"]
