"""Who makes a change, and the order's history row every change writes."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from oms.sql import insert_rows, unsaved
from orders.models import (
    ActorType,
    ApiKey,
    Order,
    OrderEvent,
)

# ---------------------------------------------------------------------------------------------- actors


@dataclass(frozen=True)
class Actor:
    """Who makes a change, recorded on every history row."""

    type: str
    label: str
    user: AbstractBaseUser | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> "Actor":
        return cls(type=ActorType.USER, label=user.get_username(), user=user)

    @classmethod
    def for_api_key(cls, key: ApiKey) -> "Actor":
        kind = ActorType.CHANNEL if key.channel_id else ActorType.INTEGRATION
        return cls(type=kind, label=f"{key.name} ({key.prefix}…)")

    @classmethod
    def system(cls, label: str = "oms") -> "Actor":
        return cls(type=ActorType.SYSTEM, label=label)


def _history(order: Order, actor: Actor, kind: str, **fields: Any) -> OrderEvent:
    return insert_rows([_history_entry(order, actor, kind, **fields)], deferrable=True)[0]


def _history_entry(order: Order, actor: Actor, kind: str, **fields: Any) -> OrderEvent:
    """A history row, not saved yet (a caller writing many saves them in one statement)."""
    return unsaved(
        OrderEvent,
        order=order,
        kind=kind,
        actor_type=actor.type,
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        actor_label=actor.label[:120],
        **fields,
    )
