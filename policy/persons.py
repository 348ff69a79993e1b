"""A person is the set of identities linked with `/link`; every check about "who" compares persons.

Links are stored as `{identity key: person id}`: identities with the same person id are
one person. An identity with no entry is a person of its own. The rules built on this
(see `policy/decision.py` and `policy/approvals.py`):

- "not the requester" means not any identity of the requester's person (approving
  your own request from your other account is self-approval);
- a ban on any identity bans the whole person;
- an allowlist deny that applies to any identity (a user, channel or group entry that
  does not list the tool, or any runtime revoke) denies the tool to the whole person;
  a tool no rule of an identity mentions is allowed when another identity of the
  person is allowed it (grants follow the person, restrictions bind it);
- roles stay with the identity that holds them: linking never makes an identity an
  admin or an approver, and linking an identity of a person who holds a role needs an
  admin's approval (`link_needs_admin`).

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Person", "link", "link_needs_admin", "person_of", "same_person", "unlink"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """One person: the identity asked about (`key`) and every identity linked with it."""

    key: str
    members: frozenset[str]

    @property
    def others(self) -> tuple[str, ...]:
        """The linked identities other than `key`, sorted."""
        return tuple(sorted(self.members - {self.key}))

    def holds(self, keys: Iterable[str]) -> frozenset[str]:
        """The identities of this person that are among `keys` (e.g. who of them is an admin)."""
        return self.members & frozenset(keys)

    def label(self) -> str:
        """`key`, followed by the linked identities when there are any (for cards and explain)."""
        others = self.others
        return self.key if not others else f"{self.key} (linked: {', '.join(others)})"


def _links(links: object) -> Mapping[str, str]:
    """The stored links, or none when the stored value is not a mapping of strings."""
    if not isinstance(links, Mapping):
        return {}
    return {k: v for k, v in links.items() if isinstance(k, str) and isinstance(v, str)}


def person_of(key: str, links: object) -> Person:
    """The person `key` belongs to, given the stored links (anything malformed links nothing)."""
    table = _links(links)
    person_id = table.get(key)
    if person_id is None:
        return Person(key=key, members=frozenset({key}))
    members = frozenset(k for k, p in table.items() if p == person_id) | {key}
    return Person(key=key, members=members)


def same_person(a: str, b: str, links: object) -> bool:
    """Whether identities `a` and `b` are one person (an empty key is nobody)."""
    if not a or not b:
        return False
    return a == b or b in person_of(a, links).members


def link(links: object, a: str, b: str, *, new_id: str) -> dict[str, str]:
    """The links after joining `a` and `b` (and everyone already linked with either) into one person."""
    table = dict(_links(links))
    person_id = table.get(a) or table.get(b) or new_id
    merged = {table.get(a), table.get(b)} - {None, person_id}
    out = {k: (person_id if p in merged else p) for k, p in table.items()}
    out[a] = person_id
    out[b] = person_id
    return out


def unlink(links: object, key: str) -> dict[str, str]:
    """The links after `key` leaves its person (a person left with one identity is dropped too)."""
    table = dict(_links(links))
    person_id = table.pop(key, None)
    if person_id is not None:
        rest = [k for k, p in table.items() if p == person_id]
        if len(rest) == 1:
            del table[rest[0]]
    return table


def link_needs_admin(
    a: Person, b: Person, *, admins: frozenset[str], approvers: frozenset[str]
) -> bool:
    """Linking `a` and `b` needs an admin's approval when either person holds a role."""
    roles = admins | approvers
    return bool(a.holds(roles) or b.holds(roles))
