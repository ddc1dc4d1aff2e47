"""``dasalert publish RULES_DIR… s3://BUCKET/KEY``: lint, test, and upload a rule pack in one piece.

The function (``DASALERT_RULES=…:s3://BUCKET/KEY``) refuses a bundle whose rules do not all load
and keeps running the previous one, with a rule-load alert; this command refuses earlier, before
anything reaches S3: every lint finding (warnings too, as ``dasalert lint --strict``) and every
failing inline test stops it, printed. The upload is one PutObject of one bundle, which S3
applies atomically: a function reads the old pack or the new one, never a mix. ``--if-match``
makes it conditional on the ETag you last saw (S3 conditional writes), so two people publishing
at once cannot silently overwrite each other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import hashlib
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

NAME = "publish"
HELP = "lint, test and upload a rule pack to S3 for the function to load without a rebuild"
DESCRIPTION = (
    "Lint (warnings fail, as `dasalert lint --strict`) and test (`dasalert test`) the rule "
    "folders, then upload them as one bundle object to s3://BUCKET/KEY in one PutObject. "
    "Nothing is uploaded when a finding or a test fails. With --base, the folders the function "
    "loads before the bundle (e.g. the shipped pack) are linted and tested with it, not uploaded."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = "dasalert publish [options] RULES_DIR [RULES_DIR …] s3://BUCKET/KEY"
    parser.add_argument(
        "targets",
        nargs="+",
        metavar="RULES_DIR… s3://BUCKET/KEY",
        help="rule folders (layered in order, as in DASALERT_RULES), then the bundle's S3 object",
    )
    parser.add_argument(
        "--base",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the function loads before the bundle (e.g. rules, the shipped pack): "
        "checked with the bundle, not uploaded (repeatable)",
    )
    parser.add_argument(
        "--if-match",
        metavar="ETAG",
        help="upload only if the object's ETag is still this one (refuses a concurrent publish)",
    )
    parser.add_argument(
        "--if-absent",
        action="store_true",
        help="upload only if there is no object at the key yet",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="check and build the bundle, upload nothing"
    )
    parser.add_argument("--allow-warnings", action="store_true", help="lint warnings do not fail")
    parser.add_argument(
        "--published-by", metavar="WHO", help="recorded in the manifest (default: user@host)"
    )
    parser.add_argument(
        "--today", type=dt.date.fromisoformat, help="date for `expires` checks (YYYY-MM-DD)"
    )


def run(args: argparse.Namespace) -> int:
    from engine.rules.source import S3Location

    *folders, target = args.targets
    try:
        location = S3Location.parse(target)
    except ValueError as exc:
        return _fail(f"the last argument must be the bundle's S3 object: {exc}")
    if not folders:
        return _fail("name at least one rule folder before the S3 object")
    if args.if_match and args.if_absent:
        return _fail("--if-match and --if-absent exclude each other")
    paths = [*args.base, *folders]
    for path in paths:
        if not Path(path).exists():
            return _fail(f"{path} does not exist")

    checked = _check(paths, args)
    if checked is None:
        return 1
    rules, disabled = checked
    try:
        data = _build(folders, args)
        _verify(data, args.base, rules)
    except ValueError as exc:  # BundleError: a name or size the function would refuse
        return _fail(f"cannot bundle the pack: {exc}")
    digest = hashlib.sha256(data).hexdigest()
    print(
        f"bundle: {', '.join(folders)} → {len(data)} bytes, sha256 {digest[:16]}…; "
        f"the function will run {rules} rule(s)"
        + (f" ({disabled} disabled by tune)" if disabled else "")
        + (f", with {', '.join(args.base)} loaded first" if args.base else "")
    )
    if args.dry_run:
        print(f"dry run: nothing uploaded to {location}")
        return 0
    return _upload(location, data, digest, args)


def _fail(message: str) -> int:
    print(f"dasalert publish: {message}", file=sys.stderr)
    return 2


def _check(paths: list[str], args: argparse.Namespace) -> tuple[int, int] | None:
    """Lint and test; print every finding. (rules, disabled) when the pack may be published."""
    from engine.rules.lint.run import lint
    from engine.rules.testing.runner import run_tests

    today = args.today or dt.datetime.now(dt.UTC).date()
    report = lint(paths, today=today)
    for problem in report.problems:
        print(problem)
    print(f"lint: {report.summary()}")
    loaded = report.result
    lint_failed = bool(report.errors) or (bool(report.warnings) and not args.allow_warnings)
    if not loaded.rules:
        print(f"refused: no rule loads from {', '.join(paths)}; nothing uploaded", file=sys.stderr)
        return None
    tests = run_tests(
        loaded.rules,
        loaded.lists,
        loaded.params,
        problems=loaded.errors,
        warnings=report.warnings,  # the lint above: not a second pass
    )
    if not tests.ok:
        print(tests.render(verbose=False))
    print(f"test: {tests.summary()}")
    if lint_failed or not tests.ok:
        why = [
            *(["lint errors"] if report.errors else []),
            *(
                ["lint warnings (--allow-warnings to accept them)"]
                if report.warnings and not args.allow_warnings
                else []
            ),
            *(["failing tests"] if tests.failed or tests.coverage else []),
        ]
        print(f"refused: {' and '.join(why)}; nothing uploaded", file=sys.stderr)
        return None
    return len(loaded.rules), len(loaded.disabled)


def _build(folders: list[str], args: argparse.Namespace) -> bytes:
    from engine import __version__
    from engine.rules.source_bundle import build_bundle, layer_names, pack_files

    paths = [Path(f) for f in folders]
    layers = {name: pack_files(p) for name, p in zip(layer_names(paths), paths, strict=True)}
    by = args.published_by or f"{getpass.getuser()}@{socket.gethostname()}"
    return build_bundle(
        layers, version=__version__, published_by=by, published_at=dt.datetime.now(dt.UTC)
    )


def _verify(data: bytes, base: list[str], expected: int) -> None:
    """Read the bundle back as the function will (verify, extract, load after ``base``): what
    is uploaded is what was checked."""
    from engine.rules.lang.loader import load_rules
    from engine.rules.source_bundle import BundleError, read_bundle

    bundle = read_bundle(data)
    with tempfile.TemporaryDirectory(prefix="dasalert-publish-") as tmp:
        loaded = load_rules([*base, *bundle.extract(Path(tmp))])
        if loaded.errors or len(loaded.rules) != expected:
            raise BundleError(
                f"read back, the bundle loads {len(loaded.rules)} rule(s) with "
                f"{len(loaded.errors)} error(s), not the {expected} checked"
            )


def _upload(location: Any, data: bytes, digest: str, args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config as BotoConfig

    from engine import __version__
    from engine.outputs.aws_errors import classify

    kwargs: dict[str, Any] = {
        "Bucket": location.bucket,
        "Key": location.key,
        "Body": data,
        "ContentType": "application/gzip",
        "Metadata": {"dasalert-version": __version__, "dasalert-sha256": digest},
    }
    if args.if_match:
        kwargs["IfMatch"] = args.if_match
    if args.if_absent:
        kwargs["IfNoneMatch"] = "*"
    try:
        # a session of its own: the credentials of this environment now, not ones cached
        session = boto3.session.Session()
        retries = BotoConfig(retries={"mode": "standard", "max_attempts": 3})
        s3 = session.client("s3", config=retries)
        resp = s3.put_object(**kwargs)
    except Exception as exc:
        print(f"dasalert publish: not uploaded: {_explain(exc, location, args)}", file=sys.stderr)
        if classify(exc, "S3").retryable:
            print("  (a retry may work)", file=sys.stderr)
        return 1
    etag = resp.get("ETag", "")
    version = resp.get("VersionId")
    print(f"published {location}: ETag {etag}" + (f", version {version}" if version else ""))
    print(
        f"A function with DASALERT_RULES=…:{location} loads it at its next check "
        "(every DASALERT_RULES_REFRESH_MINUTES, default 5) or cold start; a pack that does not "
        "load there keeps the previous one running and raises the rule-load alert."
    )
    print(f"Next publish without overwriting someone else's: --if-match '{etag}'")
    return 0


def _explain(exc: BaseException, location: Any, args: argparse.Namespace) -> str:
    """A person's reading of the failure: what to fix, not a botocore class name."""
    from engine.outputs.aws_errors import classify

    name = type(exc).__name__
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return (
            "no AWS credentials found: configure a profile (AWS_PROFILE), environment "
            "variables or SSO (`aws sso login`), then run again"
        )
    if name == "NoRegionError":
        return "no AWS region: set AWS_REGION or a profile's region"
    failure = classify(exc, f"S3 PutObject {location}")
    code = failure.code
    if code == "NoSuchBucket":
        return f"bucket {location.bucket} does not exist ({failure.reason})"
    if code in ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return (
            f"access denied: your credentials may not s3:PutObject on "
            f"arn:aws:s3:::{location.bucket}/{location.key} ({failure.reason})"
        )
    if code == "PreconditionFailed" or failure.http_status == 412:
        if args.if_absent:
            return f"{location} already exists (--if-absent); nothing was overwritten"
        return (
            f"{location} is no longer at ETag {args.if_match}: someone published since; "
            "check what changed, then publish with the current ETag"
        )
    if code == "ConditionalRequestConflict" or failure.http_status == 409:
        return f"another write to {location} was in progress; publish again ({failure.reason})"
    return failure.reason
