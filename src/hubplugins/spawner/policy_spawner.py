"""``PolicySpawner``: KubeSpawner that enforces the hub policy table.

The spawner only gathers usage (the user's other servers, the hub's GPU pool),
asks the pure core, and applies the answer to KubeSpawner's traits before
KubeSpawner builds its manifests. Refusals leave as one HTTP 4xx (see
:mod:`hubplugins.hub.refusals`) before anything is created in Kubernetes.

The walk of a start:

1. the requested profile is checked against the profiles the user's policy
   allows, its options strictly (choices must exist, free text must match the
   whole ``validation_regex``);
2. KubeSpawner's own ``load_user_options()`` applies that profile, so its
   ``kubespawner_override`` sets this server's defaults;
3. the core checks the final request (profile, then ``cpu``/``memory``/``gpu``
   or ``.resources`` text from the user) against the caps, the user's quota and
   the hub's GPU pool; GPUs are reserved in the same step, with no await in
   between, so concurrent starts never oversubscribe the pool;
4. the grant is applied to the traits KubeSpawner turns into the pod;
5. the whole pod (every container, sidecar, init container and pod-level
   resource, after the profile, ``extra_containers`` and ``modify_pod_hook``)
   is checked against the grant before anything is created, and the pod
   actually sent once more (:mod:`hubplugins.spawner.pod_guard`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar, NoReturn

from jupyterhub.utils import maybe_future
from kubespawner import KubeSpawner
from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, Unicode, Union, default

from hubplugins.hub import failure_count, metrics, new_records, refusals, renames, user_delete
from hubplugins.hub.config import HubPolicy, named_server_check
from hubplugins.hub.refusals import log_decision
from hubplugins.hub.renames import avoid_taken_oauth_client, follow_rename
from hubplugins.hub.trait_help import example, trait_help
from hubplugins.policy.decision import Decision, ServerUsage, Usage
from hubplugins.policy.errors import PolicyRefusal
from hubplugins.policy.grant import STATE_KEY, Grant
from hubplugins.policy.model import Policy
from hubplugins.policy.oauth_clients import oauth_client_id
from hubplugins.policy.quantities import format_cpu, format_memory
from hubplugins.policy.rules.gpu_pool import GpuPool
from hubplugins.policy.rules.named_servers import check_rename
from hubplugins.policy.rules.profiles import (
    SLUG_RULE,
    allowed_profile_list,
    usable_saved_options,
)
from hubplugins.policy.rules.resources_text import options_object
from hubplugins.policy.rules.start import Choice, choose, grant_start
from hubplugins.spawner import (
    gpu_line,
    ownership,
    pod_guard,
    pool_sync,
    quota_sync,
    storage,
)
from hubplugins.spawner.form import (
    profile_options_from_form,
    render_caps,
    render_resource_fields,
    resource_options_from_form,
)

new_records.install()
renames.install()


class PolicySpawner(KubeSpawner):
    """KubeSpawner that enforces ``HubPolicy``: resources, GPUs, profiles, storage."""

    policy_progress = Bool(
        True,
        config=True,
        help=trait_help(
            """
            Show what the policy decided on the spawn progress page, for example
            ``quota: 2 of 4 CPUs in use`` and ``1 of 4 GPUs reserved``. False
            means the page shows only KubeSpawner's own progress events.
            """,
            example("PolicySpawner", "policy_progress", False),
        ),
    )

    resource_form = Bool(
        True,
        config=True,
        help=trait_help(
            """
            Add CPU, memory, GPU and ``.resources`` fields to the spawn form. The
            fields only appear when the user's policy lets them ask for more than
            the defaults. False means no such fields; requests through the REST
            API's ``user_options`` are accepted either way (within the policy).
            """,
            example("PolicySpawner", "resource_form", False),
        ),
    )

    gpu_pool_name = Unicode(
        "",
        config=True,
        help=trait_help(
            """
            Key of the hub-wide GPU pool this spawner draws from. Empty (the
            default) means one pool per hub process, sized by
            ``HubPolicy.policy.cluster.gpu_pool``. Only change this when several
            spawner classes in one hub must keep separate reservations; every pool
            still counts every pod in its namespace that holds its resources.
            """,
            example("PolicySpawner", "gpu_pool_name", "a100"),
        ),
    )

    # JupyterHub 5.5 assigns any JSON body of a REST start here; a value that is
    # not an object must reach load_user_options to be refused there (400, no
    # record left) rather than fail the assignment (500)
    user_options = Union([Dict(), AnyTrait()], help=KubeSpawner.user_options.help)

    # one pool per hub process and pool name
    _gpu_pools: ClassVar[dict[str, GpuPool]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._grant: Grant | None = None
        self._nothing_created = False
        self._progress_notes: list[str] = []
        self._forget_when_stopped = False
        self._pool_demand: dict[str, int] = {}
        self._pool_counts: dict[str, Any] = {}  # the pool's in use and size at the reservation
        self._own_record = False  # the record was made by the request starting it
        self._replacing_pod = False
        # (kind, name) of objects this start created before its pod, see pod_guard
        self.created_by_start: list[tuple[str, str]] = []

        # an id no other user's server shares (see oauth_clients); a server still
        # running from before keeps the id its client was saved under, so a hub
        # upgrade neither breaks its sign-ins nor has the hub's start-up cleanup
        # delete its client
        orm_spawner = self.orm_spawner
        saved = None
        if self.user is not None and orm_spawner is not None:
            saved = orm_spawner.oauth_client_id if orm_spawner.server is not None else None
            self.oauth_client_id = saved or oauth_client_id(self.user.name, self.name)
        # nor one a renamed account's running server still holds (see renames); a
        # running server's saved client is its own: no query for it, so that a hub
        # start does no more per running server than KubeSpawner does
        if not saved:
            avoid_taken_oauth_client(self)

    # JupyterHub stores each start's future here, then adds the callback that
    # counts failed starts toward consecutive_failure_limit: refusals are
    # kept out of that count (see hubplugins.hub.failure_count)
    @property
    def _spawn_future(self) -> Any:
        return self.__dict__.get("_hubplugins_spawn_future")

    @_spawn_future.setter
    def _spawn_future(self, future: Any) -> None:
        self.__dict__["_hubplugins_spawn_future"] = future
        if isinstance(future, asyncio.Future):
            failure_count.watch_start(self, future)

    # -- policy --------------------------------------------------------------

    @property
    def hub_policy(self) -> HubPolicy:
        return HubPolicy.instance_for(self.config, log=self.log)

    def resolve_policy(self) -> Policy:
        """This user's effective policy, from their JupyterHub groups."""
        return self.hub_policy.table.resolve(g.name for g in self.user.groups)

    @property
    def gpu_pool(self) -> GpuPool:
        key = self.gpu_pool_name or "default"
        pool = self._gpu_pools.get(key)
        if pool is None:
            pool = self._gpu_pools[key] = GpuPool(dict(self.hub_policy.table.cluster.gpu_pool))
        return pool

    @property
    def _server_key(self) -> str:
        return f"{self.user.name}/{self.name}"

    def _usage(self, policy: Policy | None = None, pods: Any = None) -> Usage:
        """This user's servers, with what running ones hold.

        Each server counts with the larger of its grant (from the spawners in
        memory, restored from saved state after a hub restart) and what its
        live pods hold (``pods``: the pod reflector's, see ``pool_sync``), so
        a start interrupted by a crash of the hub still counts: no Kubernetes
        request.
        """
        spawners = self.user.spawners
        gpu_resources = [*self.gpu_pool.capacity]
        if policy is not None:
            gpu_resources.extend(policy.resources.gpu_resources)
        from_pods = pool_sync.usage_from_pods(
            pods, self.user.name, gpu_resources, self.common_labels
        )
        servers = []
        for name in self.user.orm_user.orm_spawners:
            other = spawners.get(name)  # dict.get: never instantiates a spawner
            running = bool(other is not None and other is not self and other.active)
            held: Grant | None = getattr(other, "_grant", None) if running else None
            server = pool_sync.granted_usage(name, running, held)
            servers.append(pool_sync.larger(server, from_pods.pop(name, None)))
        servers.extend(from_pods.values())  # pods of servers the hub no longer lists
        return Usage.of(servers)

    # -- start ---------------------------------------------------------------

    async def load_user_options(self) -> None:
        """Apply the allowed profile, then check and apply the policy's grant."""
        self._nothing_created = True
        self._progress_notes = []
        self.created_by_start = []
        await follow_rename(self)
        started = time.perf_counter()
        policy = self.resolve_policy()
        options: Any = self.user_options
        # a named server never started before: its record may have been made by
        # this very request (JupyterHub 5.5's form POST skips the hub-level check)
        new_named = self._new_named
        # a refusal removes only a record made for this start (by this very
        # request or to show its form): one made by a PUT (6.x) is the user's
        self._own_record = self._record_made_for_this_start()
        try:
            if new_named:
                self._check_new_name()
            base = await self._profile_list_for(self)
            initialized = self._get_initialized_profile_list(base) if base else []
            # ask one: what the start asks for
            choice: Choice = choose(policy, options, initialized).enforce().details["choice"]
            if base:
                self.profile_list = [dict(p) for p in choice.allowed]
            before = self._resource_traits(policy)
            try:
                await super().load_user_options()  # KubeSpawner applies the chosen profile
            finally:
                self.profile_list = base
            set_by_profile = self._set_by_profile(policy, before)
            # the last await before the checks: from here to the reservation, none
            pods = await pool_sync.live_pods(self)
            usage = self._usage(policy, pods)
            # ask two: what it is granted
            decision = grant_start(policy, usage, choice, set_by_profile, server_name=self.name)
            grant: Grant = decision.enforce().details["grant"]
            self._pool_counts = {}
            self._pool_demand = gpu_line.reserve_or_queue(self, policy, grant, pods)
            if self._pool_demand:
                self._report_pool()
        except PolicyRefusal as refusal:
            self._refuse_start(refusal)
        self._apply_grant(policy, grant, usage)
        storage.apply_storage(self, policy)
        await ownership.settle(self, policy)
        decision = await pod_guard.check_before_start(self, policy)
        if not decision.allowed:
            self._forget_when_stopped = self._own_record
            raise self._refuse("pod", decision)
        metrics.observe_decision(time.perf_counter() - started)
        granted = {**grant.as_dict(), **self._pool_counts}
        log_decision(self.log, "spawn", granted, user=self.user.name, server=self.name)

    @property
    def _new_named(self) -> bool:
        return bool(self.name) and not (self.orm_spawner and self.orm_spawner.state)

    def _record_made_for_this_start(self) -> bool:
        return (
            self._new_named
            and self.orm_spawner is not None
            and new_records.made_for_this_start(self.orm_spawner)
        )

    def _refuse_start(self, refusal: PolicyRefusal) -> NoReturn:
        error = self._refuse("spawn", refusal)
        if refusal.decision.rule == SLUG_RULE:  # the hub's configuration, for the admin
            self.log.error("hubplugins: %s cannot start: %s", self._log_name, refusal.message)
        self._forget_when_stopped = self._record_made_for_this_start()
        raise error from None

    async def apply_group_overrides(self) -> None:
        """Refuse ``user_options`` that are not an object before JupyterHub reads them.

        JupyterHub 5.5 passes any JSON body of a REST start on, and its own
        reading of a number or ``true`` answers 400 with the record of a new
        named server left behind; here it is refused like any bad option.
        """
        decision = options_object(self.user_options)
        if not decision.allowed:
            self._refuse_start(PolicyRefusal(decision))
        await super().apply_group_overrides()

    def _check_new_name(self) -> None:
        """The hub-level name and count check, for paths that skip it."""
        others = [n for n in self.user.orm_user.orm_spawners if n != self.name]
        groups = [g.name for g in self.user.groups]
        _, decision = named_server_check(self.hub_policy.table, groups, others, self.name)
        decision.enforce()

    def _forget_refused_record(self, tries: int = 100) -> None:
        """Remove the record JupyterHub made for a new server that was refused.

        Called once the failed start has unwound, as the REST API's delete does
        (nothing exists in Kubernetes for it), so a refused name or start leaves
        no stopped server behind that would count toward ``max_named``.
        """
        if self.active:
            if tries:
                loop = asyncio.get_running_loop()
                loop.call_later(0.05, self._forget_refused_record, tries - 1)
            return
        orm_user = self.user.orm_user
        orm_spawner = orm_user.orm_spawners.get(self.name)
        if orm_spawner is None or orm_spawner.server is not None:
            return
        db = self.user.db
        db.delete(orm_spawner)
        db.commit()
        self.user.spawners.pop(self.name, None)
        self.log.info("Removed the record of refused new server %s", self._log_name)

    def _resource_traits(self, policy: Policy) -> dict[str, Any]:
        gpu = self.extra_resource_limits.get(policy.resources.gpu.resource)
        return {
            "cpu_guarantee": self.cpu_guarantee,
            "cpu_limit": self.cpu_limit,
            "memory_guarantee": self.mem_guarantee,
            "memory_limit": self.mem_limit,
            "gpu": int(gpu) if gpu is not None else None,
        }

    def _set_by_profile(self, policy: Policy, before: dict[str, Any]) -> dict[str, Any]:
        """The resource traits the applied profile changed, as :class:`Request` fields."""
        after = self._resource_traits(policy)
        return {k: v for k, v in after.items() if v != before[k] and v is not None}

    def _apply_grant(self, policy: Policy, grant: Grant, usage: Usage) -> None:
        self._grant = grant
        self.cpu_guarantee = grant.cpu_guarantee
        self.cpu_limit = grant.cpu_limit
        self.mem_guarantee = grant.mem_guarantee
        self.mem_limit = grant.mem_limit
        resource = grant.gpu_resource
        limits = dict(self.extra_resource_limits)
        guarantees = dict(self.extra_resource_guarantees)
        for kind in policy.resources.gpu_resources:  # one kind per server: the granted one
            limits.pop(kind, None)
            guarantees.pop(kind, None)
        if grant.gpu:
            limits[resource] = str(grant.gpu)
            guarantees[resource] = str(grant.gpu)
        self.extra_resource_limits = limits
        self.extra_resource_guarantees = guarantees
        main_gpu = policy.resources.gpu.resource
        notes = [
            f"Policy ({policy.tier}): {format_cpu(grant.cpu_limit)} CPU, "
            f"{format_memory(grant.mem_limit)} memory"
            + (f", {grant.gpu} GPU" if grant.gpu else "")
            + (f" ({resource})" if grant.gpu and resource != main_gpu else "")
        ]
        if policy.quota.cpu is not None:
            used = usage.totals(excluding=self.name)[0] / 1000 + grant.cpu_limit
            notes.append(f"quota: {format_cpu(used)} of {format_cpu(policy.quota.cpu)} CPUs in use")
        if grant.gpu:
            counts = self._pool_counts
            notes.append(f"{counts.get('pool_in_use')} of {counts.get('pool_size')} GPUs reserved")
        self._progress_notes = notes

    def _refuse(
        self, event: str, refused: Decision | PolicyRefusal, server: str | None = None
    ) -> Exception:
        """The one way this spawner refuses: counted, logged, the HTTP error to raise."""
        name = self.name if server is None else server
        return refusals.refuse(self.log, event, refused, user=self.user.name, server=name)

    async def _make_create_pvc_request(self, pvc: Any, request_timeout: float) -> bool:
        return await pod_guard.create_pvc(
            self, pvc, request_timeout, super()._make_create_pvc_request
        )

    async def _make_create_pod_request(self, pod: Any, request_timeout: float) -> bool:
        """KubeSpawner's pod create, after checking the pod it sends against the grant."""
        if self._grant is not None:
            decision = pod_guard.check_sent(self, self.resolve_policy(), pod)
            if not decision.allowed:
                await pod_guard.undo_start(self)
                self._forget_when_stopped = self._own_record
                raise self._refuse("pod", decision)
        self._nothing_created = False
        # on a 409 KubeSpawner stops the old pod and tries again: this start keeps its grant
        self._replacing_pod = True
        try:
            return await quota_sync.create_pod(
                self, pod, request_timeout, super()._make_create_pod_request
            )
        except PolicyRefusal as refusal:
            # refused by a ResourceQuota: no pod exists, nothing of this start stays
            self._nothing_created = True
            await pod_guard.undo_start(self)
            self._forget_when_stopped = self._own_record
            # in a tier with a GPU line: a place in it, tried again (see gpu_line)
            raise self._refuse("pod", gpu_line.quota_refused(self, refusal.decision)) from None
        finally:
            self._replacing_pod = False

    async def progress(self) -> Any:
        if self.policy_progress:
            for note in self._progress_notes:
                yield {"progress": 1, "message": note}
        async for event in super().progress():
            yield event

    async def rename(self, old_name: str, new_name: str) -> None:
        """Refuse a rename (JupyterHub 6.x ``PATCH``) that breaks the name rules.

        The volume keeps its saved name, so the data stays with the server.
        """
        usage = Usage.of(ServerUsage(n) for n in self.user.orm_user.orm_spawners)
        decision = check_rename(self.resolve_policy(), usage, old_name, new_name)
        if not decision.allowed:
            raise self._refuse("rename", decision, server=old_name)

    # -- stop ----------------------------------------------------------------

    def _release(self) -> None:
        if self.gpu_pool.release(self._server_key):
            self._report_pool()
            gpu_line.pool_freed(self)
        self._grant = None
        self._pool_demand = {}
        self._pool_counts = {}

    def _report_pool(self) -> None:
        pool = self.gpu_pool
        pods = pool_sync.pool_holdings(pool_sync.pods_now(self), pool)
        for resource, size in pool.capacity.items():
            metrics.set_gpu_pool(resource, pool.in_use(resource, pods), size)

    async def stop(self, now: bool = False) -> None:
        try:
            if self._nothing_created:
                # refused before anything was created: nothing to delete
                return
            await super().stop(now=now)
        finally:
            if not self._replacing_pod:
                self._release()

    async def delete_forever(self) -> None:
        """Delete the server's volume only where the policy says so (see ``storage``).

        The default server's is called when its user is deleted: the user's
        other servers are stopped first (see ``user_delete``).
        """
        if not self.name:
            await user_delete.stop_other_servers(self)
        gpu_line.server_removed(self)
        await storage.delete_forever(self, self.resolve_policy())

    def clear_state(self) -> None:
        # JupyterHub calls this after every stop, also when stop() itself was
        # skipped because poll() found no pod
        super().clear_state()
        # JupyterHub deletes the old client before this and reads the id after it
        if self.user is not None:
            self.oauth_client_id = oauth_client_id(self.user.name, self.name)
            # a renamed account's server may still be stopping under this id
            avoid_taken_oauth_client(self)
        if not gpu_line.being_served(self):  # a start from the line keeps its GPUs
            self._release()
        if self._forget_when_stopped:
            self._forget_when_stopped = False
            asyncio.get_running_loop().call_soon(self._forget_refused_record)

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        if self._grant is not None:
            # the grant as plain data, with the pool's counts at the reservation
            grant = {**self._grant.as_dict(), **self._pool_counts}
            state[STATE_KEY] = {"grant": grant, "pool": self._pool_demand}
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        saved = (state or {}).get(STATE_KEY) or {}
        grant = Grant.saved(saved.get("grant"))
        if grant is not None:
            self._grant = grant
            self._pool_demand = pool_sync.restore(self, self._server_key, grant, saved.get("pool"))
            if self._pool_demand:
                self._report_pool()

    # -- the spawn form ------------------------------------------------------

    def _render_options_form(self, profile_list: list[dict[str, Any]]) -> str:
        policy = self.resolve_policy()
        initialized = self._get_initialized_profile_list(profile_list)
        allowed = allowed_profile_list(policy, initialized)
        saved = self.user_options
        self.user_options = dict(usable_saved_options(policy, saved, initialized))
        try:
            html = super()._render_options_form(allowed) if allowed else ""
        finally:
            self.user_options = saved
        if self.resource_form:
            html += render_resource_fields(policy)
        if html:  # the tier's caps, stated before the user asks (no form: no page)
            html += render_caps(policy)
        return html

    @default("options_form")
    def _options_form_default(self) -> Any:
        # always per user: the profiles and fields depend on the user's policy
        return self._render_options_form_dynamically

    async def _profile_list_for(self, spawner: Any) -> list[dict[str, Any]]:
        """The configured ``profile_list``, called for ``spawner`` when it is a callable."""
        profile_list = self.profile_list
        if callable(profile_list):
            profile_list = await maybe_future(profile_list(spawner))
        return list(self._sorted_dict_values(profile_list))

    async def _render_options_form_dynamically(self, current_spawner: Any) -> str:
        if current_spawner.orm_spawner is not None:
            new_records.note_form_page(current_spawner.orm_spawner)
        return self._render_options_form(await self._profile_list_for(current_spawner))

    def _options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, Any]:
        options = profile_options_from_form(super()._options_from_form(formdata))
        options.update(resource_options_from_form(formdata))
        return options
