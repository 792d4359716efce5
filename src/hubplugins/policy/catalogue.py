"""The refusal catalogue: every rule a user can be refused by, with its status and words.

One :class:`Refusal` per rule id and case a user meets (a rule that answers
with two statuses, or in two situations worth telling apart, has one entry
for each). The example message is the code's own: :attr:`Refusal.case` names the call
of the real rule on a small table (:mod:`hubplugins.policy.catalogue_cases`,
imported when an example is read, so this module needs the standard library only);
refusals made on the hub side (an authenticator, the spawner's Kubernetes
checks), which no pure call reaches, quote a literal that the tests match
against the message in the source.

docs/refusals.md renders its table from :data:`CATALOGUE`
(``docs/_ext/refusal_reference.py``), so the page cannot drift from the code.
The lifecycle service's own API (``lifecycle.*``, refused to the service, not to
a user) is tabled in docs/lifecycle.md and is not part of this catalogue.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hubplugins.policy.decision import Decision

__all__ = ["CATALOGUE", "Refusal", "by_rule"]


@dataclass(frozen=True)
class Refusal:
    """One refusal a user can meet.

    ``rule`` is the decision's rule id; ``<kind>`` stands for a GPU kind's
    extended resource name (``resources.gpu_kinds.<kind>``).
    """

    rule: str
    status: int
    when: str
    remedy: str
    case: str = ""
    """A function of :mod:`hubplugins.policy.catalogue_cases` that makes this refusal."""
    literal: str = ""
    """The message, where no pure call makes it (a refusal of the hub side)."""

    def decision(self) -> Decision:
        """The real rule's answer to this entry's case."""
        cases = importlib.import_module("hubplugins.policy.catalogue_cases")
        made: Decision = getattr(cases, self.case)()
        return made

    @property
    def example(self) -> str:
        """The message the user reads: the rule's own answer to its case, or the literal."""
        return self.decision().message if self.case else self.literal

    def matches(self, rule: str) -> bool:
        """Whether a decision's rule id is this entry's (``<kind>``: any GPU kind)."""
        pattern = re.escape(self.rule).replace(re.escape("<kind>"), ".+")
        return re.fullmatch(pattern, rule) is not None


_LESS = "Ask for less, or ask the hub's admins for a tier with more."
_ADMINS = "Ask the hub's admins to fix the hub's configuration."
_WAIT = "Try again when another server stops, or ask for fewer GPUs."

CATALOGUE: tuple[Refusal, ...] = (
    # -- named servers
    Refusal("servers.max_named", 403, "too many named servers (stopped ones count)",
            "Delete a named server, or use the default one.", case="max_named"),
    Refusal("servers.name", 400, "a server name too long for the tier",
            "Pick a shorter name (the message suggests one).", case="name_too_long"),
    Refusal("servers.name", 400, "a server name with other characters",
            "Use lowercase letters, digits and single hyphens (the message suggests a name).",
            case="name_characters"),
    Refusal("servers.rename", 404, "renaming a server the user does not have",
            "Rename one of your own servers.", case="rename_missing"),
    Refusal("servers.rename", 409, "renaming to a name the user already has",
            "Pick another name, or delete the other server first.", case="rename_taken"),
    # -- what a start asks for
    Refusal("request", 400, "a resource option that cannot be read",
            "Write the amount as the message shows.", case="unreadable_cpu"),
    Refusal("request", 400, "a value of the wrong type", "Send a number or a string.",
            case="wrong_type"),
    Refusal("request", 400, "a bad `.resources` line", "Fix the line as the message shows.",
            case="resources_line"),
    Refusal("request.cpu", 400, "a CPU guarantee above the CPU limit",
            "Ask for a guarantee no larger than the limit.", case="cpu_guarantee_above_limit"),
    Refusal("request.memory", 400, "a memory guarantee above the memory limit",
            "Ask for a guarantee no larger than the limit.", case="memory_guarantee_above_limit"),
    Refusal("resources.cpu.max", 403, "CPU above the per-server cap", _LESS, case="cpu_max"),
    Refusal("resources.memory.max", 403, "memory above the per-server cap", _LESS,
            case="memory_max"),
    Refusal("resources.gpu.max", 403, "GPUs above the per-server cap (0 in a tier without "
            "GPUs)", _LESS, case="gpu_max"),
    Refusal("resources.gpu_kinds", 403, "a GPU kind the tier does not offer",
            "Ask for one of the kinds the message lists.", case="gpu_kind_not_offered"),
    Refusal("resources.gpu_kinds.<kind>", 403, "GPUs of another kind above its per-server cap",
            _LESS, case="gpu_kind_max"),
    # -- the user's running servers
    Refusal("servers.max_running", 403, "too many running servers", "Stop a server first.",
            case="max_running"),
    Refusal("quota.cpu", 403, "the user's CPU quota across running servers",
            "Stop a server or ask for less CPU.", case="cpu_quota"),
    Refusal("quota.memory", 403, "the user's memory quota across running servers",
            "Stop a server or ask for less memory.", case="memory_quota"),
    Refusal("quota.gpu", 403, "the user's GPU quota across running servers",
            "Stop a server or ask for fewer GPUs.", case="gpu_quota"),
    Refusal("quota.gpu_kinds.<kind>", 403, "the user's quota of another GPU kind",
            "Stop a server or ask for fewer GPUs.", case="gpu_kind_quota"),
    # -- GPUs shared by everyone
    Refusal("cluster.gpu_pool", 409, "the hub's GPU pool is in use", _WAIT,
            case="pool_exhausted"),
    Refusal("cluster.gpu_pool", 409, "the namespace's `ResourceQuota` on GPUs is used up "
            "(several hubs share it)", _WAIT, case="namespace_gpus"),
    Refusal("cluster.gpu_pool", 409, "the hub cannot list the pods in Kubernetes yet, so "
            "cannot count the pool", "Try again in a minute.", case="pool_not_counted"),
    Refusal("cluster.gpu_pool", 409, "others wait in the GPU line for the same kind",
            _WAIT, literal="GPU pool: 2 servers are waiting in line for nvidia.com/gpu, and the "
            "GPUs that free go to them first; 4 of 4 in use."),
    Refusal("resources.gpu.queue", 409, "the GPU pool is full and the tier has a line "
            "(`resources.gpu.queue.max_wait`): a place in it",
            "Wait: the server starts by itself; or leave the line.", case="queued"),
    Refusal("resources.gpu.queue", 404, "leaving the GPU line without a place in it",
            "Nothing to do: the server is not waiting.",
            literal="Server 'nb1' of alice has no place in the GPU line (never queued, "
            "already started or gave up)."),
    Refusal("namespace.resourcequota", 409, "another `ResourceQuota` of the namespace (CPU, "
            "memory, pods) is used up", "Try again when another server stops, or ask for less.",
            case="namespace_quota"),
    Refusal("namespace.resourcequota", 403, "a `ResourceQuota` on CPU or memory and a server "
            "without that request or limit", _ADMINS, case="namespace_quota_unmet"),
    # -- profiles and the pod
    Refusal("profiles", 403, "a profile the tier may not pick",
            "Pick one of the profiles the message lists.", case="profile_not_allowed"),
    Refusal("profiles", 403, "a tier that may pick no profile at all",
            "Ask the hub's admins for access.", case="no_profile_allowed"),
    Refusal("user_options", 400, "an unknown profile, or a profile option that is not one "
            "of its choices", "Pick a profile or a choice the message lists.",
            case="unknown_profile"),
    Refusal("profile_list.slug", 409, "the hub's profile list has a slug twice (a callable "
            "`profile_list`; a static one stops the hub at start)", _ADMINS,
            case="profile_slugs"),
    Refusal("manifest.cpu", 403, "the pod holds more CPU than granted, or a container has "
            "no CPU limit (a profile, sidecar or hook)", _ADMINS, case="manifest_cpu"),
    Refusal("manifest.memory", 403, "the pod holds more memory than granted, or a container "
            "has no memory limit", _ADMINS, case="manifest_memory"),
    Refusal("manifest.gpu", 403, "the pod holds more GPUs than granted", _ADMINS,
            case="manifest_gpu"),
    Refusal("manifest.extended", 403, "the pod holds a resource not granted (another GPU "
            "kind, hugepages)", _ADMINS, case="manifest_extended"),
    Refusal("manifest.quantity", 403, "the pod has a quantity that cannot be read", _ADMINS,
            case="manifest_quantity"),
    # -- accounts and sign-in
    Refusal("identity.binding", 403, "a sign-in as an account bound to another identity",
            "Ask the hub's admins to link the account, or rename the old one.", case="binding"),
    Refusal("identity.names", 409, "every name tried for a volume, key or pod is another "
            "account's", "Ask the hub's admins to clean up old objects.",
            literal="Every name tried for your persistentvolumeclaims (claim-alice and its "
            "variants) belongs to another account. Ask the hub administrators to clean up "
            "old objects."),
    Refusal("identity.volume", 409, "the server's volume belongs to another account",
            "Ask the hub's admins.", literal="The volume claim-alice belongs to another "
            "account; this server was not started. Ask the hub administrators."),
    Refusal("oidc.id_token", 403, "the sign-in provider's ID token fails a check",
            "Sign in again.", case="id_token"),
    Refusal("oidc.id_token", 403, "the sign-in provider sends no username claim",
            "Sign in again; tell the hub's admins if it goes on.", case="id_token_claim"),
    Refusal("directory.account", 403, "a start by an account the directory no longer allows",
            "Ask the directory's admins.", case="account_recheck_disabled"),
    Refusal("directory.account", 403, "a sign-in with the right password to an account the "
            "directory has disabled, expired or locked", "Ask the directory's admins.",
            case="account_disabled"),
    Refusal("identity.replaced", 403, "a directory sign-in under a name another directory "
            "account held before", "Ask the hub's admins to remove the old hub user.",
            case="account_replaced"),
    Refusal("multi.name", 403, "a sign-in method gives a name that another method of the "
            "page owns", "Use the sign-in method your account belongs to.", case="multi_name"),
    Refusal("multi.owner", 403, "a start for a user no sign-in method of the hub owns",
            "Ask the hub's admins.", case="multi_owner"),
    Refusal("github.sign_in", 403, "a start with no GitHub token kept", "Sign in again.",
            case="github_token_missing"),
    Refusal("github.sign_in", 403, "a start whose GitHub token has expired or was revoked",
            "Sign in again.", case="github_token_expired"),
    Refusal("github.membership", 403, "a GitHub account in none of the allowed "
            "organizations or teams", "Ask an owner of one of them to add you.",
            case="github_not_member"),
    Refusal("github.membership_hidden", 403, "GitHub does not show whether the account is "
            "a member (private membership, no `read:org` scope)",
            "Make the membership public, or ask the admins for `read:org`.",
            case="github_hidden"),
    Refusal("github.not_allowed", 403, "a hub that names no organization and lets nobody "
            "in by other rules", "Ask the hub's admins.", case="github_not_allowed"),
    Refusal("directory.account", 503, "a start while the directory cannot be reached",
            "Try again in a few minutes.", case="account_recheck_unavailable"),
    Refusal("idle.allow_keep", 403, "keeping a server in a tier with `idle.allow_keep` off",
            "Start the server now and then: starting resets its idle time.",
            literal="Servers cannot be kept for your groups (defaults): the rule "
            "idle.allow_keep is off. Starting a server resets its idle time."),
)  # fmt: skip


def by_rule(rule: str) -> tuple[Refusal, ...]:
    """The entries for a decision's rule id (empty for a rule no user meets)."""
    return tuple(entry for entry in CATALOGUE if entry.matches(rule))
