"""The environment of an opsdesk process that a test starts as a real child process."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr


def opsdesk_env(database_url: str, data_dir: Path, **settings: object) -> dict[str, str]:
    """This process's environment without its OPSDESK_ settings, the test ones, then `settings` by name.

    `order_flow_pause="post=120"` becomes OPSDESK_ORDER_FLOW_PAUSE; a SecretStr is passed as its secret.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPSDESK_")}
    env.update(
        {
            "OPSDESK_ENV": "test",
            "OPSDESK_DATABASE_URL": database_url,
            "OPSDESK_DATA_DIR": str(data_dir),
            "OPSDESK_SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
            "OPSDESK_LOCAL_LLM_ENABLED": "false",
            "OPSDESK_DB_POOL_SIZE": "3",
        }
    )
    for name, value in settings.items():
        env[f"OPSDESK_{name.upper()}"] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return env
