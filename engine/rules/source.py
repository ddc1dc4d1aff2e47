"""Rules that change without a rebuild: ``DASALERT_RULES`` may name a bundle in S3.

``DASALERT_RULES=/var/task/rules:s3://bucket/rules/site.tar.gz`` layers folders and S3 bundles
in the order given, exactly as it layers folders (the shipped pack as the base, a site pack in S3
over it, adding rules, extending lists, tuning). ``LiveRules`` owns the engine of one Lambda
container:

* **cold start** — every bundle is fetched, verified (``source_bundle``) and extracted under
  /tmp, then the layers load as folders do. A bundle that cannot be fetched or read is a missing
  folder (``RulesUnavailable``: the invocation fails and Kinesis retries it), and rules that do
  not load are skipped and alerted as for a folder;
* **refresh** — at most every ``refresh_s`` seconds an invocation asks S3 for the object *unless*
  its ETag is the one running (a conditional GET: one request, a 304 and no body when nothing
  changed). A changed bundle is accepted only if it reads, verifies and loads with no error; else
  the running pack stays and ``problems`` carries the reason, which the pipeline raises as the
  rule-load alert (deduplicated per hour by its id). S3 unreachable keeps the running pack too.

Why in the invocation and not a thread: Lambda freezes a container between invocations, and an
environment serves one invocation at a time; the check costs a clock read on every other
invocation, and one small request every few minutes.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.pipeline.state import StateStore
from engine.rules.model import Problem
from engine.rules.source_bundle import MAX_BUNDLE_BYTES, Bundle, BundleError, read_bundle
from engine.rules.wiring import RulesUnavailable, Wired, build_engine

log = logging.getLogger("dasalert.rules.source")

S3_SCHEME = "s3://"
DEFAULT_REFRESH_S = 300


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, text: str) -> S3Location:
        """``s3://bucket/key`` → location; ``ValueError`` saying what is wrong."""
        if not text.startswith(S3_SCHEME):
            raise ValueError(f"{text!r} is not an s3:// location")
        bucket, _, key = text[len(S3_SCHEME) :].partition("/")
        if not bucket or not key or key.endswith("/"):
            raise ValueError(
                f"{text!r}: name the bundle object, s3://BUCKET/KEY (e.g. "
                "s3://my-bucket/dasalert/rules.tar.gz), not a bucket or a folder"
            )
        if os.pathsep in key:
            raise ValueError(f"{text!r}: the key may not contain {os.pathsep!r}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"{S3_SCHEME}{self.bucket}/{self.key}"


Source = Path | S3Location


def split_sources(spec: str | Path | Iterable[str | Path]) -> list[Source]:
    """The layers of ``DASALERT_RULES`` in order: folders and S3 bundles. The variable is
    ``os.pathsep``-separated, and ``:`` is also the scheme's separator, so ``s3`` followed by a
    part starting with ``//`` is one location, not two folders."""
    items = [spec] if isinstance(spec, str | Path) else list(spec)
    out: list[Source] = []
    for item in items:
        if isinstance(item, Path):
            out.append(item)
            continue
        parts = [p for p in str(item).split(os.pathsep) if p]
        i = 0
        while i < len(parts):
            part = parts[i]
            rejoin = os.pathsep == ":" and part == "s3" and i + 1 < len(parts)
            if rejoin and parts[i + 1].startswith("//"):
                part, i = f"s3:{parts[i + 1]}", i + 1
            out.append(S3Location.parse(part) if part.startswith(S3_SCHEME) else Path(part))
            i += 1
    return out


def has_s3(spec: str | Path | Iterable[str | Path]) -> bool:
    return any(isinstance(s, S3Location) for s in split_sources(spec))


class FetchError(Exception):
    """S3 did not give us the object (unreachable, access denied, no such key); says why."""


@dataclass(frozen=True)
class Fetched:
    etag: str
    data: bytes | None  # None: not modified since the ETag we asked with


def fetch(client: Any, location: S3Location, if_none_match: str | None = None) -> Fetched:
    """One conditional GET of the bundle, its size capped before the body is read."""
    from engine.outputs.aws_errors import classify

    kwargs: dict[str, Any] = {"Bucket": location.bucket, "Key": location.key}
    if if_none_match:
        kwargs["IfNoneMatch"] = if_none_match
    try:
        resp = client.get_object(**kwargs)
    except Exception as exc:
        meta = getattr(exc, "response", {}) or {}
        status = (meta.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        code = str((meta.get("Error") or {}).get("Code") or "")
        if if_none_match and (status == 304 or code in ("304", "NotModified")):
            return Fetched(if_none_match, None)
        raise FetchError(classify(exc, f"S3 GetObject {location}").reason) from exc
    body = resp["Body"]
    try:
        length = int(resp.get("ContentLength") or 0)
        if length > MAX_BUNDLE_BYTES:
            raise FetchError(f"{location} is {length} bytes, more than {MAX_BUNDLE_BYTES}")
        try:
            data = body.read(MAX_BUNDLE_BYTES + 1)
        except Exception as exc:  # the connection dropped mid-body
            raise FetchError(f"S3 GetObject {location}: {type(exc).__name__}") from exc
    finally:
        body.close()
    if len(data) > MAX_BUNDLE_BYTES:
        raise FetchError(f"{location} is larger than {MAX_BUNDLE_BYTES} bytes")
    return Fetched(str(resp.get("ETag") or ""), data)


@dataclass
class _Pack:
    """One S3 layer: what runs (``etag``, ``dirs``) and what was last seen there."""

    location: S3Location
    etag: str | None = None  # of the bundle that runs
    dirs: list[Path] = field(default_factory=list)
    workdir: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    rejected: tuple[str, list[Problem]] | None = None  # (etag, why) of a bundle refused


class LiveRules:
    """The engine of one container, built from folders and S3 bundles, refreshed in place.

    ``wired`` is the running engine; ``problems`` what the pipeline alerts on: the error-level
    problems of the running pack, plus why the last refresh kept it (a bundle that did not
    load, S3 unreachable). ``clock`` is monotonic seconds (injected by tests).
    """

    def __init__(
        self,
        spec: str | Path | Iterable[str | Path],
        state: StateStore,
        *,
        client: Callable[[], Any] | None = None,
        refresh_s: float = DEFAULT_REFRESH_S,
        keep_params: bool = False,
        clock: Callable[[], float] | None = None,
        workdir: str | Path | None = None,
    ) -> None:
        import time

        self.sources = split_sources(spec)
        self.state = state
        self._client_factory = client
        self._client: Any = None
        self.refresh_s = refresh_s
        self.keep_params = keep_params
        self.clock = clock or time.monotonic
        self.workdir = Path(workdir) if workdir else None
        self.packs = {s: _Pack(s) for s in self.sources if isinstance(s, S3Location)}
        self.wired: Wired | None = None
        self.load_problems: list[Problem] = []
        self.refresh_problems: list[Problem] = []
        self.next_check = 0.0
        self.reloads = 0

    @property
    def problems(self) -> list[Problem]:
        return self.load_problems + self.refresh_problems

    @property
    def refreshes(self) -> bool:
        return bool(self.packs)

    def client(self) -> Any:
        if self._client is None:
            if self._client_factory is None:
                raise FetchError("no S3 client configured")
            self._client = self._client_factory()
        return self._client

    # -- cold start ------------------------------------------------------------------------
    def start(self) -> Wired:
        """Fetch every bundle and build the first engine; ``RulesUnavailable`` when a layer
        cannot be had (a folder missing, a bundle unreachable or unreadable) or nothing loads."""
        for pack in self.packs.values():
            try:
                got = fetch(self.client(), pack.location)
                assert got.data is not None
                bundle = read_bundle(got.data)
            except (FetchError, BundleError) as exc:
                raise RulesUnavailable(f"{pack.location}: {exc}") from exc
            pack.etag, pack.manifest = got.etag, bundle.manifest
            pack.workdir, pack.dirs = self._extract(bundle)
        wired = build_engine(self._paths(), self.state, keep_params=self.keep_params)
        self.wired = wired
        self.load_problems = self._shown(wired.loaded.errors)
        self.next_check = self.clock() + self.refresh_s
        for pack in self.packs.values():
            log.info("rule pack %s loaded: %s", pack.location, _describe(pack))
        return wired

    # -- refresh ---------------------------------------------------------------------------
    def due(self) -> bool:
        return bool(self.packs) and self.clock() >= self.next_check

    def refresh(self) -> bool:
        """Check the bundles if the interval has passed; True when a new engine runs."""
        if not self.due():
            return False
        self.next_check = self.clock() + self.refresh_s
        problems: list[Problem] = []
        changed: dict[S3Location, tuple[str, Bundle]] = {}
        for loc, pack in self.packs.items():
            seen = pack.rejected[0] if pack.rejected else pack.etag
            try:
                got = fetch(self.client(), loc, seen)
            except FetchError as exc:
                log.warning("rule pack %s not refreshed: %s", loc, exc)
                problems.append(self._kept(pack, f"could not be checked: {exc}"))
                continue
            if got.data is None or got.etag == pack.etag:
                if got.data is None and pack.rejected:  # still the bundle we refused
                    problems += pack.rejected[1]
                else:
                    pack.rejected = None
                continue
            try:
                changed[loc] = (got.etag, read_bundle(got.data))
            except BundleError as exc:
                why = [self._kept(pack, f"ETag {got.etag} is not a usable bundle: {exc}")]
                pack.rejected = (got.etag, why)
                problems += why
        swapped = False
        if changed:
            refused = self._swap(changed)
            swapped = not refused
            problems += refused
        self.refresh_problems = problems
        return swapped

    def _swap(self, changed: dict[S3Location, tuple[str, Bundle]]) -> list[Problem]:
        """Build the engine with the new bundles and keep it only if every rule loaded; the
        problems of a refused pack (empty when the new engine runs)."""
        staged: dict[S3Location, tuple[Path, list[Path]]] = {}
        try:
            for loc, (_, bundle) in changed.items():
                staged[loc] = self._extract(bundle)
        except BundleError as exc:  # /tmp full or unwritable: the running pack stays
            for root, _ in staged.values():
                shutil.rmtree(root, ignore_errors=True)
            return [self._kept(self.packs[loc], str(exc)) for loc in changed]
        paths: list[Path] = []
        for src in self.sources:
            if isinstance(src, S3Location):
                paths += staged[src][1] if src in staged else self.packs[src].dirs
            else:
                paths.append(src)
        try:
            wired = build_engine(paths, self.state, keep_params=self.keep_params)
            errors = wired.loaded.errors
        except RulesUnavailable as exc:
            wired, errors = None, [Problem("", None, None, str(exc))]
        if wired is None or errors:
            out: list[Problem] = []
            for loc, (etag, _) in changed.items():
                pack = self.packs[loc]
                why = [
                    self._kept(pack, f"ETag {etag} has {len(errors)} rule error(s)"),
                    *self._shown(errors, {loc: staged[loc][0]})[:10],
                ]
                pack.rejected = (etag, why)
                out += why
                shutil.rmtree(staged[loc][0], ignore_errors=True)
            log.error("rule pack not reloaded: %d error(s); the running pack stays", len(errors))
            return out
        for loc, (etag, bundle) in changed.items():
            pack = self.packs[loc]
            old = pack.workdir
            pack.etag, pack.manifest, pack.rejected = etag, bundle.manifest, None
            pack.workdir, pack.dirs = staged[loc]
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            log.info("rule pack %s reloaded: %s", loc, _describe(pack))
        self.wired = wired
        self.load_problems = []
        self.reloads += 1
        return []

    # -- helpers ---------------------------------------------------------------------------
    def _paths(self) -> list[Path]:
        out: list[Path] = []
        for src in self.sources:
            out += self.packs[src].dirs if isinstance(src, S3Location) else [src]
        return out

    def _extract(self, bundle: Bundle) -> tuple[Path, list[Path]]:
        root: Path | None = None
        try:
            root = Path(tempfile.mkdtemp(prefix="dasalert-rules-", dir=self.workdir))
            return root, bundle.extract(root)
        except OSError as exc:
            if root is not None:
                shutil.rmtree(root, ignore_errors=True)
            raise BundleError(f"cannot extract the bundle: {exc}") from exc

    def _kept(self, pack: _Pack, why: str) -> Problem:
        running = f"ETag {pack.etag}" if pack.etag else "the previous pack"
        return Problem(
            str(pack.location),
            None,
            None,
            f"rule pack {why}; the pack of {running} keeps running",
            "publish a pack that passes `dasalert publish` (it lints and tests before "
            "uploading), or publish the previous one again",
        )

    def _shown(
        self, problems: Iterable[Problem], extra: dict[S3Location, Path] | None = None
    ) -> list[Problem]:
        """Problems with extracted paths named as ``s3://bucket/key#layer/file``."""
        roots = {p.location: p.workdir for p in self.packs.values() if p.workdir}
        roots.update(extra or {})
        out = []
        for problem in problems:
            for loc, root in roots.items():
                prefix = f"{root / 'layers'}{os.sep}"
                if problem.file.startswith(prefix):
                    rel = problem.file[len(prefix) :].replace(os.sep, "/")
                    problem = dataclasses.replace(problem, file=f"{loc}#{rel}")
                    break
            out.append(problem)
        return out


def _describe(pack: _Pack) -> str:
    m = pack.manifest
    return (
        f"ETag {pack.etag}, published by {m.get('published_by', '?')} at "
        f"{m.get('published_at', '?')} with dasalert {m.get('dasalert_version', '?')}"
    )
