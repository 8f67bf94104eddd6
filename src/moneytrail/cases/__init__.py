"""Alerts become cases; analysts work them; their decisions become labels."""

from moneytrail.cases.context import context_for
from moneytrail.cases.sync import SyncReport, sync_from_run
from moneytrail.cases.workflow import (
    ATTACHMENT_KINDS,
    STATES,
    add_comment,
    assign,
    attach,
    change_state,
    get_case,
    list_cases,
)

__all__ = [
    "ATTACHMENT_KINDS",
    "STATES",
    "SyncReport",
    "add_comment",
    "assign",
    "attach",
    "change_state",
    "context_for",
    "get_case",
    "list_cases",
    "sync_from_run",
]
