"""One typed error per reason a record cannot be decoded.

Each error says whether retrying can help (``transient``): the Kinesis handler reports only
transient failures in ``batchItemFailures``; permanent ones go to the dead-letter queue with a
pipeline alert, so a poison record never blocks a shard.
"""

from __future__ import annotations


class DecodeError(Exception):
    """Base class. ``reason`` is a stable machine-readable slug used in metrics and the DLQ."""

    reason: str = "decode_error"
    transient: bool = False

    def __init__(self, message: str, *, record_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.record_id = record_id

    def __str__(self) -> str:
        where = f"record {self.record_id}: " if self.record_id else ""
        return f"{where}{self.message} [{self.reason}]"


class BadBase64(DecodeError):
    reason = "bad_base64"


class BadEnvelope(DecodeError):
    """The outer JSON is not a DAS envelope (not JSON, missing or wrongly typed fields)."""

    reason = "bad_envelope"


class UnsupportedType(DecodeError):
    """The envelope or payload ``type`` is not one dasalert knows."""

    reason = "unsupported_type"


class MissingResourceId(DecodeError):
    """No resource id could be derived from the stream ARN and none was configured."""

    reason = "missing_resource_id"


class KmsAccessDenied(DecodeError):
    reason = "kms_access_denied"


class KmsThrottled(DecodeError):
    reason = "kms_throttled"
    transient = True


class KmsUnavailable(DecodeError):
    reason = "kms_unavailable"
    transient = True


class WrongEncryptionContext(DecodeError):
    """KMS refused the data key: wrong resource id, wrong key, or a blob that is not a KMS one."""

    reason = "wrong_encryption_context"


class CiphertextInvalid(DecodeError):
    """The Encryption SDK message is tampered with, truncated, or not one we accept."""

    reason = "ciphertext_invalid"


class UnsupportedShape(CiphertextInvalid):
    """A well-formed Encryption SDK message of a shape RDS does not send (non-framed, format 2).

    Never raised for an authentication failure: the native reader hands such a message to the
    Encryption SDK, which decides. Same ``reason`` as its base, so metrics and dead letters
    read the same whichever reader refused a record.
    """


class NotGzip(DecodeError):
    reason = "not_gzip"


class TooLarge(DecodeError):
    reason = "too_large"


class BadJson(DecodeError):
    """The decrypted payload is not the expected JSON document."""

    reason = "bad_json"


class KmsKeyUnusable(DecodeError):
    """KMS knows the key but will not use it: disabled, pending deletion, or gone.

    Permanent on purpose: an operator has to act (re-enable the key), and retrying a Kinesis
    batch until then would block the shard. The records go to the dead-letter queue, from which
    they can be replayed once the key is usable again.
    """

    reason = "kms_key_unusable"


class KmsError(DecodeError):
    """Any other KMS client error (a code dasalert does not map); 5xx is ``KmsUnavailable``."""

    reason = "kms_error"
