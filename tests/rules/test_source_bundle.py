"""The rule bundle: what publish writes is what the function reads, and nothing else gets in.

A bundle is input the function did not write: a hostile or broken one must end as a
``BundleError`` before a byte reaches the file system (path traversal, links, bombs, files the
manifest does not vouch for).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.rules.lang.loader import load_rules
from engine.rules.source import S3Location, split_sources
from engine.rules.source_bundle import (
    FORMAT,
    MAX_UNPACKED_BYTES,
    BundleError,
    build_bundle,
    layer_names,
    pack_files,
    read_bundle,
    safe_name,
)
from tests.pipeline.support import DDL_RULE, THRESHOLD_RULE

AT = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def _bundle(layers: dict[str, dict[str, bytes]]) -> bytes:
    return build_bundle(layers, version="0.1.0", published_by="alice@laptop", published_at=AT)


def _craft(entries: list[tarfile.TarInfo | tuple[str, bytes]], manifest: dict | None) -> bytes:
    """A gzip'd tar written by hand, as an attacker would: any names, any entry types."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        if manifest is not None:
            body = json.dumps(manifest).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
                continue
            name, data = entry
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def _manifest(files: dict[str, bytes], layers: list[str]) -> dict:
    return {
        "format": FORMAT,
        "layers": layers,
        "files": {
            n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()
        },
    }


def test_a_pack_round_trips_and_loads_like_its_folders(tmp_path: Path) -> None:
    base, site = tmp_path / "rules", tmp_path / "site"
    base.mkdir()
    site.mkdir()
    (base / "ddl.yaml").write_text(DDL_RULE)
    (site / "logins.yaml").write_text(THRESHOLD_RULE)
    (site / "runbooks").mkdir()
    (site / "runbooks" / "logins.md").write_text("# what to do\n")
    (site / ".git").mkdir()
    (site / ".git" / "config").write_text("not shipped")
    names = layer_names([base, site])
    assert names == ["00-rules", "01-site"]
    data = _bundle({n: pack_files(p) for n, p in zip(names, [base, site], strict=True)})

    bundle = read_bundle(data)
    assert bundle.manifest["published_by"] == "alice@laptop"
    assert bundle.manifest["published_at"] == "2026-12-01T09:00:00+00:00"
    assert bundle.manifest["layers"] == names
    assert bundle.file_count == 3  # .git is left out
    dirs = bundle.extract(tmp_path / "out")
    assert [d.name for d in dirs] == names
    assert (dirs[1] / "runbooks" / "logins.md").read_text() == "# what to do\n"
    folders, extracted = load_rules([base, site]), load_rules(dirs)
    assert [r.id for r in extracted.rules] == [r.id for r in folders.rules]
    assert _bundle({n: pack_files(p) for n, p in zip(names, [base, site], strict=True)}) == data


@pytest.mark.parametrize(
    "name",
    [
        "layers/00-x/../../../tmp/evil.yaml",
        "/etc/cron.d/evil",
        "layers/00-x/./a.yaml",
        "layers\\00-x\\a.yaml",
        "layers/00-x/.hidden.yaml",
        "",
    ],
)
def test_a_path_that_could_leave_the_folder_is_refused(tmp_path: Path, name: str) -> None:
    files = {name: b"id: x\n"}
    data = _craft([(name, b"id: x\n")], _manifest(files, ["00-x"]))
    with pytest.raises(BundleError, match=r"unsafe path|not a rule bundle"):
        read_bundle(data)
    assert not (tmp_path.parent / "evil.yaml").exists()


@pytest.mark.parametrize(
    "kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.FIFOTYPE]
)
def test_links_directories_and_devices_are_refused(kind: bytes) -> None:
    info = tarfile.TarInfo("layers/00-x/a.yaml")
    info.type, info.linkname = kind, "/etc/passwd"
    data = _craft([info], _manifest({"layers/00-x/a.yaml": b""}, ["00-x"]))
    with pytest.raises(BundleError, match="not a regular file"):
        read_bundle(data)


def test_every_file_must_be_the_one_the_manifest_vouches_for() -> None:
    good = {"layers/00-x/a.yaml": DDL_RULE.encode()}
    read_bundle(_craft(list(good.items()), _manifest(good, ["00-x"])))  # the control

    tampered = _craft([("layers/00-x/a.yaml", b"id: other\n")], _manifest(good, ["00-x"]))
    with pytest.raises(BundleError, match="sha256"):
        read_bundle(tampered)
    extra = _craft([*good.items(), ("layers/00-x/b.yaml", b"x")], _manifest(good, ["00-x"]))
    with pytest.raises(BundleError, match=r"not listed layers/00-x/b\.yaml"):
        read_bundle(extra)
    missing = _craft([], _manifest(good, ["00-x"]))
    with pytest.raises(BundleError, match=r"missing layers/00-x/a\.yaml"):
        read_bundle(missing)
    with pytest.raises(BundleError, match=r"no manifest\.json"):
        read_bundle(_craft(list(good.items()), None))
    elsewhere = {"other/a.yaml": b"x"}
    with pytest.raises(BundleError, match="not under a layer"):
        read_bundle(_craft(list(elsewhere.items()), _manifest(elsewhere, ["00-x"])))
    with pytest.raises(BundleError, match="unsafe path"):
        read_bundle(_craft(list(good.items()), _manifest(good, ["00-x/.."])))
    with pytest.raises(BundleError, match="bad layer name"):
        read_bundle(_craft(list(good.items()), _manifest(good, ["00-x/y"])))
    with pytest.raises(BundleError, match="format"):
        read_bundle(_craft(list(good.items()), dict(_manifest(good, ["00-x"]), format="zip/9")))


def test_a_small_object_that_inflates_past_the_cap_is_refused() -> None:
    bomb = gzip.compress(b"\0" * (MAX_UNPACKED_BYTES + 1024))
    assert len(bomb) < 100_000
    with pytest.raises(BundleError, match="inflates to more than"):
        read_bundle(bomb)


@pytest.mark.parametrize("data", [b"", b"not gzip", gzip.compress(b"not a tar")[:-4]])
def test_garbage_is_a_bundle_error(data: bytes) -> None:
    with pytest.raises(BundleError):
        read_bundle(data)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_give_a_bundle_or_a_bundle_error(data: bytes) -> None:
    for candidate in (data, gzip.compress(data)):
        with contextlib.suppress(BundleError):
            read_bundle(candidate)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_a_name_safe_name_accepts_stays_inside(name: str) -> None:
    try:
        path = safe_name(name)
    except BundleError:
        return
    resolved = (Path("/base") / path).resolve()
    assert resolved.is_relative_to("/base") and resolved != Path("/base")


def test_publish_refuses_a_name_the_function_would_refuse(tmp_path: Path) -> None:
    (tmp_path / "bad name.yaml").write_text(DDL_RULE)
    with pytest.raises(BundleError, match="unsafe path"):
        pack_files(tmp_path)


def test_dasalert_rules_layers_folders_and_s3_bundles_in_order() -> None:
    spec = "/var/task/rules:s3://my-bucket/dasalert/site.tar.gz:/opt/more"
    assert split_sources(spec) == [
        Path("/var/task/rules"),
        S3Location("my-bucket", "dasalert/site.tar.gz"),
        Path("/opt/more"),
    ]
    assert split_sources("s3://b/k") == [S3Location("b", "k")]
    assert str(S3Location("b", "a/k.tar.gz")) == "s3://b/a/k.tar.gz"
    for bad in ("s3://bucket", "s3://bucket/", "s3://bucket/folder/", "s3:///key"):
        with pytest.raises(ValueError, match="name the bundle object"):
            split_sources(bad)
