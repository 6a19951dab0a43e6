"""One error hierarchy for the whole OMS.

Domain code raises these; the API's exception handler and the dashboard turn them into a response
once, so no view builds an error by hand. ``http_status`` is what the API answers.
"""

from typing import Any

Errors = dict[str, list[str]]


def merge_errors(shape_errors: Errors, rule_errors: Errors) -> Errors:
    """Problems found by an endpoint's two passes (the request's shapes, then the service's rules), as one
    answer. Where both name a field the shape's message stays: the rule ran on a stand-in value."""
    return rule_errors | shape_errors


class DomainError(Exception):
    code = "domain_error"
    http_status = 400

    def __init__(self, message: str, *, details: Any = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class ValidationFailed(DomainError):
    """Input that breaks a rule; ``details`` maps each field path to its problems."""

    code = "validation_error"
    http_status = 400


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    """The request is well formed but clashes with the current state (duplicate, illegal transition)."""

    code = "conflict"
    http_status = 409


class IllegalTransition(Conflict):
    code = "illegal_transition"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    http_status = 422


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


class PartnerRefused(DomainError):
    """A carrier or another outside service answered and refused; ``details`` says why, in its words.
    Nothing was bought or changed: fix the request (address, weight, service) and try again."""

    code = "partner_refused"
    http_status = 422


class PartnerUnavailable(DomainError):
    """A carrier or another outside service did not answer in time; the operation can be retried and
    a retry never repeats what already went through."""

    code = "partner_unavailable"
    http_status = 503


class NotAuthenticated(DomainError):
    """A call that must prove who sent it did not (a webhook without a valid signature)."""

    code = "not_authenticated"
    http_status = 401
