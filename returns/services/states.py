"""Locks, the declared status table and the history row every move writes, with its domain event."""

from typing import Any

from oms.errors import IllegalTransition, NotFound
from oms.events import event_emit
from orders.models import Channel
from orders.services import Actor
from returns.models import RETURN_TRANSITIONS, Return, ReturnEvent, ReturnStatus


def return_lock(return_id: int, *, channel: Channel | None = None) -> Return:
    """The return, locked for the caller's transaction; with ``channel``, only that channel's (another
    channel's is not found, so that its existence is not given away)."""
    query = Return.objects.select_for_update(of=("self",)).select_related("channel")
    if channel is not None:
        query = query.filter(channel=channel)
    ret = query.filter(pk=return_id).first()
    if ret is None:
        raise NotFound(f"Return {return_id} does not exist.")
    return ret


def history(
    ret: Return,
    actor: Actor,
    *,
    from_status: str = "",
    to_status: str = "",
    note: str = "",
    data: dict | None = None,
) -> ReturnEvent:
    return ReturnEvent.objects.create(
        ret=ret,
        from_status=from_status,
        to_status=to_status,
        actor=actor.label[:120],
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        note=note,
        data=data or {},
    )


def emit(name: str, ret: Return, **payload: Any) -> None:
    event_emit(
        name=f"return.{name}",
        aggregate_type="return",
        aggregate_id=ret.pk,
        payload={"return_id": ret.pk, "channel_id": ret.channel_id, "status": ret.status, **payload},
    )


def ensure_can_move(ret: Return, to_status: str) -> None:
    """Refuse (409) a move the declared table does not have, before any work is done for it."""
    if to_status not in RETURN_TRANSITIONS.get(ret.status, frozenset()):
        raise IllegalTransition(
            f"Return {ret.number} cannot go from {ReturnStatus(ret.status).label.lower()} "
            f"to {ReturnStatus(to_status).label.lower()}.",
            details={"from_status": ret.status, "to_status": to_status},
        )


def move(
    ret: Return,
    to_status: str,
    actor: Actor,
    *,
    note: str = "",
    data: dict | None = None,
    fields: tuple[str, ...] = (),
) -> Return:
    """Move a locked return along the declared table, with its history row and ``return.<status>``."""
    ensure_can_move(ret, to_status)
    from_status = ret.status
    ret.status = to_status
    ret.save(update_fields=["status", "updated_at", *fields])
    history(ret, actor, from_status=from_status, to_status=to_status, note=note, data=data)
    emit(to_status, ret, from_status=from_status)
    return ret
