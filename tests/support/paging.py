"""Paging through a list endpoint the way a client does, to check the one list envelope (`Page`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

PAGE = 2  # small, so a few rows make several pages


async def assert_pages_through(
    client: httpx.AsyncClient,
    url: str,
    headers: Mapping[str, str],
    *,
    key: str,
    expected: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    maximum: int = 200,
) -> None:
    """Pages of two, read until one past the end, give exactly `expected` (each item's `key`, in order: no row
    repeated or skipped), each echoing its limit and offset and the total; a limit above `maximum` is a 422."""
    assert len(expected) > PAGE, "two pages at least: give the endpoint more rows"
    seen: list[Any] = []
    for offset in range(0, len(expected) + PAGE, PAGE):
        response = await client.get(url, params={**(params or {}), "limit": PAGE, "offset": offset}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["total"], body["limit"], body["offset"]) == (len(expected), PAGE, offset)
        assert len(body["items"]) == min(PAGE, max(0, len(expected) - offset))
        seen.extend(item[key] for item in body["items"])
    too_long = await client.get(url, params={**(params or {}), "limit": maximum + 1}, headers=headers)
    largest = await client.get(url, params={**(params or {}), "limit": maximum}, headers=headers)

    assert seen == list(expected)
    assert too_long.status_code == 422, too_long.text
    assert largest.status_code == 200 and [item[key] for item in largest.json()["items"]] == list(expected)
