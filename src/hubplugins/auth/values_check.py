"""``hubplugins check`` on the sign-in settings of helm values: what the hub would refuse.

The combined page's entries (``hub.config.MultiAuthenticator.authenticators``)
are checked as the hub checks them at its start, by making the authenticator
from the values' ``hub.config``: clashing prefixes, two methods whose people
could share an id, an entry's unknown setting or wrong-typed value (errors),
and each method's allow rules and provider settings, which the hub's environment
may complete (warnings). Nothing is asked of any provider.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from hubplugins.policy.errors import ConfigIssue

__all__ = ["values_sign_in_issues"]

MULTI_PATH = "hub.config.MultiAuthenticator.authenticators"

# the authenticators' own start-up warnings are not the check's findings
_QUIET = logging.getLogger("hubplugins.check")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def values_sign_in_issues(document: Any) -> list[ConfigIssue]:
    """The start-time refusal of the values' combined sign-in page, if any (never raises)."""
    hub = document.get("hub") if isinstance(document, Mapping) else None
    config = hub.get("config") if isinstance(hub, Mapping) else None
    multi = config.get("MultiAuthenticator") if isinstance(config, Mapping) else None
    if not isinstance(multi, Mapping) or "authenticators" not in multi:
        return []
    from traitlets.config import Config

    from hubplugins.auth.multi import MultiAuthenticator

    try:
        authenticator = MultiAuthenticator(config=Config(dict(config)), log=_QUIET)
    except ImportError as error:
        elsewhere = _installed_elsewhere(multi.get("authenticators"))
        if elsewhere:  # a class from a package of the hub's image, not installed here
            return [
                ConfigIssue(
                    MULTI_PATH,
                    f"not checked here: {', '.join(elsewhere)} not installed ({error})",
                    severity="warning",
                )
            ]
        return [ConfigIssue(MULTI_PATH, f"no such sign-in class: {error}")]
    except Exception as error:  # a check names problems, never raises
        return [ConfigIssue(MULTI_PATH, str(error))]
    try:
        authenticator.check_allow_config()
    except Exception as error:
        # the hub's environment may supply what the file lacks (e.g. OAUTH2_TOKEN_URL)
        return [ConfigIssue(MULTI_PATH, f"the hub checks at start: {error}", severity="warning")]
    return []


def _installed_elsewhere(entries: Any) -> list[str]:
    """The entries' classes given as a module path whose top package is not installed here
    (a short name is an entry point of an installed package, or a mistake)."""
    from importlib.util import find_spec

    found = []
    for entry in entries if isinstance(entries, list) else []:
        spec = entry.get("class") if isinstance(entry, Mapping) else None
        if isinstance(spec, str) and "." in spec:
            top = spec.split(".", 1)[0]
            if top and find_spec(top) is None:
                found.append(spec)
    return found
