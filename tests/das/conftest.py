"""Shared pieces for the decoder tests: keys made once, a KMS key on moto, scenario events."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from engine.das.keys import KmsKeyProvider, LocalKeyProvider

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
MASTER_KEY = bytes(range(32))
PG = "cluster-TESTPG4HNY5V4RRNPKKYB7ICF"
ORA = "db-TESTOR7AVLVCHCUTSHSLFPSBM7T"


def load_make_stream() -> Any:
    """``samples/make_stream.py`` as a module (it is a script, not a package)."""
    name = "dasalert_samples_make_stream"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SAMPLES / "make_stream.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@dataclass(frozen=True)
class EngineCase:
    engine: str
    resource_id: str
    cluster_id: str
    instance_id: str
    version: str
    events: list[dict[str, Any]]


def engine_cases() -> list[EngineCase]:
    """One case per engine, with the realistic events of the bundled scenario."""
    ms = load_make_stream()
    out = []
    for make in ms.STREAMS:
        s = make()
        out.append(
            EngineCase(
                s.engine,
                s.resource_id,
                s.cluster_id,
                s.instance_id,
                s.version,
                [e for _, e in s.events],
            )
        )
    return out


@pytest.fixture(scope="module")
def local_keys() -> LocalKeyProvider:
    return LocalKeyProvider(MASTER_KEY)


@dataclass
class Kms:
    client: Any
    key_id: str

    def provider(self, **kw: Any) -> KmsKeyProvider:
        return KmsKeyProvider(self.client, key_id=self.key_id, **kw)


@pytest.fixture
def kms(aws: str) -> Iterator[Kms]:
    """A fresh KMS key on the moto server (through AWS_ENDPOINT_URL, as in production)."""
    client = boto3.client("kms")
    key_id = client.create_key(Description="dasalert test")["KeyMetadata"]["KeyId"]
    yield Kms(client, key_id)
