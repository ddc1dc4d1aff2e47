"""A rule pack as one object: the bundle ``dasalert publish`` uploads and the function reads.

Why one object: S3 replaces an object in a single PutObject, so a function reading the pack sees
the old bundle or the new one, never half of each (a folder of objects, synced file by file,
would let a cold start read new rules against old lists). The bundle is a gzip'd tar holding:

* ``manifest.json`` — format, dasalert version, who published it and when, the layers in order
  and, for every file, its size and SHA-256;
* ``layers/<nn>-<name>/…`` — each published folder as it was on disk (rules, ``lists.yaml``,
  ``tune:`` files, runbooks). Several folders keep their order, so the loader layers them as it
  layers ``DASALERT_RULES=a:b``: later folders add rules, extend lists and tune earlier ones.

The function treats a bundle as untrusted-ish input (anyone with PutObject on the key can write
it): reading it never touches the file system until every check passed. Decompression is capped,
only regular files with plain relative names are accepted (no absolute path, no ``..``, no link,
device or directory entry that could aim a write elsewhere), counts and sizes are capped, and
every file must match the manifest's hash and every manifest entry must be present.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import tarfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = "dasalert-rules/1"
MANIFEST = "manifest.json"
LAYERS = "layers"
MAX_BUNDLE_BYTES = 8 * 1024 * 1024  # compressed object
MAX_UNPACKED_BYTES = 32 * 1024 * 1024  # the tar after gunzip
MAX_FILE_BYTES = 1_000_000  # the loader's own cap on a rule file
MAX_FILES = 2000
MAX_DEPTH = 8
_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=@,-]{0,127}$")
_SKIP_DIRS = {"__pycache__", "node_modules"}


class BundleError(ValueError):
    """The object is not a rule bundle this version can read safely; the message says why."""


@dataclass(frozen=True)
class Bundle:
    """A read, verified bundle: the manifest and each layer's files (relative path → bytes)."""

    manifest: dict[str, Any]
    layers: list[tuple[str, dict[str, bytes]]] = field(default_factory=list)

    @property
    def file_count(self) -> int:
        return sum(len(files) for _, files in self.layers)

    def extract(self, dest: Path) -> list[Path]:
        """Write the layers under ``dest`` (a fresh, empty directory); the layer folders in
        order, ready for the loader. Names were checked when the bundle was read."""
        out = []
        for name, files in self.layers:
            root = dest / LAYERS / name
            root.mkdir(parents=True, exist_ok=True)
            for rel, data in files.items():
                target = root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            out.append(root)
        return out


def safe_name(name: str) -> PurePosixPath:
    """``name`` as a relative path of plain parts, or ``BundleError``: the one gate every path
    inside a bundle passes (on publish and on read)."""
    if "\\" in name or "\x00" in name:
        raise BundleError(f"unsafe path in bundle: {name!r}")
    path = PurePosixPath(name)
    parts = path.parts
    if str(path) != name or not parts or path.is_absolute() or len(parts) > MAX_DEPTH:
        raise BundleError(f"unsafe path in bundle: {name!r}")
    for part in parts:
        if part in (".", "..") or not _NAME_PART.match(part):
            raise BundleError(f"unsafe path in bundle: {name!r}")
    return path


# -- publishing --------------------------------------------------------------------------------


def pack_files(folder: Path) -> dict[str, bytes]:
    """Every regular file under ``folder`` that ships with a pack (hidden files and caches
    left out), by relative POSIX path. ``BundleError`` when a name or size is not publishable,
    so ``publish`` refuses what the function would refuse."""
    if folder.is_file():
        return {folder.name: _read_capped(folder)}
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(p.startswith(".") or p in _SKIP_DIRS for p in rel.parts) or not path.is_file():
            continue
        name = rel.as_posix()
        safe_name(name)
        files[name] = _read_capped(path)
    return files


def _read_capped(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise BundleError(f"{path}: {size} bytes, more than {MAX_FILE_BYTES} a rule pack allows")
    return path.read_bytes()


def layer_names(folders: Iterable[Path]) -> list[str]:
    """``00-rules``, ``01-site-rules``…: the order is the prefix, the name is for people."""
    out = []
    for i, folder in enumerate(folders):
        base = re.sub(r"[^A-Za-z0-9._-]", "-", folder.resolve().name or "pack").strip(".-")
        out.append(f"{i:02d}-{base or 'pack'}"[:100])
    return out


def build_bundle(
    layers: Mapping[str, Mapping[str, bytes]],
    *,
    version: str,
    published_by: str,
    published_at: dt.datetime,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The bundle bytes for ``layers`` (layer name → relative path → content), deterministic
    for the same input: sorted entries, fixed tar metadata, gzip without a timestamp."""
    entries: dict[str, dict[str, Any]] = {}
    count = 0
    for name, files in layers.items():
        safe_name(name)
        for rel, data in files.items():
            safe_name(rel)
            if len(data) > MAX_FILE_BYTES:
                raise BundleError(f"{name}/{rel}: more than {MAX_FILE_BYTES} bytes")
            count += 1
            entries[f"{LAYERS}/{name}/{rel}"] = {
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
    if count > MAX_FILES:
        raise BundleError(f"{count} files, more than the {MAX_FILES} a bundle may hold")
    manifest = {
        "format": FORMAT,
        "dasalert_version": version,
        "published_by": published_by,
        "published_at": published_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "layers": list(layers),
        "files": dict(sorted(entries.items())),
        **dict(extra or {}),
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        for name, files in layers.items():
            for rel in sorted(files):
                _add(tar, f"{LAYERS}/{name}/{rel}", files[rel])
    data = _gzip(raw.getvalue())
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"bundle is {len(data)} bytes, more than {MAX_BUNDLE_BYTES}")
    return data


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _gzip(data: bytes) -> bytes:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip header with mtime 0: reproducible
    return comp.compress(data) + comp.flush()


# -- reading -----------------------------------------------------------------------------------


def read_bundle(data: bytes) -> Bundle:
    """Verify and read a bundle entirely in memory; ``BundleError`` on anything unexpected."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(f"object is {len(data)} bytes, more than {MAX_BUNDLE_BYTES}")
    raw = _gunzip(data)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            contents = _members(tar)
    except (tarfile.TarError, EOFError) as exc:
        raise BundleError(f"not a rule bundle (tar): {exc}") from exc
    manifest = _manifest(contents.pop(MANIFEST, None))
    files = manifest["files"]
    missing = sorted(set(files) - set(contents))
    extra = sorted(set(contents) - set(files))
    if missing or extra:
        raise BundleError(
            "bundle does not match its manifest: "
            + (f"missing {', '.join(missing[:5])}" if missing else "")
            + ("; " if missing and extra else "")
            + (f"not listed {', '.join(extra[:5])}" if extra else "")
        )
    layers: dict[str, dict[str, bytes]] = {name: {} for name in manifest["layers"]}
    for name, body in contents.items():
        want = files[name]
        if hashlib.sha256(body).hexdigest() != want.get("sha256"):
            raise BundleError(f"{name}: content does not match the manifest's sha256")
        parts = PurePosixPath(name).parts
        if len(parts) < 3 or parts[0] != LAYERS or parts[1] not in layers:
            raise BundleError(f"{name}: not under a layer the manifest lists")
        layers[parts[1]]["/".join(parts[2:])] = body
    return Bundle(manifest, list(layers.items()))


def _members(tar: tarfile.TarFile) -> dict[str, bytes]:
    """Every entry's bytes, each name and type checked before anything is read."""
    members = tar.getmembers()
    if len(members) > MAX_FILES + 1:
        raise BundleError(f"{len(members)} entries, more than {MAX_FILES}")
    contents: dict[str, bytes] = {}
    for member in members:
        safe_name(member.name)
        if not member.isreg():  # links, devices, fifos, directories: nothing we write
            raise BundleError(f"entry {member.name!r} is not a regular file")
        if member.name in contents:
            raise BundleError(f"entry {member.name!r} appears twice")
        if member.size > MAX_FILE_BYTES:
            raise BundleError(f"entry {member.name!r} is larger than {MAX_FILE_BYTES} bytes")
        handle = tar.extractfile(member)
        contents[member.name] = handle.read() if handle is not None else b""
    return contents


def _gunzip(data: bytes) -> bytes:
    """gunzip with a cap on the output: a small object must not inflate into gigabytes."""
    d = zlib.decompressobj(31)
    try:
        out = d.decompress(data, MAX_UNPACKED_BYTES)
    except zlib.error as exc:
        raise BundleError(f"not a rule bundle (gzip): {exc}") from exc
    if d.unconsumed_tail:
        raise BundleError(f"bundle inflates to more than {MAX_UNPACKED_BYTES} bytes")
    if not d.eof:
        raise BundleError("not a rule bundle (gzip): truncated")
    return out


def _manifest(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise BundleError(f"no {MANIFEST} in the bundle")
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise BundleError(f"{MANIFEST} is not JSON: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise BundleError(f"{MANIFEST}: format {got!r}, this version reads {FORMAT!r}")
    layers, files = manifest.get("layers"), manifest.get("files")
    if not isinstance(layers, list) or not layers or not isinstance(files, dict):
        raise BundleError(f"{MANIFEST}: needs a list of layers and a map of files")
    for name in layers:
        if not isinstance(name, str) or len(safe_name(name).parts) != 1:
            raise BundleError(f"{MANIFEST}: bad layer name {name!r}")
    if len(set(layers)) != len(layers):
        raise BundleError(f"{MANIFEST}: a layer is listed twice")
    if not all(isinstance(v, dict) for v in files.values()):
        raise BundleError(f"{MANIFEST}: each file needs its size and sha256")
    return manifest
