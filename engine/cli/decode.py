"""``dasalert decode``: print the normalized events of captured DAS records, one JSON per line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from engine.cli._input import add_input_arguments, decoder_options, key_provider

NAME = "decode"
HELP = "decode DAS records (Kinesis/Firehose events or JSON lines) into normalized events"
DESCRIPTION = (
    "Decrypt Database Activity Stream records and print one normalized event per line as JSON "
    "(heartbeats omitted). Input: Kinesis Lambda events, Firehose transformation events, or JSON "
    "lines of raw record payloads; '-' reads standard input. Data keys come from AWS KMS (the "
    "standard boto3 credential chain and AWS_ENDPOINT_URL) unless --local-key is given. Errors go "
    "to standard error with the record's position; the exit code is 1 if any record failed."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_input_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from engine.das.decoder import Decoder
    from engine.das.keys import DataKeyProvider, KmsKeyProvider
    from engine.das.sources import iter_records_from_file

    err = sys.stderr
    keys: DataKeyProvider
    from botocore.exceptions import BotoCoreError

    try:
        keys = key_provider(args)
        if isinstance(keys, KmsKeyProvider):
            keys.client  # noqa: B018 - fail now on a missing region, not once per record
        decoder = Decoder(keys, default_resource_id=args.resource_id, **decoder_options(args))
    except (OSError, ValueError, BotoCoreError) as exc:
        print(f"dasalert decode: {exc}", file=err)
        return 2
    normalize = _normalizer()
    out = sys.stdout
    totals = {"records": 0, "events": 0, "heartbeats": 0, "failures": 0}
    for path in args.files:
        try:
            for rec in iter_records_from_file(path):
                _decode_one(decoder, rec, normalize, out, err, totals)
        except BrokenPipeError:
            raise
        except OSError as exc:
            print(f"{path}: cannot read: {exc.strerror or exc}", file=err)
            totals["failures"] += 1
    out.flush()
    print(
        "dasalert decode: {records} records, {events} events, {heartbeats} heartbeats, "
        "{failures} failures".format(**totals)
        + (f" (KMS calls: {keys.stats.kms_calls})" if isinstance(keys, KmsKeyProvider) else ""),
        file=err,
    )
    return 1 if totals["failures"] else 0


def _decode_one(
    decoder: Any, rec: Any, normalize: Any, out: TextIO, err: TextIO, totals: dict[str, int]
) -> None:
    from engine.das.errors import DecodeError

    totals["records"] += 1
    try:
        decoded = decoder.decode(rec)
    except DecodeError as exc:
        totals["failures"] += 1
        where = rec.position or rec.record_id
        if rec.record_id != where:
            where += f" (record {rec.record_id})"
        kind = "transient" if exc.transient else "permanent"
        print(f"{where}: {exc.reason} ({kind}): {exc.message}", file=err)
        return
    totals["heartbeats"] += decoded.heartbeats
    for raw in decoded.events:
        event = normalize(raw, cluster_id=decoded.cluster_id, instance_id=decoded.instance_id)
        out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        totals["events"] += 1


def _normalizer() -> Any:
    from engine.events import normalize

    return normalize
