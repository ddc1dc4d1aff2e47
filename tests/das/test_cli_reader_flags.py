"""``--message-reader`` / ``--[no-]verify-signature`` on decode, eval and run, their environment
fallbacks (``DASALERT_MESSAGE_READER``, ``DASALERT_VERIFY_SIGNATURE``), and the Lambda runtime's
decoder built from the same variables."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.das.encoder import Encoder
from engine.das.keys import LocalKeyProvider
from engine.das.message import Mode
from tests.das.conftest import ROOT, SAMPLES

DEMO_KEY = SAMPLES / "demo.key"
PG = "cluster-DEMOPG4HNY5V4RRNPKKYB7ICFKE"
EVENT = {
    "type": "record",
    "class": "READ",
    "command": "SELECT",
    "dbUserName": "app",
    "serverType": "PostgreSQL",
    "logTime": "2026-11-20 09:00:00.000+00",
}


@pytest.fixture(scope="module")
def footer_swapped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One record whose signature belongs to another message: every GCM tag still verifies."""
    enc = Encoder(LocalKeyProvider.from_file(DEMO_KEY), PG)
    a, b = (json.loads(enc.encode([EVENT], cluster_id=PG, instance_id="db-X")) for _ in "ab")
    ma, mb = (base64.b64decode(d["databaseActivityEvents"]) for d in (a, b))
    a["databaseActivityEvents"] = base64.b64encode(ma[:-105] + mb[-105:]).decode()  # 103-byte sig
    path = tmp_path_factory.mktemp("reader") / "footer.jsonl"
    path.write_text(json.dumps(a) + "\n")
    return path


@pytest.mark.parametrize("command", ["decode", "eval", "run"])
@pytest.mark.parametrize(
    ("flags", "env", "code"),
    [
        ([], {}, 0),  # native, GCM only: the genuine event
        (["--message-reader", "esdk"], {}, 1),
        (["--verify-signature"], {}, 1),
        (["--message-reader", "compare"], {}, 1),  # the SDK's answer is used
        ([], {"DASALERT_MESSAGE_READER": "esdk"}, 1),
        ([], {"DASALERT_VERIFY_SIGNATURE": "true"}, 1),
        (["--message-reader", "native"], {"DASALERT_MESSAGE_READER": "esdk"}, 0),
        (["--no-verify-signature"], {"DASALERT_VERIFY_SIGNATURE": "true"}, 0),
    ],
)
def test_reader_flags(
    command: str,
    flags: list[str],
    env: dict[str, str],
    code: int,
    footer_swapped: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("DASALERT_MESSAGE_READER", raising=False)
    monkeypatch.delenv("DASALERT_VERIFY_SIGNATURE", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    args = [command, str(footer_swapped), "--local-key", str(DEMO_KEY), "--resource-id", PG]
    if command != "decode":
        args += ["--rules", str(ROOT / "rules")]
    assert main([*args, *flags]) == code
    err = capsys.readouterr().err
    assert ("ciphertext_invalid" in err) == (code == 1)


def test_a_wrong_reader_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["decode", "x", "--message-reader", "fast"])
    assert info.value.code == 2
    assert "--message-reader" in capsys.readouterr().err


def test_the_lambda_runtime_reads_both_variables() -> None:
    from handlers import _runtime

    env = {
        "DASALERT_RULES": str(ROOT / "rules"),
        "DASALERT_MESSAGE_READER": "compare",
        "DASALERT_VERIFY_SIGNATURE": "yes",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    rt = _runtime.build(_runtime.KINESIS, env)
    messages = rt.pipeline.decoder.messages
    assert (messages.mode, messages.verify_signature) == (Mode.COMPARE, True)
    default = _runtime.build(_runtime.KINESIS, {k: env[k] for k in ("DASALERT_RULES",)})
    assert default.pipeline.decoder.messages.mode is Mode.NATIVE
    assert default.pipeline.decoder.messages.verify_signature is False
