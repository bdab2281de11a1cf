"""Run a program in a private mount namespace with a builder's or an image's filesystem view.

`unshare --mount --propagation private` gives the child its own mount table, so bind mounts at
`/cnb`, `/layers`, `/workspace`, … or an overlay root for `chroot` vanish with the process and
never touch the host's view. The network namespace is the host's (a server started this way is
reachable on 127.0.0.1), unless a `PrivateNetwork` is asked for: then the program gets its own
network namespace, like a container's, with loopback and one non-loopback address
(`PrivateNetwork.address`), and only a client entering that namespace (`nsenter --net`) reaches
it; nothing leaves it. Programs run with exactly the environment given (`env -i`), as the given
uid/gid, like a container's process.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

UNSHARE = ("unshare", "--mount", "--propagation", "private", "--")
UNSHARE_NET = ("unshare", "--mount", "--propagation", "private", "--net", "--")
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Bind:
    source: Path
    target: str
    read_only: bool = False
    recursive: bool = False

    def script(self) -> list[str]:
        flag = "--rbind" if self.recursive else "--bind"
        lines = [f"mount {flag} {shlex.quote(str(self.source))} {shlex.quote(self.target)}"]
        if self.read_only:
            lines.append(f"mount -o remount,bind,ro {shlex.quote(self.target)}")
        return lines


@dataclass(frozen=True)
class Filesystem:
    """A fresh kernel filesystem (proc, sysfs, ...) at target."""

    fstype: str
    target: str

    def script(self) -> list[str]:
        return [f"mount -t {self.fstype} {self.fstype} {shlex.quote(self.target)}"]


@dataclass(frozen=True)
class Tmpfs:
    target: str
    mode: str = "0755"
    # directories to create in the new tmpfs, owned by uid:gid
    owned_dirs: tuple[tuple[str, int, int], ...] = ()

    def script(self) -> list[str]:
        target = shlex.quote(self.target)
        lines = [f"mount -t tmpfs -o mode={self.mode} tmpfs {target}"]
        for path, uid, gid in self.owned_dirs:
            lines += [f"mkdir -p {shlex.quote(path)}", f"chown {uid}:{gid} {shlex.quote(path)}"]
        return lines


@dataclass(frozen=True)
class Overlay:
    lowers: tuple[Path, ...]  # top first, like overlayfs' lowerdir
    upper: Path
    work: Path
    target: Path

    def script(self) -> list[str]:
        options = (
            f"lowerdir={':'.join(str(p) for p in self.lowers)},"
            f"upperdir={self.upper},workdir={self.work}"
        )
        return [
            f"mount -t overlay overlay -o {shlex.quote(options)} {shlex.quote(str(self.target))}"
        ]


@dataclass(frozen=True)
class MaskIfPresent:
    """Hide a host file or directory (global pip config, …) that a real image would not have."""

    target: str

    def script(self) -> list[str]:
        t = shlex.quote(self.target)
        return [
            f"if [ -d {t} ]; then mount -t tmpfs -o mode=0755 tmpfs {t}; "
            f"elif [ -e {t} ]; then mount --bind /dev/null {t}; fi"
        ]


@dataclass(frozen=True)
class Command:
    """What runs in the namespace once the mounts are in place."""

    argv: Sequence[str]
    env: Mapping[str, str]
    uid: int | None = None  # None: stay root
    gid: int | None = None
    chroot: Path | None = None
    cwd: str | None = None

    def script(self) -> str:
        env_args = ["/usr/bin/env", "-i"]
        if self.cwd is not None:
            env_args += ["-C", self.cwd]
        env_args += [f"{key}={value}" for key, value in self.env.items()]
        if self.chroot is not None:
            drop: list[str] = ["chroot"]
            if self.uid is not None:
                drop += [f"--userspec={self.uid}:{self.gid}", f"--groups={self.gid}"]
            drop.append(str(self.chroot))
        elif self.uid is not None:
            drop = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--"]
        else:
            drop = []
        return "exec " + shlex.join([*drop, *env_args, *self.argv])


@dataclass(frozen=True)
class PrivateNetwork:
    """The namespace's own network: `lo` up, and a veth pair whose first end holds `address`
    (TEST-NET-1, a documentation range: never routed anywhere). A server bound to 127.0.0.1
    refuses connections to `address`; one bound to 0.0.0.0 accepts them."""

    address: str = "192.0.2.10"
    peer_address: str = "192.0.2.11"

    def script(self) -> list[str]:
        return [
            "ip link set lo up",
            "ip link add app0 type veth peer name peer0",
            f"ip addr add {self.address}/24 dev app0",
            f"ip addr add {self.peer_address}/24 dev peer0",
            "ip link set app0 up",
            "ip link set peer0 up",
        ]


Mount = Bind | Filesystem | Tmpfs | Overlay | MaskIfPresent | PrivateNetwork


def namespace_argv(mounts: Sequence[Mount], command: Command) -> list[str]:
    lines = ["set -eu"]
    for mount in mounts:
        lines += mount.script()
    lines.append(command.script())
    private_net = any(isinstance(mount, PrivateNetwork) for mount in mounts)
    return [*(UNSHARE_NET if private_net else UNSHARE), "/bin/sh", "-c", "\n".join(lines)]


def spawn(
    mounts: Sequence[Mount], command: Command, *, stdout: IO[bytes] | int, stdin: int | None = None
) -> subprocess.Popen[bytes]:
    """Start the namespaced program; stderr goes with stdout. The Popen's pid is the program's
    own (each step `exec`s the next), in a new session so its whole group can be signalled."""
    return subprocess.Popen(
        namespace_argv(mounts, command),
        env={"PATH": HOST_PATH},
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
