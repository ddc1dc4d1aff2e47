"""The input options that ``decode``, ``run`` and ``eval`` share: captured files and data keys.

All three read the same captured files and decrypt them the same way, so the options are
declared once and mean the same thing in every command. (A leading underscore: not a command.)
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.das.keys import DataKeyProvider


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE…``, ``--local-key PATH`` and ``--resource-id ID``."""
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


def key_provider(args: argparse.Namespace) -> DataKeyProvider:
    """The local key of ``--local-key``, else AWS KMS (the standard boto3 chain)."""
    from engine.das.keys import KmsKeyProvider, LocalKeyProvider

    if args.local_key:
        return LocalKeyProvider.from_file(args.local_key)
    return KmsKeyProvider()
