"""Data-key providers: turn the envelope's ``key`` blob into the 32-byte AES wrapping key.

RDS encrypts each data key with the customer's KMS key under an encryption context that names the
database resource. Consecutive records reuse one data key, so the plaintext is cached by
(blob, resource id): a hit costs a dict lookup instead of a KMS round trip (and a KMS request fee).
The resource id is part of the cache key so a record carrying a known blob under the *wrong*
resource id still goes to KMS and fails exactly as it would without the cache.

Transient failures are remembered too, briefly (a negative cache). When KMS throttles, every
record of a batch that shares the data key would otherwise ask again, each time with botocore's
own retries and backoff: 40 records of one key took two minutes, past the Lambda timeout, and a
timeout loses the partial-batch response. So a throttled or unreachable answer for a key is kept
for ``negative_ttl_s`` and the key's other records fail at once with the same transient error; and
all keys share a failure budget — after ``failure_budget`` transient failures in that window
KMS is not called at all, so a batch of many keys during an outage also returns quickly. Either
way the records come back as transient and Lambda redelivers them later.

``LocalKeyProvider`` does the same job with a key file instead of KMS, for the bundled demo and
for offline tests; it binds the wrapped key to the same encryption context, so a wrong resource id
fails with the same error as KMS would give.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.das.errors import (
    DecodeError,
    KmsAccessDenied,
    KmsError,
    KmsKeyUnusable,
    KmsThrottled,
    KmsUnavailable,
    WrongEncryptionContext,
)

DATA_KEY_BYTES = 32

CLUSTER_CONTEXT_KEY = "aws:rds:dbc-id"
INSTANCE_CONTEXT_KEY = "aws:rds:db-id"


def encryption_context(resource_id: str) -> dict[str, str]:
    """The KMS encryption context RDS uses for ``resource_id``.

    Aurora streams are per cluster (``cluster-…`` → ``aws:rds:dbc-id``); RDS for Oracle and SQL
    Server streams are per instance (``db-…`` → ``aws:rds:db-id``). Any other id cannot be right,
    so it is refused here rather than producing a context that KMS will reject later.
    """
    if resource_id.startswith("cluster-"):
        return {CLUSTER_CONTEXT_KEY: resource_id}
    if resource_id.startswith("db-"):
        return {INSTANCE_CONTEXT_KEY: resource_id}
    raise ValueError(f"resource id {resource_id!r} starts with neither 'cluster-' nor 'db-'")


@dataclass(slots=True)
class KeyStats:
    """Counters for metrics and the benchmark: how well the cache works, what KMS costs."""

    hits: int = 0
    misses: int = 0
    kms_calls: int = 0
    negative_hits: int = 0  # records failed from a remembered transient failure, KMS not called


NEGATIVE_TTL_S = 20.0
FAILURE_BUDGET = 2


class DataKeyProvider(ABC):
    """Unwraps (and, for the encoder, wraps) data keys, with a bounded LRU cache of plaintexts."""

    def __init__(
        self,
        *,
        cache_size: int = 1024,
        negative_ttl_s: float = NEGATIVE_TTL_S,
        failure_budget: int = FAILURE_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        if failure_budget < 1:
            raise ValueError("failure_budget must be >= 1")
        self.stats = KeyStats()
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[bytes, str], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._negative_ttl_s = negative_ttl_s
        self._failure_budget = failure_budget
        self._clock = clock
        # (blob, resource id) -> (the transient error, when it stops being remembered)
        self._failures: dict[tuple[bytes, str], tuple[DecodeError, float]] = {}

    def _remembered_failure(self, cache_key: tuple[bytes, str]) -> DecodeError | None:
        """A transient failure to repeat without calling KMS, or None (call KMS).

        Caller holds the lock. Expired entries are dropped first; then the key's own failure
        wins, and once the shared budget is spent any key gets the newest failure.
        """
        now = self._clock()
        for k in [k for k, (_, until) in self._failures.items() if until <= now]:
            del self._failures[k]
        hit = self._failures.get(cache_key)
        if hit is not None:
            return hit[0]
        if len(self._failures) >= self._failure_budget:
            newest = max(self._failures.values(), key=lambda v: v[1])[0]
            return type(newest)(
                f"{newest.message} (KMS not called: {len(self._failures)} data keys failed "
                f"transiently in the last {self._negative_ttl_s:g} s)"
            )
        return None

    def plaintext_key(self, blob: bytes, resource_id: str) -> bytes:
        """The 32-byte data key for ``blob`` under ``resource_id``'s encryption context.

        Raises a ``DecodeError`` subclass. A transient failure (throttled, unavailable) is
        remembered for ``negative_ttl_s`` and raised again for the same key without a KMS call;
        permanent failures are not remembered (they cost one call and dead-letter the record).
        """
        cache_key = (blob, resource_id)
        with self._lock:
            key = self._cache.get(cache_key)
            if key is not None:
                self._cache.move_to_end(cache_key)
                self.stats.hits += 1
                return key
            self.stats.misses += 1
            remembered = self._remembered_failure(cache_key)
            if remembered is not None:
                self.stats.negative_hits += 1
                raise remembered
        try:
            key = self._unwrap(blob, resource_id)
        except DecodeError as exc:
            if exc.transient and self._negative_ttl_s > 0:
                with self._lock:
                    self._failures[cache_key] = (exc, self._clock() + self._negative_ttl_s)
            raise
        if len(key) != DATA_KEY_BYTES:
            raise WrongEncryptionContext(
                f"the data key is {len(key)} bytes, expected {DATA_KEY_BYTES}"
            )
        if self._cache_size:
            with self._lock:
                self._cache[cache_key] = key
                self._cache.move_to_end(cache_key)
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return key

    @abstractmethod
    def _unwrap(self, blob: bytes, resource_id: str) -> bytes:
        """Decrypt ``blob`` for real (the cache missed)."""

    @abstractmethod
    def encrypt_key(self, plaintext: bytes, resource_id: str) -> bytes:
        """Wrap a data key as RDS would (for the encoder: tests, demo, benchmarks)."""


# --- KMS ------------------------------------------------------------------------------------

_THROTTLED = {"ThrottlingException", "LimitExceededException", "TooManyRequestsException"}
_UNAVAILABLE = {
    "KMSInternalException",
    "DependencyTimeoutException",
    "KeyUnavailableException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "RequestTimeout",
    "RequestTimeoutException",
}
# The function's credentials expired or its clock is off: the next invocation gets fresh role
# credentials (or a synced clock), so these are transient, not a reason to dead-letter records.
_CREDENTIALS_EXPIRED = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "RequestTimeTooSkewed",
}
_DENIED = {
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "IncompleteSignature",
}
_WRONG_CONTEXT = {"InvalidCiphertextException", "IncorrectKeyException"}
_UNUSABLE = {
    "DisabledException",
    "KMSInvalidStateException",
    "NotFoundException",
    "InvalidKeyUsageException",
    "KMSInvalidKeyUsageException",
}


def _kms_client() -> Any:
    """A KMS client from the standard boto3 chain (honours ``AWS_ENDPOINT_URL``).

    Short timeouts and the standard retry mode: a Lambda has seconds, not minutes, and botocore
    already retries throttling with backoff before we see ``ThrottlingException``.
    """
    import os

    import boto3
    from botocore.config import Config

    # botocore reads AWS_DEFAULT_REGION only; Lambda and most people also set AWS_REGION.
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None
    return boto3.client(
        "kms",
        region_name=region,
        config=Config(
            connect_timeout=3,
            read_timeout=5,
            retries={"mode": "standard", "max_attempts": 3},
        ),
    )


def map_kms_error(exc: Exception) -> DecodeError:
    """Translate a botocore failure into the typed error that says whether to retry."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        msg = f"KMS Decrypt: {code}"
        if err.get("Message"):
            msg += f": {err['Message']}"
        if code in _THROTTLED:
            return KmsThrottled(msg)
        if code in _UNAVAILABLE:
            return KmsUnavailable(msg)
        if code in _CREDENTIALS_EXPIRED:
            return KmsUnavailable(msg + " (credentials expired or clock skew: retried)")
        if code in _DENIED:
            return KmsAccessDenied(msg)
        if code in _WRONG_CONTEXT:
            return WrongEncryptionContext(
                msg
                + " (wrong resource id / encryption context, wrong KMS key, or a corrupt key blob)"
            )
        if code in _UNUSABLE:
            return KmsKeyUnusable(msg)
        if status >= 500:
            return KmsUnavailable(msg)
        if status == 429:
            return KmsThrottled(msg)
        return KmsError(msg)
    if isinstance(exc, NoCredentialsError):
        return KmsAccessDenied(f"KMS Decrypt: {exc}")
    if isinstance(exc, NoRegionError):
        return KmsError(
            f"KMS Decrypt: {exc} (set AWS_REGION or AWS_DEFAULT_REGION, or use --local-key "
            "for records made with a local key)"
        )
    if isinstance(
        exc, (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError, ConnectionClosedError)
    ):
        return KmsUnavailable(f"KMS Decrypt: {type(exc).__name__}: {exc}")
    return KmsUnavailable(f"KMS Decrypt: {type(exc).__name__}: {exc}")


class KmsKeyProvider(DataKeyProvider):
    """Data keys through AWS KMS, as in production.

    ``key_id`` is only needed to *encrypt* (the encoder); decryption takes the key from the blob,
    exactly as RDS consumers do. The client is created lazily from the default chain when none is
    given, so importing this module never touches the network or the environment.
    """

    def __init__(
        self,
        kms_client: Any = None,
        *,
        cache_size: int = 1024,
        key_id: str | None = None,
        negative_ttl_s: float = NEGATIVE_TTL_S,
        failure_budget: int = FAILURE_BUDGET,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            cache_size=cache_size,
            negative_ttl_s=negative_ttl_s,
            failure_budget=failure_budget,
            clock=clock,
        )
        self._client = kms_client
        self.key_id = key_id

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _kms_client()
        return self._client

    def _unwrap(self, blob: bytes, resource_id: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        context = encryption_context(resource_id)
        self.stats.kms_calls += 1
        try:
            client = self.client  # created on first use: may fail on configuration
            resp = client.decrypt(CiphertextBlob=blob, EncryptionContext=context)
        except (ClientError, BotoCoreError) as exc:
            raise map_kms_error(exc) from exc
        return resp["Plaintext"]

    def encrypt_key(self, plaintext: bytes, resource_id: str) -> bytes:
        if not self.key_id:
            raise ValueError("KmsKeyProvider needs key_id= to encrypt data keys")
        self.stats.kms_calls += 1
        resp = self.client.encrypt(
            KeyId=self.key_id,
            Plaintext=plaintext,
            EncryptionContext=encryption_context(resource_id),
        )
        return resp["CiphertextBlob"]


# --- local key file -------------------------------------------------------------------------

_LOCAL_MAGIC = b"DASL"
_LOCAL_VERSION = 1
_LOCAL_HEADER = _LOCAL_MAGIC + bytes([_LOCAL_VERSION])
_LOCAL_IV = 12
_LOCAL_BLOB_LEN = len(_LOCAL_HEADER) + _LOCAL_IV + DATA_KEY_BYTES + 16


def _context_aad(resource_id: str) -> bytes:
    return json.dumps(
        encryption_context(resource_id), sort_keys=True, separators=(",", ":")
    ).encode()


def parse_key_material(raw: bytes) -> bytes:
    """A 32-byte key from a key file's content: raw bytes, hex text or base64 text."""
    if len(raw) == DATA_KEY_BYTES:
        return raw
    text = raw.strip()
    if len(text) == 2 * DATA_KEY_BYTES:
        try:
            return bytes.fromhex(text.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            pass
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) == DATA_KEY_BYTES:
        return key
    raise ValueError(
        f"a key file must hold a 32-byte key as raw bytes, 64 hex digits or base64 "
        f"(got {len(raw)} bytes)"
    )


class LocalKeyProvider(DataKeyProvider):
    """Data keys wrapped by a local 32-byte master key (AES-256-GCM, encryption context as AAD).

    Blob layout: ``b"DASL" 0x01 | IV (12) | wrapped key (32) | tag (16)``. Any failure (foreign
    blob, wrong master key, wrong resource id) is ``WrongEncryptionContext``, as KMS answers
    ``InvalidCiphertextException`` for all three.
    """

    def __init__(self, key: bytes, *, cache_size: int = 1024) -> None:
        super().__init__(cache_size=cache_size)
        if len(key) != DATA_KEY_BYTES:
            raise ValueError(f"the local master key must be {DATA_KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, cache_size: int = 1024) -> LocalKeyProvider:
        return cls(parse_key_material(Path(path).read_bytes()), cache_size=cache_size)

    def _unwrap(self, blob: bytes, resource_id: str) -> bytes:
        if len(blob) != _LOCAL_BLOB_LEN or not blob.startswith(_LOCAL_HEADER):
            raise WrongEncryptionContext(
                "the key blob is not a dasalert local-key blob (a KMS blob needs the KMS provider)"
            )
        iv = blob[len(_LOCAL_HEADER) : len(_LOCAL_HEADER) + _LOCAL_IV]
        try:
            return self._aead.decrypt(
                iv, blob[len(_LOCAL_HEADER) + _LOCAL_IV :], _context_aad(resource_id)
            )
        except InvalidTag:
            raise WrongEncryptionContext(
                f"the local key does not open this data key for resource id {resource_id!r} "
                "(wrong resource id / encryption context, or a different key file)"
            ) from None

    def encrypt_key(self, plaintext: bytes, resource_id: str) -> bytes:
        if len(plaintext) != DATA_KEY_BYTES:
            raise ValueError(f"data keys are {DATA_KEY_BYTES} bytes")
        iv = os.urandom(_LOCAL_IV)
        return _LOCAL_HEADER + iv + self._aead.encrypt(iv, plaintext, _context_aad(resource_id))
