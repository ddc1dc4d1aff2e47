"""Output clients take their region as the data keys do: Lambda's AWS_REGION counts, and no
region at all is a configuration error naming the variable, not a botocore traceback."""

from __future__ import annotations

import pytest

from engine.outputs.routing import default_client_factory
from engine.pipeline.env import ConfigError


@pytest.fixture
def no_region(monkeypatch, tmp_path) -> None:
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_aws_region_alone_is_enough(no_region, monkeypatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    client = default_client_factory()("sns")
    assert client.meta.region_name == "eu-west-3"


def test_aws_default_region_is_read_too(no_region, monkeypatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert default_client_factory()("securityhub").meta.region_name == "ap-south-1"


def test_no_region_is_a_config_error_naming_the_variable(no_region) -> None:
    with pytest.raises(ConfigError) as err:
        default_client_factory()("sns")
    assert "AWS_REGION" in str(err.value)
