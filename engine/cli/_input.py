"""The input options that ``decode``, ``run`` and ``eval`` share: captured files and data keys.

All three read the same captured files and decrypt them the same way, so the options are
declared once and mean the same thing in every command. (A leading underscore: not a command.)
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.das.keys import DataKeyProvider


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE…``, ``--local-key PATH``, ``--resource-id ID``, ``--message-reader`` and
    ``--[no-]verify-signature``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="input file, or - for stdin")
    parser.add_argument(
        "--local-key",
        metavar="PATH",
        help="decrypt data keys with this local 32-byte key file instead of AWS KMS",
    )
    parser.add_argument(
        "--resource-id",
        metavar="ID",
        help="cluster-… or db-… resource id, when the stream ARN does not give it",
    )
    parser.add_argument(
        "--message-reader",
        choices=("native", "esdk", "compare"),
        help="how the Encryption SDK message is opened: native (GCM-authenticated, the default), "
        "esdk (the AWS Encryption SDK, signature verified) or compare (both, the SDK's answer "
        "used); default: DASALERT_MESSAGE_READER, else native",
    )
    parser.add_argument(
        "--verify-signature",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="native reader: also verify the message's ECDSA signature; default: "
        "DASALERT_VERIFY_SIGNATURE, else no (docs/decoding.md says why)",
    )


def decoder_options(args: argparse.Namespace) -> dict[str, Any]:
    """``Decoder`` keyword arguments from the flags, else the Lambda's environment variables.

    ``ValueError`` for a wrong variable (the flags are checked by argparse).
    """
    from engine.pipeline.config import Config

    cfg = Config.from_env(
        {
            k: v
            for k, v in os.environ.items()
            if k in ("DASALERT_MESSAGE_READER", "DASALERT_VERIFY_SIGNATURE")
        }
    )
    reader = getattr(args, "message_reader", None) or cfg.message_reader
    verify = getattr(args, "verify_signature", None)
    return {
        "reader": reader,
        "verify_signature": cfg.verify_signature if verify is None else verify,
    }


def key_provider(args: argparse.Namespace) -> DataKeyProvider:
    """The local key of ``--local-key``, else AWS KMS (the standard boto3 chain)."""
    from engine.das.keys import KmsKeyProvider, LocalKeyProvider

    if args.local_key:
        return LocalKeyProvider.from_file(args.local_key)
    return KmsKeyProvider()
