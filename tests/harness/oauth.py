"""Signing in through a local OAuth provider (GitHub's or an OpenID one) as a browser would."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` set in its query."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


async def sign_in(
    client: httpx.AsyncClient, login: str, start: str = "/hub/oauth_login"
) -> httpx.Response:
    """Walk the OAuth redirects, picking ``login`` at the provider's authorize page.

    Returns the hub's answer to the callback, redirects followed.
    """
    resp = await client.get(start, follow_redirects=False)
    assert resp.status_code == 302, resp.text
    resp = await client.get(
        with_query(resp.headers["location"], login=login), follow_redirects=False
    )
    assert resp.status_code == 302, resp.text
    return await client.get(resp.headers["location"], follow_redirects=True)
