"""Applying identity facts: identifiers join profiles and accounts, profiles merge, accounts
gain members, attributes fold, under the contract's identity rules (docs/identity.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from ingestion.canonical import MAX_IDENTIFIER_BYTES, identifier_too_long, json_text
from profiles.identifiers import is_placeholder
from profiles.models import (
    Account,
    AccountIdentity,
    AccountMembership,
    AccountMerge,
    Identity,
    IngestionWarning,
    Profile,
    ProfileMerge,
)
from profiles.services.outbox import event_identity_key, fact_instant
from trackhub.db import prepared_cursor

# Which facts are user identifiers (one namespace per project) and which name accounts.
# The first usable user identifier is the event's own (``event_identity_key``'s order).
USER_FIELDS = ("user_id", "profile_id", "anonymous_id", "another_user_id")
ACCOUNT_FIELDS = ("account_id", "another_account_id")
# The contract's links: only these pairs on one event join profiles (or accounts). Two
# identifiers on one event that no pair names stay apart: an Intempt event whose userId is
# missing or a placeholder links neither its profileId nor its anotherUserId.
USER_LINKS = (("user_id", "another_user_id"), ("profile_id", "user_id"), ("anonymous_id", "profile_id"))
ACCOUNT_LINKS = (("account_id", "another_account_id"),)


# (timestamp in microseconds, producer event id, event name): the attribute order. The
# name only breaks a tie of the first two (the contract's order), which two events of
# different names may share, so that the result does not depend on arrival order.
Stamp = tuple[int, str, str]


def _stamp(fact: dict[str, Any]) -> Stamp:
    return (int(fact["ts_us"]), str(fact["event_id"]), str(fact["name"]))


def attributes_fold(
    *, attributes: dict[str, Any], stamps: dict[str, list[Any]], update: dict[str, Any], stamp: Stamp
) -> bool:
    """Fold ``update`` set at ``stamp`` into ``attributes`` in place: per key, the greater
    stamp wins; null is a value. Commutative, associative and idempotent, so any order of
    the same events gives the same attributes. True if anything changed. (Stamps stored
    before the name joined them have two parts and lose a tie to one with three.)"""
    changed = False
    for key, value in update.items():
        current = stamps.get(key)
        if current is None or stamp > tuple(current):
            attributes[key] = value
            stamps[key] = list(stamp)
            changed = True
    return changed


@dataclass
class _EventLinks:
    fact: dict[str, Any]
    users: list[str]  # usable user identifiers, the event's own first
    accounts: list[str]
    user_pairs: list[tuple[str, str]]  # the contract's links present on the event
    account_pairs: list[tuple[str, str]]
    own_user: str | None  # the event's own identifier (its profile's), if usable


@dataclass(frozen=True)
class _Kind:
    """What differs between resolving profiles and resolving accounts."""

    # Any: the code is generic over the two families (Profile… / Account…).
    owner_model: Any  # Profile or Account
    identity_model: Any  # Identity or AccountIdentity
    merge_model: Any  # ProfileMerge or AccountMerge
    owner_field: str  # "profile" or "account"
    membership_field: str  # the owner's column in AccountMembership
    other_membership_field: str
    attributes_fact: str


PROFILES = _Kind(Profile, Identity, ProfileMerge, "profile", "profile_id", "account_id", "user_attributes")
ACCOUNTS = _Kind(Account, AccountIdentity, AccountMerge, "account", "account_id", "profile_id", "account_attributes")


@dataclass
class _UnionFind:
    parent: dict[Any, Any] = field(default_factory=dict)

    def find(self, node: Any) -> Any:
        self.parent.setdefault(node, node)
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def union(self, a: Any, b: Any) -> tuple[Any, Any] | None:
        """Join the sets of a and b; the two old roots if they differed."""
        root_a, root_b = self.find(a), self.find(b)
        if root_a == root_b:
            return None
        self.parent[root_b] = root_a
        return root_a, root_b


def _facts_collapse(facts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The facts that change the outcome, in their order.

    Events naming the same identifiers differ only in time and attributes. Of such a group
    only these matter: the first (it may be the event that joins two profiles, kept in the
    merge history), those with the earliest and latest timestamps (first and last seen),
    and, per attribute, the one with the greatest stamp (the attribute rule keeps the
    greatest, so the others would lose anyway). A busy user's hundred events in a drain
    cost a fact or two instead of a hundred. Groups naming a placeholder are kept whole:
    each of their events gets its own warning.
    """
    wanted: set[int] = set()
    # identifiers -> [first, earliest, latest] positions, or None for a placeholder group
    groups: dict[tuple[Any, ...], list[int] | None] = {}
    # (identifiers, attributes fact, attribute) -> position of the fact that sets it last
    setters: dict[tuple[Any, ...], int] = {}
    for position, fact in enumerate(facts):
        key = tuple(fact.get(name) for name in _IDENTIFIER_FIELDS)
        if key not in groups:
            placeholder = any(isinstance(value, str) and is_placeholder(value) for value in key)
            groups[key] = None if placeholder else [position, position, position]
        group = groups[key]
        if group is None:
            wanted.add(position)
            continue
        if fact["ts_us"] < facts[group[1]]["ts_us"]:
            group[1] = position
        elif fact["ts_us"] > facts[group[2]]["ts_us"]:
            group[2] = position
        for attributes_fact in ("user_attributes", "account_attributes"):
            attributes = fact.get(attributes_fact)
            if isinstance(attributes, dict):
                for name in attributes:
                    slot = (key, attributes_fact, name)
                    setter = setters.get(slot)
                    if setter is None or _stamp(fact) > _stamp(facts[setter]):
                        setters[slot] = position
    for group in groups.values():
        if group is not None:
            wanted.update(group)
    wanted.update(setters.values())
    return [facts[position] for position in sorted(wanted)]


_IDENTIFIER_FIELDS = (*USER_FIELDS, *ACCOUNT_FIELDS)


def facts_apply(*, project_id: int, facts: Sequence[dict[str, Any]]) -> None:
    """Apply one batch of event facts (caller holds the project's identity lock)."""
    facts = _facts_collapse(facts)
    links: list[_EventLinks] = []
    warnings: list[IngestionWarning] = []
    for fact in facts:
        users = _usable_values(fact, USER_FIELDS, "profile", project_id, warnings)
        accounts = _usable_values(fact, ACCOUNT_FIELDS, "account", project_id, warnings)
        own_user = event_identity_key(
            user_id=fact.get("user_id"),
            profile_id=fact.get("profile_id"),
            anonymous_id=fact.get("anonymous_id"),
            another_user_id=fact.get("another_user_id"),
        )
        links.append(
            _EventLinks(
                fact=fact,
                users=users,
                accounts=accounts,
                user_pairs=_usable_pairs(fact, USER_LINKS, users),
                account_pairs=_usable_pairs(fact, ACCOUNT_LINKS, accounts),
                # Only a value that names a profile (one too long to index names none).
                own_user=own_user if own_user in users else None,
            )
        )
    if warnings:
        IngestionWarning.objects.bulk_create(warnings, ignore_conflicts=True)

    profile_of = _resolve(
        kind=PROFILES, project_id=project_id, links=links, values_of=lambda link: link.users,
        pairs_of=lambda link: link.user_pairs, own_of=lambda link: link.own_user,
    )  # fmt: skip
    account_of = _resolve(
        kind=ACCOUNTS, project_id=project_id, links=links, values_of=lambda link: link.accounts,
        pairs_of=lambda link: link.account_pairs, own_of=lambda link: link.accounts[0] if link.accounts else None,
    )  # fmt: skip

    # A profile belongs to every account named on its events.
    memberships = {
        (account_of[account], profile_of[link.own_user]) for link in links if link.own_user for account in link.accounts
    }
    if memberships:
        _memberships_insert(pairs=sorted(memberships), now=timezone.now())


def _usable_values(
    fact: dict[str, Any], fields: Iterable[str], what: str, project_id: int, warnings: list[IngestionWarning]
) -> list[str]:
    values: list[str] = []
    for name in fields:
        value = fact.get(name)
        if value is None:
            continue
        reason = None
        if is_placeholder(value):
            reason = f"placeholder identifier {value!r}: it neither creates nor joins a {what}"
        elif identifier_too_long(value):
            # Ingestion refuses such events; this guards work recorded before it did, which
            # would otherwise fail this project's every drain on the unique index.
            reason = f"identifier over {MAX_IDENTIFIER_BYTES} bytes: it neither creates nor joins a {what}"
            value = value[:200] + "…"
        if reason is not None:
            warnings.append(
                IngestionWarning(
                    project_id=project_id,
                    event_name=fact["name"],
                    event_id=fact["event_id"],
                    field=name,
                    value=value,
                    reason=reason,
                )
            )
        elif value not in values:
            values.append(value)
    return values


def _usable_pairs(
    fact: dict[str, Any], pairs: Iterable[tuple[str, str]], usable_values: list[str]
) -> list[tuple[str, str]]:
    """The linking pairs of ``fact`` whose two values are both usable (not placeholders)."""
    found = []
    for left, right in pairs:
        a, b = fact.get(left), fact.get(right)
        if a in usable_values and b in usable_values and a != b:
            found.append((a, b))
    return found


def _resolve(
    *, kind: _Kind, project_id: int, links: Sequence[_EventLinks], values_of: Any, pairs_of: Any, own_of: Any
) -> dict[str, int]:
    """Union the batch's identifiers with what exists; merge, create, fold attributes.
    Returns the live owner id of every identifier in the batch."""
    # In order of first appearance: new owners are created (and numbered) in the order
    # their events came, so the survivor of a later merge is the one seen first.
    values = list(dict.fromkeys(value for link in links for value in values_of(link)))
    if not values:
        return {}
    existing: dict[str, int] = dict(
        kind.identity_model.objects.filter(project_id=project_id, value__in=values).values_list(
            "value", f"{kind.owner_field}_id"
        )
    )

    # Components over identifiers ("v", value) and existing owners ("o", id).
    forest = _UnionFind()
    owners_of_root: dict[Any, set[int]] = {}
    merge_event: dict[int, dict[str, Any]] = {}  # loser-to-be -> the event that first joined it

    def join(a: Any, b: Any, fact: dict[str, Any] | None) -> None:
        roots = forest.union(a, b)
        if roots is None:
            return
        kept, absorbed = roots
        left, right = owners_of_root.pop(kept, set()), owners_of_root.pop(absorbed, set())
        if left and right and fact is not None:
            for owner in left | right:
                merge_event.setdefault(owner, fact)
        owners_of_root[kept] = left | right

    for value, owner in existing.items():
        owners_of_root.setdefault(forest.find(("o", owner)), {owner})
        join(("o", owner), ("v", value), None)
    for link in links:
        for value in values_of(link):
            forest.find(("v", value))
        for a, b in pairs_of(link):
            join(("v", a), ("v", b), link.fact)

    components: dict[Any, list[str]] = {}
    for value in values:
        components.setdefault(forest.find(("v", value)), []).append(value)

    # Survivors: the lowest existing id (the first created); new owners for new components.
    survivor_of_root: dict[Any, int] = {}
    losers_of: dict[int, list[int]] = {}
    new_roots: list[Any] = []
    for root in components:
        owners = sorted(owners_of_root.get(root, ()))
        if owners:
            survivor_of_root[root] = owners[0]
            if len(owners) > 1:
                losers_of[owners[0]] = owners[1:]
        else:
            new_roots.append(root)

    now = timezone.now()
    # Owners read or created in this batch, and those changed; written once, at the end.
    loaded: dict[int, Any] = {}
    dirty: set[int] = set()
    if new_roots:
        first_fact_ts = _component_seen(links, values_of, forest)
        created = _owners_insert(
            kind=kind,
            project_id=project_id,
            spans=[
                (fact_instant(ts_us=first_fact_ts[root][0]), fact_instant(ts_us=first_fact_ts[root][1]))
                for root in new_roots
            ],
            now=now,
        )
        for root, new_owner in zip(new_roots, created, strict=True):
            survivor_of_root[root] = new_owner.id
            loaded[new_owner.id] = new_owner

    if losers_of:
        _merge(kind=kind, project_id=project_id, losers_of=losers_of, merge_event=merge_event, loaded=loaded, now=now)
        dirty.update(losers_of)

    new_identities = [
        (value, survivor_of_root[root])
        for root, component_values in components.items()
        for value in sorted(component_values)
        if value not in existing
    ]
    if new_identities:
        _identities_insert(kind=kind, project_id=project_id, identities=new_identities, now=now)

    owner_of = {value: survivor_of_root[root] for root, vs in components.items() for value in vs}
    _owners_touch(
        kind=kind, links=links, values_of=values_of, own_of=own_of, owner_of=owner_of, loaded=loaded, dirty=dirty,
        now=now,
    )  # fmt: skip
    return owner_of


def _component_seen(links: Sequence[_EventLinks], values_of: Any, forest: _UnionFind) -> dict[Any, tuple[int, int]]:
    seen: dict[Any, tuple[int, int]] = {}
    for link in links:
        ts = int(link.fact["ts_us"])
        for root in {forest.find(("v", value)) for value in values_of(link)}:
            low, high = seen.get(root, (ts, ts))
            seen[root] = (min(low, ts), max(high, ts))
    return seen


def _merge(
    *,
    kind: _Kind,
    project_id: int,
    losers_of: dict[int, list[int]],
    merge_event: dict[int, dict[str, Any]],
    loaded: dict[int, Any],
    now: datetime,
) -> None:
    """Merge each survivor's losers into it. Cost: the losers' identities, memberships and
    earlier merged-away ids; events are never touched (they are looked up by identifier)."""
    all_losers = [loser for losers in losers_of.values() for loser in losers]
    owners = {
        owner.id: owner for owner in kind.owner_model.objects.filter(id__in=[*losers_of, *all_losers]).order_by("id")
    }
    loaded.update({survivor_id: owners[survivor_id] for survivor_id in losers_of})
    memberships = list(
        AccountMembership.objects.filter(**{f"{kind.membership_field}__in": all_losers}).values_list(
            kind.membership_field, kind.other_membership_field
        )
    )
    survivor_of_loser = {loser: survivor for survivor, losers in losers_of.items() for loser in losers}
    history = []
    for survivor_id, losers in losers_of.items():
        survivor = owners[survivor_id]
        for loser_id in losers:
            loser = owners[loser_id]
            for key, value in loser.attributes.items():
                stamp = loser.attribute_stamps.get(key)
                if stamp is not None:
                    attributes_fold(
                        attributes=survivor.attributes,
                        stamps=survivor.attribute_stamps,
                        update={key: value},
                        stamp=tuple(stamp),
                    )
            survivor.first_seen = min(survivor.first_seen, loser.first_seen)
            survivor.last_seen = max(survivor.last_seen, loser.last_seen)
            fact = merge_event.get(loser_id, {})
            history.append(
                kind.merge_model(
                    project_id=project_id,
                    survivor_id=survivor_id,
                    merged_id=loser_id,
                    event_name=fact.get("name", ""),
                    event_id=fact.get("event_id", ""),
                    merged_at=now,
                )
            )
    # Identities move to their survivor, and merged-away ids (the losers and whatever was
    # merged into them before) point straight at it: one statement each for the batch.
    # (A VALUES list joined in SQL: Django's CASE/WHEN costs milliseconds per row in Python.)
    mapping = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(survivor_of_loser))
    pairs = [number for pair in survivor_of_loser.items() for number in pair]
    identity_table, owner_table = kind.identity_model._meta.db_table, kind.owner_model._meta.db_table
    owner_column = f"{kind.owner_field}_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {identity_table} SET {owner_column} = m.column2 FROM (VALUES {mapping}) AS m "
            f"WHERE {identity_table}.{owner_column} = m.column1",
            pairs,
        )
        cursor.execute(
            f"UPDATE {owner_table} SET merged_into_id = m.column2, updated_at = %s FROM (VALUES {mapping}) AS m "
            f"WHERE {owner_table}.id = m.column1 OR {owner_table}.merged_into_id = m.column1",
            [now, *pairs],
        )
    kind.merge_model.objects.bulk_create(history)
    if memberships:
        moved = {(survivor_of_loser[mine], other) for mine, other in memberships}
        if kind.membership_field == "profile_id":  # (profile, account) -> (account, profile)
            moved = {(account, profile) for profile, account in moved}
        _memberships_insert(pairs=sorted(moved), now=now)
        AccountMembership.objects.filter(**{f"{kind.membership_field}__in": all_losers}).delete()


# New rows of a drain, written in one statement each. On PostgreSQL from binary arrays:
# bulk_create builds a model instance per row and quotes every value into the SQL, about a
# third of a drain's time for traffic with many new users (``bench.identity``).


def _owners_insert(*, kind: _Kind, project_id: int, spans: list[tuple[datetime, datetime]], now: datetime) -> list[Any]:
    """New owners (profiles or accounts), one per (first_seen, last_seen), in that order:
    their ids ascend in it (the survivor of a later merge is the one created first)."""
    owners = [
        kind.owner_model(project_id=project_id, first_seen=first, last_seen=last, created_at=now, updated_at=now)
        for first, last in spans
    ]
    if connection.vendor != "postgresql":
        return kind.owner_model.objects.bulk_create(owners)
    with prepared_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {kind.owner_model._meta.db_table} "
            "(project_id, attributes, attribute_stamps, first_seen, last_seen, created_at, updated_at) "
            "SELECT %b, '{}'::jsonb, '{}'::jsonb, m.first_seen, m.last_seen, %b, %b "
            "FROM unnest(%b::timestamptz[], %b::timestamptz[]) WITH ORDINALITY AS m(first_seen, last_seen, n) "
            "ORDER BY m.n RETURNING id",
            [project_id, now, now, [first for first, _ in spans], [last for _, last in spans]],
        )
        # The ids are drawn row by row as the ordered rows are inserted (EXPLAIN shows
        # nextval above the ordered scan; not a documented promise, checked by the tests'
        # survivor rule); RETURNING's own order is not promised, hence the sort.
        ids = sorted(row[0] for row in cursor.fetchall())
    for owner, owner_id in zip(owners, ids, strict=True):
        owner.id = owner_id
        owner._state.adding, owner._state.db = False, connection.alias
    return owners


def _identities_insert(*, kind: _Kind, project_id: int, identities: list[tuple[str, int]], now: datetime) -> None:
    """New (value, owner id) identities of the project (new values: the caller holds the
    project's identity lock and read the existing ones)."""
    if connection.vendor != "postgresql":
        kind.identity_model.objects.bulk_create(
            [
                kind.identity_model(
                    project_id=project_id, value=value, created_at=now, **{f"{kind.owner_field}_id": owner}
                )
                for value, owner in identities
            ]
        )
        return
    with prepared_cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {kind.identity_model._meta.db_table} (project_id, value, {kind.owner_field}_id, created_at) "
            "SELECT %b, m.value, m.owner, %b FROM unnest(%b::text[], %b::bigint[]) AS m(value, owner)",
            [project_id, now, [value for value, _ in identities], [owner for _, owner in identities]],
        )


def _memberships_insert(*, pairs: list[tuple[int, int]], now: datetime) -> None:
    """(account id, profile id) memberships, those already there left alone."""
    if connection.vendor != "postgresql":
        AccountMembership.objects.bulk_create(
            [AccountMembership(account_id=a, profile_id=p, created_at=now) for a, p in pairs], ignore_conflicts=True
        )
        return
    with prepared_cursor() as cursor:
        cursor.execute(
            "INSERT INTO profiles_accountmembership (account_id, profile_id, created_at) "
            "SELECT m.account, m.profile, %b FROM unnest(%b::bigint[], %b::bigint[]) AS m(account, profile) "
            "ON CONFLICT DO NOTHING",
            [now, [a for a, _ in pairs], [p for _, p in pairs]],
        )


def _owners_touch(
    *,
    kind: _Kind,
    links: Sequence[_EventLinks],
    values_of: Any,
    own_of: Any,
    owner_of: dict[str, int],
    loaded: dict[int, Any],
    dirty: set[int],
    now: datetime,
) -> None:
    """Fold each event's attributes and timestamp into its (live) owner, then write every
    owner this batch changed in one statement."""
    # Every owner named on an event has seen it; its attributes go to the event's own only
    # (none when that identifier is missing or a placeholder).
    per_owner: dict[int, list[tuple[dict[str, Any], bool]]] = {}
    for link in links:
        own = own_of(link)
        own_owner = owner_of[own] if own else None
        for owner_id in dict.fromkeys(owner_of[value] for value in values_of(link)):
            per_owner.setdefault(owner_id, []).append((link.fact, owner_id == own_owner))
    missing = [owner_id for owner_id in per_owner if owner_id not in loaded]
    if missing:
        loaded.update({owner.id: owner for owner in kind.owner_model.objects.filter(id__in=missing)})
    for owner_id, facts in per_owner.items():
        owner = loaded[owner_id]
        for fact, own in facts:
            seen = fact_instant(ts_us=int(fact["ts_us"]))
            if seen < owner.first_seen:
                owner.first_seen = seen
                dirty.add(owner_id)
            if seen > owner.last_seen:
                owner.last_seen = seen
                dirty.add(owner_id)
            update = fact.get(kind.attributes_fact) if own else None
            if isinstance(update, dict) and attributes_fold(
                attributes=owner.attributes, stamps=owner.attribute_stamps, update=update, stamp=_stamp(fact)
            ):
                dirty.add(owner_id)
    changed = [loaded[owner_id] for owner_id in sorted(dirty)]
    for owner in changed:
        owner.updated_at = now
    if changed:
        _owners_write(kind=kind, owners=changed)


def _owners_write(*, kind: _Kind, owners: list[Any]) -> None:
    """Write the batch's changed owners in one statement."""
    columns = ["attributes", "attribute_stamps", "first_seen", "last_seen", "updated_at"]
    if connection.vendor != "postgresql":
        kind.owner_model.objects.bulk_update(owners, columns)
        return
    # PostgreSQL: one UPDATE from arrays; bulk_update's CASE/WHEN costs milliseconds per
    # row in Python, which a 100-merge batch feels. Bound on the server, so the arrays go
    # as binary: Django's cursor would quote every JSON text into the SQL.
    table = kind.owner_model._meta.db_table
    with prepared_cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {table} AS t
            SET attributes = m.attributes::jsonb, attribute_stamps = m.attribute_stamps::jsonb,
                first_seen = m.first_seen, last_seen = m.last_seen, updated_at = m.updated_at
            FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[],
                        %b::timestamptz[]) AS m(id, attributes, attribute_stamps, first_seen, last_seen, updated_at)
            WHERE t.id = m.id
            """,
            [
                [owner.id for owner in owners],
                # Read back through Django: may hold an integer past 64 bits (json_text).
                [json_text(owner.attributes) for owner in owners],
                [json_text(owner.attribute_stamps) for owner in owners],
                [owner.first_seen for owner in owners],
                [owner.last_seen for owner in owners],
                [owner.updated_at for owner in owners],
            ],
        )
