"""Read and write OCI image layouts (image-spec `oci-layout` directories) without any tool.

Only what the lifecycle harness needs: write a single-manifest image from layer tarballs and a
config, read an image back (index → manifest → config → layer blobs), and unpack layers into
directories that overlayfs can stack (OCI whiteouts become overlay whiteouts).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

OCI_LAYOUT_VERSION = "1.0.0"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"


class LayoutError(Exception):
    """The directory is not an OCI layout this module can read."""


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Descriptor:
        return cls(str(data["mediaType"]), str(data["digest"]), int(data["size"]))

    def to_json(self) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass(frozen=True)
class OciImage:
    """One image of an OCI layout, parsed: what `docker inspect` would show, plus the blobs."""

    path: Path
    manifest_digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]

    @property
    def layers(self) -> list[Descriptor]:
        return [Descriptor.from_json(layer) for layer in self.manifest["layers"]]

    @property
    def diff_ids(self) -> list[str]:
        return [str(d) for d in self.config["rootfs"]["diff_ids"]]

    @property
    def container_config(self) -> dict[str, Any]:
        return dict(self.config.get("config") or {})

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.container_config.get("Labels") or {})

    @property
    def env(self) -> dict[str, str]:
        pairs = (entry.partition("=") for entry in self.container_config.get("Env") or [])
        return {key: value for key, _, value in pairs}

    @property
    def entrypoint(self) -> list[str]:
        return list(self.container_config.get("Entrypoint") or [])

    @property
    def cmd(self) -> list[str]:
        return list(self.container_config.get("Cmd") or [])

    @property
    def working_dir(self) -> str:
        return str(self.container_config.get("WorkingDir") or "/")

    @property
    def user(self) -> str:
        return str(self.container_config.get("User") or "0:0")

    def label_json(self, name: str) -> Any:
        """A label holding JSON (the lifecycle's `io.buildpacks.*.metadata` labels), decoded."""
        return json.loads(self.labels[name])

    def blob_path(self, digest: str) -> Path:
        return blob_path(self.path, digest)


def blob_path(layout: Path, digest: str) -> Path:
    algorithm, _, hexdigest = digest.partition(":")
    return layout / "blobs" / algorithm / hexdigest


def _read_json_blob(layout: Path, digest: str) -> dict[str, Any]:
    path = blob_path(layout, digest)
    if not path.is_file():
        raise LayoutError(f"{layout}: blob {digest} is missing")
    data = path.read_bytes()
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        raise LayoutError(f"{layout}: blob {digest} does not match its digest")
    loaded: dict[str, Any] = json.loads(data)
    return loaded


def read_image(layout: Path, ref_name: str | None = None) -> OciImage:
    """The image of `layout` (the one annotated `ref_name`, or the only/first one)."""
    index_file = layout / "index.json"
    if not index_file.is_file():
        raise LayoutError(f"{layout} has no index.json: not an OCI image layout")
    index = json.loads(index_file.read_text())
    manifests: list[dict[str, Any]] = index.get("manifests") or []
    if ref_name is not None:
        manifests = [
            m
            for m in manifests
            if (m.get("annotations") or {}).get(REF_NAME_ANNOTATION) == ref_name
        ]
    if not manifests:
        raise LayoutError(f"{layout}: no image manifest (ref name: {ref_name!r})")
    manifest_digest = str(manifests[0]["digest"])
    manifest = _read_json_blob(layout, manifest_digest)
    config = _read_json_blob(layout, str(manifest["config"]["digest"]))
    return OciImage(layout, manifest_digest, manifest, config)


def _write_blob(layout: Path, data: bytes) -> Descriptor:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(layout, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(data)
    return Descriptor("", digest, len(data))


def _canonical_json(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class LayerBlob:
    """A layer already written into a layout's blobs: its descriptor and uncompressed digest."""

    descriptor: Descriptor
    diff_id: str


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class _HashingWriter:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, target: _Writable) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()


def _sorted_walk(root: Path) -> Iterator[Path]:
    """Every path under root, parents first, in a stable order (reproducible tarballs)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        # symlinks to directories appear in dirnames but are not descended into
        for name in sorted([*dirnames, *filenames]):
            yield base / name


def write_layer_from_directory(
    layout: Path, root: Path, *, compresslevel: int | None = None
) -> LayerBlob:
    """Tar `root` (owners, modes, links and device nodes kept; mtimes as they are) into a layer
    blob of `layout`, gzip-compressed when `compresslevel` is given. Entry names are relative
    (`usr/bin/sh`), like `docker save` writes them."""
    staging = layout / "blobs" / "sha256" / ".layer.tmp"
    staging.parent.mkdir(parents=True, exist_ok=True)
    with staging.open("wb") as raw:
        stored = _HashingWriter(raw)
        if compresslevel is None:
            uncompressed = stored
            _write_tar(uncompressed, root)
        else:
            with gzip.GzipFile(
                fileobj=stored, mode="wb", compresslevel=compresslevel, mtime=0
            ) as gz:
                uncompressed = _HashingWriter(gz)
                _write_tar(uncompressed, root)
    digest = "sha256:" + stored.sha256.hexdigest()
    staging.replace(blob_path(layout, digest))
    media_type = MEDIA_LAYER_TAR if compresslevel is None else MEDIA_LAYER_GZIP
    return LayerBlob(
        Descriptor(media_type, digest, stored.size), "sha256:" + uncompressed.sha256.hexdigest()
    )


def _write_tar(out: _HashingWriter, root: Path) -> None:
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        for path in _sorted_walk(root):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(root)))
            # user/group names would come from the host's passwd, not the image's
            info.uname = info.gname = ""
            if info.isreg():
                with path.open("rb") as content:
                    tar.addfile(info, content)
            else:
                tar.addfile(info)


def write_image(
    layout: Path,
    layers: Sequence[LayerBlob],
    config: Mapping[str, Any],
    *,
    ref_name: str | None = None,
) -> OciImage:
    """Write config, manifest, index.json and oci-layout for an image whose layer blobs are
    already in `layout`. `config` is the image config without `rootfs`, which is filled in."""
    full_config = dict(config)
    full_config["rootfs"] = {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]}
    config_blob = _write_blob(layout, _canonical_json(full_config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {**config_blob.to_json(), "mediaType": MEDIA_CONFIG},
        "layers": [layer.descriptor.to_json() for layer in layers],
    }
    manifest_blob = _write_blob(layout, _canonical_json(manifest))
    entry: dict[str, Any] = {**manifest_blob.to_json(), "mediaType": MEDIA_MANIFEST}
    if ref_name is not None:
        entry["annotations"] = {REF_NAME_ANNOTATION: ref_name}
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [entry]}
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": OCI_LAYOUT_VERSION}))
    (layout / "index.json").write_text(json.dumps(index, indent=2))
    return read_image(layout)


def _open_layer(path: Path, media_type: str) -> tarfile.TarFile:
    if media_type.endswith("gzip") or media_type == DOCKER_LAYER_GZIP:
        return tarfile.open(path, mode="r:gz")
    if media_type == MEDIA_LAYER_TAR or media_type.endswith(".tar"):
        return tarfile.open(path, mode="r:")
    raise LayoutError(f"unsupported layer media type {media_type}")


def _member_target(dest: Path, name: str) -> Path:
    relative = Path(os.path.normpath(name.lstrip("/"))) if name.strip("/.") else Path()
    if relative.is_absolute() or relative.parts[:1] == ("..",):
        raise LayoutError(f"layer entry {name!r} escapes the layer root")
    return dest / relative


def _check_parent_inside(dest: Path, target: Path) -> None:
    # a symlink inside the layer must not redirect a later entry outside of `dest`
    parent = os.path.realpath(target.parent)
    if parent != str(dest) and not parent.startswith(str(dest) + os.sep):
        raise LayoutError(f"layer entry {target} is reached through a link leaving {dest}")


def _make_overlay_whiteout(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        raise LayoutError(f"whiteout over a directory of the same layer: {target}")
    target.unlink(missing_ok=True)
    os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def extract_layer(blob: Path, media_type: str, dest: Path) -> None:
    """Unpack one layer into `dest` for use as an overlayfs lower directory: OCI whiteouts
    (`.wh.NAME`, `.wh..wh..opq`) become overlay whiteouts (a 0/0 character device, the
    `trusted.overlay.opaque` xattr). Owners, modes and mtimes are kept (we run as root)."""
    dest.mkdir(parents=True, exist_ok=True)
    dest = Path(os.path.realpath(dest))
    with _open_layer(blob, media_type) as tar:
        directories: list[tuple[Path, tarfile.TarInfo]] = []
        for member in tar:
            target = _member_target(dest, member.name)
            if target == dest:
                continue
            _check_parent_inside(dest, target)
            name = target.name
            if name == OPAQUE_WHITEOUT:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.setxattr(target.parent, "trusted.overlay.opaque", b"y")
                continue
            if name.startswith(WHITEOUT_PREFIX):
                _make_overlay_whiteout(target.with_name(name[len(WHITEOUT_PREFIX) :]))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if member.isdir():
                target.mkdir(exist_ok=True)
                directories.append((target, member))
                continue
            if target.is_symlink() or target.exists():
                target.unlink()
            if member.islnk():
                os.link(_member_target(dest, member.linkname), target)
            elif member.issym():
                target.symlink_to(member.linkname)
            elif member.isreg():
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as out:
                    while chunk := source.read(1 << 20):
                        out.write(chunk)
            elif member.ischr() or member.isblk():
                kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
                os.mknod(target, kind | member.mode, os.makedev(member.devmajor, member.devminor))
            elif member.isfifo():
                os.mkfifo(target, member.mode)
            else:
                raise LayoutError(f"unsupported layer entry type for {member.name!r}")
            if not member.islnk():
                _apply_attributes(target, member)
        # directories last: adding entries would change their mtime again
        for target, member in reversed(directories):
            _apply_attributes(target, member)


def _apply_attributes(target: Path, member: tarfile.TarInfo) -> None:
    os.lchown(target, member.uid, member.gid)
    if not member.issym():
        target.chmod(member.mode)
        os.utime(target, (member.mtime, member.mtime))
