"""Hostile ``user_options`` for the REST API: Hypothesis strategies and one checker.

Shared by ``test_user_options_fuzz.py`` and ``benchmarks/user_options_fuzz.py``.
A case is one POST of a body to ``/users/{user}/servers/{server}`` on a real
hub; it is *wrong* when the hub answers 5xx, answers 4xx without a message,
creates anything in Kubernetes on a refusal, leaves a server record behind on
a refusal, or starts a server with more than the policy grants.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.rules.resources_text import Request, read_request

from .policy_config import CONFIG, POLICY, PROFILES


def requested(options: Any, **kwargs: Any) -> Request:
    """The Request ``options`` ask for; raises the refusal as the spawner's enforce does."""
    return read_request(options, **kwargs).enforce().details["request"]


# the hub of the spawner tests, and the same hub without any profile_list
CONFIGS = {
    "profiles": CONFIG,
    "no-profiles": CONFIG.replace(
        f"c.KubeSpawner.profile_list = {PROFILES!r}", "c.KubeSpawner.profile_list = []"
    ),
}
assert CONFIGS["no-profiles"] != CONFIG

# every option a profile of policy_config.PROFILES reads, free text included
PROFILE_OPTION_KEYS = sorted(
    {
        key
        for profile in PROFILES
        for name in (profile.get("profile_options") or {})
        for key in (name, name + "--unlisted-choice")
    }
)
KNOWN_KEYS = ["cpu", "memory", "gpu", "resources", "profile", *PROFILE_OPTION_KEYS]
UNKNOWN_KEYS = ["cpus", "user_options", "display_name", "profile-option-cpu--image", "Image"]

# users without groups get the defaults tier
DEFAULTS = POLICY["defaults"]["resources"]
MAX_MILLICORES = int(float(DEFAULTS["cpu"]["max"]) * 1000)
MAX_MEMORY = 2 * 10**9

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)
DIGITS_LOOKALIKE = st.sampled_from(["\u00b2", "\u0663", "\uff11", "\u2460", "1\u00b2", "\u00bd"])

_PLAUSIBLE: dict[str, Any] = {
    "cpu": st.sampled_from([0.5, 1, "1", "500m", "0.25", 2, "2000m", 0, "1e3", " 1 ", "1m"]),
    "memory": st.sampled_from(["1G", "2G", "512Mi", "1.5G", "2Gi", 10**9, "3G", "1e9", "1m"]),
    "gpu": st.sampled_from([0, "0", 1, "1", 0.0, 2]),
    "profile": st.sampled_from(["cpu", "test", "gpu", "big", "nope", "CPU"]),
    "image": st.sampled_from(["base", "sci", "evil", "unlisted-choice"]),
    "image--unlisted-choice": st.sampled_from(
        ["devcluster/stub:ok", "devcluster/stub:OK", "img:evil", "devcluster/stub:a b"]
    ),
}
_RESOURCE_LINE = st.tuples(
    st.sampled_from(["gpu", "cpur", "cpul", "memr", "meml", "ram", ""]),
    st.sampled_from(["=", " = ", ":", ""]),
    st.sampled_from(["0", "1", "0.5", "2", "1.5", "-1", "nan", "inf", "1G", "", "9" * 30])
    | st.text(max_size=6),
).map(lambda t: "".join(t))
RESOURCES_TEXT = st.lists(_RESOURCE_LINE | st.just("# note"), max_size=4).map("\n".join)


def value_for(key: str) -> st.SearchStrategy[Any]:
    """Any JSON value, weighted towards what this key takes and its near misses."""
    plausible = _PLAUSIBLE.get(key, st.nothing())
    if key == "resources":
        plausible = RESOURCES_TEXT
    near = st.lists(plausible, min_size=1, max_size=1)  # [value]: the form's shape, not REST's
    if key in ("cpu", "memory", "gpu"):
        near = near | DIGITS_LOOKALIKE
    return st.one_of(plausible, plausible, near, JSON)


USER_OPTIONS = st.fixed_dictionaries(
    {},
    optional={
        **{key: value_for(key) for key in KNOWN_KEYS},
        **{key: JSON for key in UNKNOWN_KEYS},
    },
)


@dataclass(frozen=True)
class Case:
    """One request: the body exactly as sent, on which server."""

    body: Any
    server: str = ""


def cases(series: str) -> st.SearchStrategy[Case]:
    """Bodies each JupyterHub series takes for POST /users/{u}/servers/{s}.

    5.5 reads the whole body as ``user_options``; 6.x also takes
    ``{"user_options": {...}, "display_name": ...}`` and keeps the bare form
    for compatibility. A few bodies are not objects at all.
    """
    server = st.sampled_from(["", "", "nb"])
    bare = st.builds(Case, USER_OPTIONS, server)
    odd = st.builds(Case, JSON.filter(lambda v: not isinstance(v, dict)), server)
    if series == "5.5":
        return st.one_of(bare, bare, bare, odd)
    wrapped = st.builds(
        lambda options, s, extra: Case({"user_options": options, **extra}, s),
        USER_OPTIONS | st.none(),
        server,
        st.fixed_dictionaries({}, optional={"display_name": st.sampled_from(["My nb", 5])}),
    )
    return st.one_of(bare, wrapped, wrapped, odd)


def may_start(case: Case, series: str) -> bool:
    """A cheap guess that the hub would start this case (to cap slow starts in a run).

    Only the budget uses it; whatever the hub answers is still checked.
    """
    options = case.body
    # 6.x reads a body with either key as the new form, whatever else it holds
    new_form = isinstance(options, dict) and ({"user_options", "display_name"} & set(options))
    if series != "5.5" and new_form:
        if not isinstance(case.body.get("display_name", ""), str):
            return False
        options = case.body.get("user_options")
    if options is None:
        return True
    try:
        requested(options, extra_keys=PROFILE_OPTION_KEYS)
    except PolicyRefusal:
        return False
    return True


_prefixes = itertools.count()
NO_BODY = object()


@dataclass
class Tally:
    """What a run saw: cases tried, accepted starts, and what went wrong."""

    tried: int = 0
    accepted: int = 0
    wrong: list[str] = field(default_factory=list)


CREATES = ("create/pods", "create/persistentvolumeclaims", "create/secrets")


def creates(devcluster: Any) -> dict[str, int]:
    counts = devcluster.control.counts()
    return {key: counts.get(key, 0) for key in CREATES}


def _within_policy(pod: dict[str, Any]) -> str | None:
    limits = pod["spec"]["containers"][0].get("resources", {}).get("limits", {})
    cpu = str(limits.get("cpu", "none"))
    millicores = int(cpu[:-1]) if cpu.endswith("m") else math.ceil(float(cpu) * 1000)
    memory = int(str(limits.get("memory", "0")))
    if millicores > MAX_MILLICORES or memory > MAX_MEMORY or limits.get("nvidia.com/gpu"):
        return f"pod limits {limits} above the policy"
    return None


class Runner:
    """Sends cases to one hub, each as a new user of its own, and judges the answers.

    ``admin`` (a client signed in as an admin) also opens the user's spawn
    form after a refusal: JupyterHub saved the refused options, and the form
    pre-selects saved options. Only pass it for a hub with a profile form:
    where there is no form, opening the page starts the server.
    """

    def __init__(self, hub: Any, devcluster: Any, admin: Any = None, batch: int = 50) -> None:
        self.hub = hub
        self.devcluster = devcluster
        self.admin = admin
        self.tally = Tally()
        self._api = hub.client(headers={"Authorization": f"token {hub.token}"})
        self._prefix = f"o{next(_prefixes)}x"
        self._made = 0
        self._used = 0
        self._batch = batch

    async def _user(self) -> str:
        if self._used == self._made:
            names = [f"{self._prefix}{i}" for i in range(self._made, self._made + self._batch)]
            resp = await self._call("POST", "/users", {"usernames": names})
            assert resp.status_code == 201, resp.text
            self._made += self._batch
        self._used += 1
        return f"{self._prefix}{self._used - 1}"

    async def _call(self, method: str, path: str, body: Any = NO_BODY) -> Any:
        # json.dumps, not httpx's encoder: NaN and Infinity are sent as JSON
        # extensions, which the hub's json.loads reads
        content = None if body is NO_BODY else json.dumps(body)
        return await self._api.request(method, f"/hub/api{path}", content=content)

    async def run(self, case: Case) -> str | None:
        """Send one case; ``None`` when the hub behaved, else what went wrong."""
        self.tally.tried += 1
        problem = await self._run(case)
        if problem:
            self.tally.wrong.append(problem)
        return problem

    async def _run(self, case: Case) -> str | None:
        user = await self._user()
        before = creates(self.devcluster)
        path = f"/users/{user}/servers/{case.server}"
        resp = await self._call("POST", path, case.body)
        status = resp.status_code
        where = f"{case.body!r:.300} on server {case.server!r}: {status}"
        if status >= 500 or status < 200:
            return f"{where} {resp.text[:300]}"
        if status in (201, 202):
            self.tally.accepted += 1
            return await self._accepted(user, case.server, where)
        if not 400 <= status < 500:
            return f"{where} is neither a start nor a refusal"
        try:
            message = resp.json().get("message", "")
        except ValueError:
            message = ""
        if not message or len(message) > 600:
            return f"{where} refusal without a usable message: {resp.text[:300]}"
        after = creates(self.devcluster)
        if after != before:
            return f"{where} refused ({message}) but created {after} from {before}"
        # a stopped default server is every user's; a refused named one must be gone
        query = "?include_stopped_servers=1" if case.server else ""
        model = (await self._call("GET", f"/users/{user}{query}")).json()
        left = sorted(name for name in model["servers"] if name or not case.server)
        if left:
            return f"{where} refused ({message}) but left {left} behind"
        if self.admin is not None and not case.server:
            page = await self.admin.get(f"/hub/spawn/{user}")
            if page.status_code != 200 or 'name="profile"' not in page.text:
                return f"{where} refused, then the spawn form answered {page.status_code}"
        return None

    async def _accepted(self, user: str, server: str, where: str) -> str | None:
        try:
            await self.hub.wait_for_server(user, server)
        except Exception as exc:  # the hub accepted a start that never came up
            return f"{where} accepted, never ready: {exc}\n{self.hub.log_tail(40)}"
        pod_name = f"jupyter-{user}--{server}" if server else f"jupyter-{user}"
        pods = [
            p for p in self.devcluster.control.objects("pods") if p["metadata"]["name"] == pod_name
        ]
        problem = _within_policy(pods[0]) if pods else f"no pod {pod_name}"
        # a named server goes with its record; the default server is only stopped
        body = {"remove": True} if server else NO_BODY
        resp = await self._call("DELETE", f"/users/{user}/servers/{server}", body)
        if resp.status_code not in (202, 204):
            return f"{where}: stop answered {resp.status_code} {resp.text[:200]}"
        await self.hub.wait_for_server(user, server, ready=False)
        return f"{where}: {problem}" if problem else None
