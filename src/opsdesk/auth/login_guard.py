"""Password sign-in limits: by client and account together, so an attacker slows only themselves.

Failures are counted per (client address, account). A pair has `FREE_FAILURES` free tries; after that each failure
locks that pair for twice as long as the one before (1 s, 2 s, 4 s … up to `MAX_BACKOFF_S`). An account also has a
ceiling of failures from all clients per hour; above it every client is slowed to one try per `SLOWED_EVERY_S`,
which costs an attacker with many addresses a lot and the owner one prompt sign-in: a client that has not failed
is never refused its first try. A client that fails on many accounts is stopped by `CLIENT_CEILING`.
Counters live in the rate-limit layer (Redis when configured, process memory otherwise).
"""

from __future__ import annotations

from opsdesk.core.errors import RateLimited
from opsdesk.core.ratelimit import RateLimiter

FREE_FAILURES = 5
MAX_BACKOFF_S = 900
FAILURE_MEMORY_S = 86_400
ACCOUNT_CEILING = 100
ACCOUNT_WINDOW_S = 3_600
SLOWED_EVERY_S = 5
CLIENT_CEILING = 200
CLIENT_WINDOW_S = 3_600


def backoff_s(failures: int) -> int:
    """How long a (client, account) pair waits after its `failures`-th failure (0: not at all)."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_BACKOFF_S))


class LoginGuard:
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    async def before_attempt(self, client: str, account: str) -> None:
        """Raises RateLimited when this client must wait before trying this account again."""
        pair = _pair(client, account)
        failures, _ = await self.limiter.peek(f"login:fail:{pair}")
        if failures >= FREE_FAILURES:
            locked, wait_s = await self.limiter.peek(f"login:lock:{pair}:{failures}")
            if locked:
                raise _wait("Too many failed sign-ins from here for this account.", wait_s)
        client_failures, wait_s = await self.limiter.peek(f"login:client:{client}")
        if client_failures >= CLIENT_CEILING:
            raise _wait("Too many failed sign-ins from here.", wait_s)
        account_failures, _ = await self.limiter.peek(f"login:account:{account}")
        if account_failures >= ACCOUNT_CEILING:
            tries = await self.limiter.count(f"login:slow:{pair}", SLOWED_EVERY_S)
            if tries > 1:
                _, wait_s = await self.limiter.peek(f"login:slow:{pair}")
                raise _wait("This account is under attack; sign-ins are slowed.", wait_s)

    async def failed(self, client: str, account: str) -> None:
        pair = _pair(client, account)
        failures = await self.limiter.count(f"login:fail:{pair}", FAILURE_MEMORY_S)
        await self.limiter.count(f"login:account:{account}", ACCOUNT_WINDOW_S)
        await self.limiter.count(f"login:client:{client}", CLIENT_WINDOW_S)
        if wait_s := backoff_s(failures):
            await self.limiter.count(f"login:lock:{pair}:{failures}", wait_s)

    async def succeeded(self, client: str, account: str) -> None:
        await self.limiter.forget(f"login:fail:{_pair(client, account)}")


def _pair(client: str, account: str) -> str:
    return f"{client}|{account}"


def _wait(message: str, wait_s: int) -> RateLimited:
    return RateLimited(f"{message} Try again in {wait_s} s.", retry_after_s=wait_s)
