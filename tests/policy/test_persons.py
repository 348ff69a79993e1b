"""Persons: linked identities are one person; linking and unlinking keep the table consistent."""

from __future__ import annotations

import pytest

from policy.persons import Person, link, link_needs_admin, person_of, same_person, unlink

A, B, C, D = "console:local:a", "telegram:telegram:1", "slack:T1:U1", "console:local:d"


def test_an_unlinked_identity_is_a_person_of_its_own() -> None:
    """No entry, or a malformed table, links nothing."""
    assert person_of(A, {}).members == {A}
    assert person_of(A, "garbage").members == {A}
    assert person_of(A, {A: 7, B: 7}).members == {A}  # non-string person ids are ignored


def test_link_joins_both_people_whole() -> None:
    """Linking a (linked with b) to c makes one person of all three; d stays apart."""
    links = link({}, A, B, new_id="p1")
    links = link(links, C, D, new_id="p2")
    links = link(links, A, C, new_id="p3")
    assert person_of(B, links).members == {A, B, C, D}
    assert same_person(D, B, links)
    assert person_of(A, links).others == tuple(sorted({B, C, D}))


def test_unlink_leaves_the_rest_linked_and_drops_a_lone_remainder() -> None:
    """Unlinking one of three keeps two linked; unlinking one of two leaves two separate people."""
    three = link(link({}, A, B, new_id="p"), B, C, new_id="q")
    after = unlink(three, A)
    assert person_of(A, after).members == {A}
    assert person_of(B, after).members == {B, C}
    two = unlink(after, B)
    assert two == {}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(A, A, True), (A, B, True), (A, C, False), ("", "", False), (A, "", False)],
    ids=["same-key", "linked", "other", "empty", "one-empty"],
)
def test_same_person(a: str, b: str, expected: bool) -> None:
    """Same key or linked: one person; an empty key is nobody."""
    assert same_person(a, b, {A: "p", B: "p"}) is expected


def test_link_needs_admin_when_either_person_holds_a_role() -> None:
    """A role anywhere on either side (also on an identity already linked) needs an admin."""
    plain = Person(key=A, members=frozenset({A}))
    linked_to_approver = Person(key=B, members=frozenset({B, C}))
    assert not link_needs_admin(plain, plain, admins=frozenset(), approvers=frozenset())
    assert link_needs_admin(plain, linked_to_approver, admins=frozenset(), approvers=frozenset({C}))
    assert link_needs_admin(plain, plain, admins=frozenset({A}), approvers=frozenset())


def test_label_names_every_linked_identity() -> None:
    """Cards and explain name the person by all of their identities."""
    assert person_of(A, {A: "p", B: "p"}).label() == f"{A} (linked: {B})"
    assert person_of(A, {}).label() == A
