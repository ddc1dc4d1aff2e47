"""One reading of a failed AWS call: may a retry help, and what to tell a person.

SNS, Security Hub and the DynamoDB state store all ask the same question of a botocore
exception, and separate answers drifted apart (one output retried ``Throttling``, the other did
not). The rule, for every service:

* throttling (any ``…Throttl…`` code, ``TooManyRequests``, provisioned-throughput or request
  limits), the service's own failures (``Internal…``, ``ServiceUnavailable``, any HTTP 5xx), HTTP
  429, no answer at all (connection refused, timeouts, credentials not fetched yet) and an
  expired session (``ExpiredToken…``, ``RequestExpired``, clock skew: the next invocation signs
  with fresh role credentials) → **retryable**;
* anything else the service answered (access denied, validation, a missing topic or table) and a
  request botocore refused to send (``ParamValidationError``) or could not address
  (``NoRegionError``) → **permanent**: the same request would fail the same way.

The reason names the service, the error code and the service's message (cut to 200
characters); botocore messages carry resource names, never credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

RETRYABLE_CODES = frozenset(
    {
        "Throttled",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "KMSThrottling",
        "TooManyRequestsException",
        "LimitExceededException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "InternalError",
        "InternalFailure",
        "InternalException",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "RequestTimeTooSkewed",
    }
)
# botocore exceptions raised before any request is sent: our input or configuration is wrong
_REFUSED_LOCALLY = frozenset({"ParamValidationError", "NoRegionError"})
MAX_MESSAGE = 200


@dataclass(frozen=True)
class AwsFailure:
    """The verdict on one failed call."""

    retryable: bool
    reason: str
    code: str = ""
    http_status: int = 0


def retryable_code(code: str, http_status: int = 0) -> bool:
    """Whether an AWS error code (also a per-entry code of a batch API) is worth a retry."""
    return code in RETRYABLE_CODES or "Throttl" in code or http_status == 429 or http_status >= 500


def classify(exc: BaseException, service: str) -> AwsFailure:
    """The verdict on ``exc``, raised by a boto3 call to ``service`` (a display name)."""
    name = type(exc).__name__
    if name in _REFUSED_LOCALLY:
        return AwsFailure(False, f"{service} refused the request: {str(exc)[:300]}", name)
    resp = getattr(exc, "response", None)
    if not isinstance(resp, dict):  # no answer: connection error, timeout, credentials
        return AwsFailure(True, f"{service} unreachable: {name}", name)
    # Read defensively: this runs inside an ``except`` and must never raise itself.
    err = resp.get("Error")
    err = err if isinstance(err, dict) else {}
    meta = resp.get("ResponseMetadata")
    meta = meta if isinstance(meta, dict) else {}
    code, msg = str(err.get("Code") or ""), str(err.get("Message") or "")[:MAX_MESSAGE]
    try:
        status = int(meta.get("HTTPStatusCode") or 0)
    except (TypeError, ValueError):
        status = 0
    reason = f"{service} {code}: {msg}".strip()
    return AwsFailure(retryable_code(code, status), reason, code, status)
