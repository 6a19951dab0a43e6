"""Every write to returns: requests and decisions, receiving and inspection, credits and exchanges.

Each service runs in one transaction, locks the return (and the order lines it counts units of), moves
it along the declared status table, and writes its history row and domain event together."""

from returns.services.credits import return_credit
from returns.services.labels import return_label_issue, return_label_void, return_parcel_progress
from returns.services.policy import (
    DEFAULT_REASONS,
    Returnable,
    lines_paid,
    policy_for,
    reasons_for,
    returnable,
    units_value,
)
from returns.services.receiving import InspectionInput, return_inspect, return_receive
from returns.services.requests import (
    MAX_RETURN_LINES,
    ReturnLineInput,
    return_authorise,
    return_cancel,
    return_reject,
    return_request,
)
from returns.services.states import return_lock

__all__ = [
    "DEFAULT_REASONS",
    "MAX_RETURN_LINES",
    "InspectionInput",
    "ReturnLineInput",
    "Returnable",
    "lines_paid",
    "policy_for",
    "reasons_for",
    "return_authorise",
    "return_cancel",
    "return_credit",
    "return_inspect",
    "return_label_issue",
    "return_label_void",
    "return_lock",
    "return_parcel_progress",
    "return_receive",
    "return_reject",
    "return_request",
    "returnable",
    "units_value",
]
