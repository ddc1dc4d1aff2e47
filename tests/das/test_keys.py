"""Data-key providers: encryption context, KMS error mapping, local key files."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from engine.das.decoder import Decoder
from engine.das.encoder import Encoder
from engine.das.errors import (
    KmsAccessDenied,
    KmsError,
    KmsKeyUnusable,
    KmsThrottled,
    KmsUnavailable,
    WrongEncryptionContext,
)
from engine.das.keys import KmsKeyProvider, LocalKeyProvider, encryption_context, map_kms_error
from engine.das.records import RawRecord
from tests.das.conftest import MASTER_KEY, PG, Kms


def test_encryption_context_follows_the_resource_id() -> None:
    assert encryption_context("cluster-ABC") == {"aws:rds:dbc-id": "cluster-ABC"}
    assert encryption_context("db-ABC") == {"aws:rds:db-id": "db-ABC"}
    for bad in ("ABC", "Cluster-ABC", "", "dbc-ABC"):
        with pytest.raises(ValueError):
            encryption_context(bad)


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Decrypt",
    )


@pytest.mark.parametrize(
    ("code", "status", "error", "transient"),
    [
        ("AccessDeniedException", 400, KmsAccessDenied, False),
        ("ThrottlingException", 400, KmsThrottled, True),
        ("LimitExceededException", 400, KmsThrottled, True),
        ("KMSInternalException", 500, KmsUnavailable, True),
        ("DependencyTimeoutException", 503, KmsUnavailable, True),
        ("KeyUnavailableException", 500, KmsUnavailable, True),
        ("InvalidCiphertextException", 400, WrongEncryptionContext, False),
        ("IncorrectKeyException", 400, WrongEncryptionContext, False),
        ("DisabledException", 400, KmsKeyUnusable, False),
        ("KMSInvalidStateException", 400, KmsKeyUnusable, False),
        ("NotFoundException", 400, KmsKeyUnusable, False),
        ("SomethingNew", 400, KmsError, False),
        ("SomethingNew", 502, KmsUnavailable, True),
        ("SomethingNew", 429, KmsThrottled, True),
    ],
)
def test_kms_error_mapping(code: str, status: int, error: type, transient: bool) -> None:
    mapped = map_kms_error(_client_error(code, status))
    assert type(mapped) is error
    assert mapped.transient is transient
    assert code in mapped.message


def test_configuration_errors_are_typed() -> None:
    from botocore.exceptions import NoCredentialsError, NoRegionError

    assert type(map_kms_error(NoCredentialsError())) is KmsAccessDenied
    assert type(map_kms_error(NoRegionError())) is KmsError


def test_kms_access_denied_for_a_key_this_account_cannot_use(kms: Kms) -> None:
    """A blob from a key the caller cannot reach (here: another region) is AccessDenied."""
    other = boto3.client("kms", region_name="us-west-2")
    key_id = other.create_key()["KeyMetadata"]["KeyId"]
    data = Encoder(KmsKeyProvider(other, key_id=key_id), PG).encode(
        [], cluster_id=PG, instance_id="db-X"
    )
    with pytest.raises(KmsAccessDenied) as info:
        Decoder(kms.provider()).decode(RawRecord("x1", data, resource_id=PG))
    assert info.value.record_id == "x1"
    assert not info.value.transient


def test_kms_unreachable_is_unavailable(kms: Kms) -> None:
    data = Encoder(kms.provider(), PG).encode([], cluster_id=PG, instance_id="db-X")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = boto3.client(
        "kms",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1),
    )
    keys = KmsKeyProvider(client)
    with pytest.raises(KmsUnavailable) as info:
        Decoder(keys).decode(RawRecord("x2", data, resource_id=PG))
    assert info.value.transient
    assert keys.stats.kms_calls == 1 and keys.stats.hits == 0


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers: a KMS that hangs."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.05)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in conns:
        c.close()
    srv.close()


def test_kms_read_timeout_is_unavailable(kms: Kms, silent_server: int) -> None:
    data = Encoder(kms.provider(), PG).encode([], cluster_id=PG, instance_id="db-X")
    client = boto3.client(
        "kms",
        endpoint_url=f"http://127.0.0.1:{silent_server}",
        config=Config(retries={"mode": "standard", "max_attempts": 1}, read_timeout=0.3),
    )
    with pytest.raises(KmsUnavailable, match="ReadTimeout"):
        Decoder(KmsKeyProvider(client)).decode(RawRecord("x3", data, resource_id=PG))


def test_failures_are_not_cached(kms: Kms) -> None:
    data = Encoder(kms.provider(), PG).encode([], cluster_id=PG, instance_id="db-X")
    keys = kms.provider()
    dec = Decoder(keys)
    for _ in range(2):
        with pytest.raises(WrongEncryptionContext):
            dec.decode(RawRecord("r", data, resource_id="cluster-WRONG"))
    assert keys.stats.kms_calls == 2


def test_encrypt_key_needs_a_key_id(kms: Kms) -> None:
    with pytest.raises(ValueError, match="key_id"):
        KmsKeyProvider(kms.client).encrypt_key(b"k" * 32, PG)


@pytest.mark.parametrize(
    "content",
    [
        MASTER_KEY,
        MASTER_KEY.hex().encode(),
        MASTER_KEY.hex().upper().encode() + b"\n",
        base64.b64encode(MASTER_KEY) + b"\n",
    ],
    ids=["raw", "hex", "HEX-newline", "base64"],
)
def test_local_key_file_formats(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    blob = LocalKeyProvider(MASTER_KEY).encrypt_key(b"d" * 32, PG)
    assert LocalKeyProvider.from_file(path).plaintext_key(blob, PG) == b"d" * 32


@pytest.mark.parametrize("content", [b"", b"short", b"ab" * 33, b"!" * 44])
def test_local_key_file_rejects_other_content(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "k"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="32-byte"):
        LocalKeyProvider.from_file(path)


def test_local_provider_refuses_foreign_blobs() -> None:
    keys = LocalKeyProvider(MASTER_KEY)
    blob = keys.encrypt_key(b"d" * 32, PG)
    for bad in (b"", b"x" * 96, blob[:-1], blob + b"x", bytes([blob[0] ^ 1]) + blob[1:]):
        with pytest.raises(WrongEncryptionContext):
            keys.plaintext_key(bad, PG)
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(WrongEncryptionContext):
        keys.plaintext_key(flipped, PG)
    assert keys.stats.kms_calls == 0


def test_bundled_demo_key_loads() -> None:
    from tests.das.conftest import SAMPLES

    LocalKeyProvider.from_file(SAMPLES / "demo.key")


def test_kms_client_region_from_aws_region_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore reads only AWS_DEFAULT_REGION; a shell or Lambda with AWS_REGION must work."""
    from engine.das.keys import _kms_client

    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert _kms_client().meta.region_name == "eu-west-3"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert _kms_client().meta.region_name == "ap-south-1"
