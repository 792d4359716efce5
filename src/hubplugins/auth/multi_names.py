"""Hub names on the combined sign-in page: which child owns a name, lists in hub names.

Every user of a :class:`~hubplugins.auth.multi.MultiAuthenticator` hub has one
*hub name*: the name the child's provider gives (its *provider name*, e.g. the
GitHub login ``alice``) behind the child's ``username_prefix`` (``gh-alice``).
Admins write every list (``allowed_users``, ``blocked_users``,
``admin_users``) in hub names; each child checks provider names. The functions
here translate between the two, and decide ownership:

- a name belongs to the prefixed child whose prefix it starts with (no prefix
  may start another one, so there is at most one), else to the child without
  a prefix, if there is one;
- a child signs in only names it owns: the child without a prefix refuses a
  name that starts with another child's prefix.

Plain functions over prefixes, no JupyterHub: the name rules are tested as
tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

LISTS = ("allowed_users", "blocked_users", "admin_users")


def nested_prefixes(labels: Sequence[str], prefixes: Sequence[str]) -> str | None:
    """Why two children's names could meet (one prefix starts another), or None.

    ``labels[i]`` names child ``i`` in the message, e.g.
    ``"authenticators[0] (GitHubAuthenticator)"``.
    """
    for i, outer in enumerate(prefixes):
        for j, inner in enumerate(prefixes):
            if i != j and outer and inner and inner != outer and inner.startswith(outer):
                return (
                    f"username_prefix {outer!r} of {labels[i]} starts username_prefix "
                    f"{inner!r} of {labels[j]}: a name such as {inner + 'x'!r} could be "
                    "signed in by both. Change one so that neither starts the other, "
                    "e.g. 'gh-' and 'lab-' rather than 'gh-' and 'gh-lab-'."
                )
    return None


def owner(name: str, prefixes: Sequence[str]) -> int | None:
    """Index of the child that owns hub name ``name``, or None if no child can produce it."""
    for i, prefix in enumerate(prefixes):
        if prefix and name.startswith(prefix) and len(name) > len(prefix):
            return i
    for i, prefix in enumerate(prefixes):
        if not prefix and not any(p and name.startswith(p) for p in prefixes):
            return i
    return None


def provider_name(name: str, prefix: str) -> str:
    """The provider's name for hub name ``name`` of the child with ``prefix``."""
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def owned_entries(
    entries: Iterable[str],
    index: int,
    prefixes: Sequence[str],
    where: str,
    *,
    own_list: bool,
) -> set[str]:
    """Provider names of child ``index`` among the hub names ``entries``.

    Entries of other children are left out, unless ``own_list`` (the list was
    set for this child alone, e.g. ``c.GitHubAuthenticator.admin_users``):
    then, like an entry no child can produce, they are a configuration error
    (``ValueError`` naming ``where``, the entry and the fix).
    """
    prefix = prefixes[index]
    result: set[str] = set()
    for entry in entries:
        found = owner(entry, prefixes)
        if found == index:
            result.add(provider_name(entry, prefix))
            continue
        if found is not None and not own_list:
            continue
        hint = (
            f"names of this sign-in method start with {prefix!r}, e.g. {prefix + entry!r}"
            if prefix
            else "names of this sign-in method carry no prefix"
        )
        if found is None:
            known = ", ".join(repr(p) for p in prefixes if p)
            raise ValueError(
                f"{where}: {entry!r} is a name no sign-in method can produce (every name "
                f"starts with one of {known}). Lists are written in hub names: {hint}."
            )
        other = (
            f"the one with username_prefix {prefixes[found]!r}"
            if prefixes[found]
            else "the one without a username_prefix"
        )
        raise ValueError(
            f"{where}: {entry!r} is a name of another sign-in method ({other}), not of "
            f"this one. Lists are written in hub names: {hint}."
        )
    return result
