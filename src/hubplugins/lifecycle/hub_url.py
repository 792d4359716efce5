"""The hub's local address, where the lifecycle service reaches the hub's REST API.

JupyterHub gives a managed service ``JUPYTERHUB_API_URL`` from the hub's
*connect* URL: in the Zero-to-JupyterHub chart that is the ``hub`` Service
(``http://hub:8081``), which a process inside the hub pod reaches only by
going out to the Service and back in, a route that fails on some clusters.
The chart's own culler is given the hub's local address instead
(``--url=http://localhost:8081/hub/api``); so is the lifecycle service, read
from the hub's *bind* settings: ``JupyterHub.hub_bind_url``, else
``hub_ip`` and ``hub_port``, with ``base_url``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = ["local_api_url"]

# JupyterHub's defaults of the settings read here (5.5 and 6.x alike)
_DEFAULTS: Mapping[str, Any] = {
    "hub_bind_url": "",
    "hub_ip": "127.0.0.1",
    "hub_port": 8081,
    "base_url": "/",
}
# a hub bound to every address is reached on loopback
_EVERY_ADDRESS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}


def _host(host: str) -> str:
    if host in _EVERY_ADDRESS:
        return _EVERY_ADDRESS[host]
    return f"[{host}]" if ":" in host else host


def local_api_url(settings: Mapping[str, Any]) -> str | None:
    """``http://HOST:PORT/{base_url}hub/api`` from the hub's bind settings
    (``JupyterHub`` config keys, JupyterHub's defaults for those not set).

    None where there is no such address to give: a hub behind internal SSL
    (the service would need the hub's certificates) or bound to a unix socket;
    the service then keeps JupyterHub's ``JUPYTERHUB_API_URL``.
    """
    if settings.get("internal_ssl"):
        return None
    values = {key: settings.get(key) or default for key, default in _DEFAULTS.items()}
    base = "/" + "/".join(p for p in str(values["base_url"]).split("/") if p)
    path = base.rstrip("/") + "/hub/api"
    bind_url = str(values["hub_bind_url"])
    if bind_url:
        parts = urlsplit(bind_url)
        if parts.scheme != "http":
            return None
        host = parts.hostname or ""
        port = parts.port or 80
    else:
        host, port = str(values["hub_ip"]), int(values["hub_port"])
    return f"http://{_host(host)}:{port}{path}"
