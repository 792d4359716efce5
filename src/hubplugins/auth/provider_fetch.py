"""oauthenticator's ``fetch`` with a sign-in provider's outage as one error type.

The provider (GitHub, an OpenID provider) unreachable, answering 5xx or with
a body that is not JSON is not the user's fault: each authenticator names the
error that says so (a 503 that keeps a signed-in user signed in), and every
request to the provider raises it through :class:`OutageMixin`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tornado.httpclient import HTTPClientError, HTTPRequest

__all__ = ["OutageMixin"]


class OutageMixin:
    """Put in front of an ``OAuthenticator``; set :attr:`unavailable`."""

    unavailable: ClassVar[type[Exception]]
    """The error for the provider's outage; made with a short detail."""

    async def fetch(
        self, req: HTTPRequest, label: str = "fetching", parse_json: bool = True, **kwargs: Any
    ) -> Any:
        """oauthenticator's fetch; network, 5xx and non-JSON failures raise :attr:`unavailable`."""
        try:
            return await super().fetch(req, label=label, parse_json=parse_json, **kwargs)  # type: ignore[misc]
        except HTTPClientError as e:
            if e.code == 599 or e.code >= 500:
                raise self.unavailable(f"{label}: {e}") from e
            raise
        except (OSError, TimeoutError) as e:
            raise self.unavailable(f"{label}: {e}") from e
        except ValueError as e:  # an answer that is not JSON
            raise self.unavailable(f"{label}: not JSON") from e
