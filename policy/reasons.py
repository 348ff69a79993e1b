"""Machine-readable reason codes for every decision, as written to the audit log.

Denials are values, not exceptions: a policy function returns one of these, the
audit row stores it, and the words for people are chosen at the edge.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason"]


class Reason(StrEnum):
    """Why a stage passed or stopped a request."""

    # generic
    OK = "ok"
    INTERNAL_ERROR = "internal_error"
    STORAGE_ERROR = "storage_error"
    AUDIT_FAILED = "audit_failed"
    LOCKDOWN = "lockdown"

    # dedupe
    DUPLICATE_EVENT = "duplicate_event"

    # identity and pairing
    KNOWN_USER = "known_user"
    ROLE_USER = "role_user"
    BANNED = "banned"
    UNKNOWN_USER = "unknown_user"
    PAIRING_CODE_ISSUED = "pairing_code_issued"
    PAIRING_CODE_REISSUE_TOO_SOON = "pairing_code_reissue_too_soon"
    PAIRING_TOO_MANY_PENDING = "pairing_too_many_pending"
    PAIRING_LOCKED_OUT = "pairing_locked_out"
    PAIRING_APPROVED = "pairing_approved"
    PAIRING_REJECTED = "pairing_rejected"
    PAIRING_CODE_INVALID = "pairing_code_invalid"
    PAIRING_CODE_EXPIRED = "pairing_code_expired"
    NOT_ADDRESSED = "not_addressed"

    # rate limiting
    RATE_LIMITED = "rate_limited"
    RATE_LIMITED_SILENT = "rate_limited_silent"
    CONCURRENCY_USER = "concurrency_user"
    CONCURRENCY_GLOBAL = "concurrency_global"
    BUDGET_EXHAUSTED = "budget_exhausted"

    # parse
    COMMAND = "command"
    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_TOOL = "unknown_tool"
    BAD_ARGUMENTS = "bad_arguments"
    EMPTY_MESSAGE = "empty_message"
    NO_DEFAULT_TOOL = "no_default_tool"

    # injection
    INJECTION_ALLOW = "injection_allow"
    INJECTION_WARN = "injection_warn"
    INJECTION_ESCALATE = "injection_escalate"
    INJECTION_BLOCK = "injection_block"
    SCANNER_ERROR = "scanner_error"
    INPUT_TOO_LARGE = "input_too_large"

    # permission (the rule that decided)
    ALLOWED_BY_USER = "allowed_by_user"
    ALLOWED_BY_CHANNEL = "allowed_by_channel"
    ALLOWED_BY_GROUP = "allowed_by_group"
    ALLOWED_BY_GLOBAL = "allowed_by_global"
    ALLOWED_BY_GRANT = "allowed_by_grant"
    DENIED_BY_USER = "denied_by_user"
    DENIED_BY_CHANNEL = "denied_by_channel"
    DENIED_BY_GROUP = "denied_by_group"
    NO_MATCHING_RULE = "no_matching_rule"
    NOT_ADMIN = "not_admin"

    # approval gate
    RUN_NOW = "run_now"
    APPROVAL_REQUIRED = "approval_required"
    APPROVAL_PENDING = "approval_pending"
    APPROVED = "approved"
    DENIED_BY_APPROVER = "denied_by_approver"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_CANCELLED = "approval_cancelled"
    ALREADY_DECIDED = "already_decided"
    NOT_AN_APPROVER = "not_an_approver"
    SELF_APPROVAL = "self_approval"
    ADMIN_APPROVER_REQUIRED = "admin_approver_required"
    TOKEN_INVALID = "token_invalid"  # noqa: S105 - a reason code, not a password
    NO_APPROVERS = "no_approvers"
    NO_OTHER_ADMIN = "no_other_admin"  # critical: every admin is the requester's person
    NO_OTHER_APPROVER = "no_other_approver"  # every approver is the requester's person
    APPROVERS_UNREACHABLE = "approvers_unreachable"
    INVALID_IDENTITY = "invalid_identity"
    SECRET_IN_ARGUMENTS = "secret_in_arguments"  # noqa: S105 - a reason code, not a password
    LINK_NEEDS_ADMIN = "link_needs_admin"
    CARD_TOO_LONG = "card_too_long"

    # execute
    EXECUTED = "executed"
    RUN_FAILED = "run_failed"
    RUN_TIMED_OUT = "run_timed_out"
    RUN_KILLED = "run_killed"
    SANDBOX_UNAVAILABLE = "sandbox_unavailable"
    TOOL_PAUSED = "tool_paused"
