"""The conditional-write idiom, written once: a DynamoDB write refused because its condition did
not hold is an answer ("someone else got there first", "it is not there"), not an error.

    if not applied(item.save, condition=Model.sk.does_not_exist()):
        ...  # the condition did not hold; nothing was written

Works for PynamoDB's exceptions (`cause_response_code`) and plain botocore's `ClientError`, and
imports neither, so the tracking and unsubscribe paths can use it without loading PynamoDB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"


def error_code(exc: BaseException) -> str | None:
    """The DynamoDB error code of a PynamoDB or botocore exception (None for anything else)."""
    code = getattr(exc, "cause_response_code", None)  # PynamoDB's PutError, UpdateError, ...
    if code:
        return str(code)
    response = getattr(exc, "response", None)  # botocore's ClientError
    if isinstance(response, dict):
        found = (response.get("Error") or {}).get("Code")
        return str(found) if found else None
    return None


def cancellation_codes(exc: BaseException) -> list[str | None]:
    """Per item of a cancelled transaction: "ConditionalCheckFailed", "TransactionConflict", "None", ..."""
    reasons = getattr(exc, "cancellation_reasons", None)  # PynamoDB's TransactWriteError
    if reasons is not None:
        return [getattr(r, "code", None) if r else None for r in reasons]
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return [r.get("Code") for r in response.get("CancellationReasons") or []]
    return []


def condition_failed(exc: BaseException) -> bool:
    """True when a write (or a transaction) was refused only because a condition did not hold."""
    code = error_code(exc)
    if code == CONDITION_FAILED:
        return True
    if code == TRANSACTION_CANCELED or getattr(exc, "cancellation_reasons", None) is not None:
        return "ConditionalCheckFailed" in cancellation_codes(exc)
    return False


def written(write: Callable[..., Any], /, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
    """`write(*args, **kwargs)`, a conditional write: its answer, or None if its condition did not
    hold (nothing was written). Every other error propagates."""
    try:
        answer = write(*args, **kwargs)
    except Exception as exc:
        if condition_failed(exc):
            return None
        raise
    return answer if isinstance(answer, dict) else {}


def applied(write: Callable[..., Any], /, *args: Any, **kwargs: Any) -> bool:
    """`write(*args, **kwargs)`, a conditional write: True if it was written, False if its
    condition did not hold. Every other error propagates."""
    return written(write, *args, **kwargs) is not None


THROTTLED = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
                       "TransactionConflictException"})


def transient(exc: BaseException) -> bool:
    """Would the same DynamoDB call, made again, likely work? A throttle, a 5xx, or the connection
    (refused, reset, timed out); not a refused condition or a bad request."""
    if error_code(exc) in THROTTLED:
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        return isinstance(status, int) and status >= 500
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import HTTPClientError

    return isinstance(exc, BotocoreConnectionError | HTTPClientError | ConnectionError | TimeoutError)
