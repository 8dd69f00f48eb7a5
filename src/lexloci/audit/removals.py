"""Many removals in one entry: the payload of ``platform:orders:issued``.

A platform sweep removes thousands of participants in one go (``lexloci.platforms``); each
removal used to be its own ``meeting:participant:removed`` entry, most of it the same evidence,
reason and notice again. A sweep now appends one ``platform:orders:issued`` entry per
transaction of orders, in that transaction, before any of its orders can be delivered (I4).
Its payload::

    {"groups": [G, ...], "orders": [O, ...]}

- each ``G`` holds what the orders of one group share: ``automated``, ``case_ids``,
  ``case_ref``, ``evidence``, ``node``, ``notice``, ``policy_version``, ``reason``,
  ``restriction_id``, ``restriction_ids``, ``restriction_version``, ``territory``;
- each ``O`` holds one order's own fields — ``context``, ``order_id``, ``participant_id``,
  ``participant_ref``, ``platform``, ``platform_participant_id``, ``session_id`` — and
  ``group``, the index of its ``G``.

**Invariant.** Order ``O`` stands for exactly the ``meeting:participant:removed`` payload
``{**groups[O["group"]], **O}`` without the key ``group`` (``expand``): the same keys and values
a per-order entry carried, so whoever counts removals counts each order of such an entry as one
such removal, at the entry's time — the transparency report and public notices do
(``removal_groups``). An order whose ``group`` is not an index of ``groups`` still counts, with
no territory and no case (it can only come from a log written by something else).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from lexloci.audit.encoding import JsonValue

__all__ = ["GROUP_FIELDS", "ORDER_FIELDS", "expand", "removal_groups"]

GROUP_FIELDS: Final = (
    "automated", "case_ids", "case_ref", "evidence", "node", "notice", "policy_version",
    "reason", "restriction_id", "restriction_ids", "restriction_version", "territory",
)  # fmt: skip
ORDER_FIELDS: Final = (
    "context", "order_id", "participant_id", "participant_ref", "platform",
    "platform_participant_id", "session_id",
)  # fmt: skip


def _parts(
    payload: Mapping[str, JsonValue],
) -> tuple[list[dict[str, JsonValue]], list[dict[str, JsonValue]]]:
    groups = payload.get("groups")
    orders = payload.get("orders")
    return (
        [g if isinstance(g, dict) else {} for g in groups] if isinstance(groups, list) else [],
        [o for o in orders if isinstance(o, dict)] if isinstance(orders, list) else [],
    )


def _index(order: Mapping[str, JsonValue], size: int) -> int | None:
    index = order.get("group")
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < size:
        return index
    return None


def expand(payload: Mapping[str, JsonValue]) -> Iterator[dict[str, JsonValue]]:
    """Each order of the entry as the ``meeting:participant:removed`` payload it stands for."""
    groups, orders = _parts(payload)
    for order in orders:
        index = _index(order, len(groups))
        shared = groups[index] if index is not None else {}
        yield {**shared, **{k: v for k, v in order.items() if k != "group"}}


def removal_groups(
    payload: Mapping[str, JsonValue],
) -> Iterator[tuple[dict[str, JsonValue], int]]:
    """``(group, number of orders in it)`` for each group with orders: what counting needs,
    without expanding every order."""
    groups, orders = _parts(payload)
    counts = [0] * len(groups)
    stray = 0
    for order in orders:
        index = _index(order, len(groups))
        if index is None:
            stray += 1
        else:
            counts[index] += 1
    for group, count in zip(groups, counts, strict=True):
        if count:
            yield group, count
    if stray:
        yield {}, stray
