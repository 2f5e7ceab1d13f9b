"""The in-memory file system of a fake sandbox (see `tests.fakes.sandbox`).

Paths are absolute POSIX paths; a node is a file, a folder or a symbolic link. Every change
ticks a logical clock (the `mtime` of what changed and of its parent folder, as a real file
system does), which is what `find -newer` compares. `changes()` reads like `docker diff`:
relative to the image's tree (the state at `mark()`), every path written since, with its
parent folders, as changed (0), added (1) or deleted (2, the top-most deleted path only).

Archives are real tar streams, so that `copy_out` goes through the harness's own bounded
extractor (`swelancer.sandbox.archive.extract`) exactly as the Docker sandbox's does.
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from swelancer.sandbox.archive import top_name


@dataclass(frozen=True)
class Node:
    kind: str  # "file" | "dir" | "link"
    data: bytes = b""
    mode: int = 0o644
    mtime: int = 0
    target: str = ""


def norm(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"paths inside the sandbox are absolute, got {path!r}")
    return posixpath.normpath(path).replace("//", "/")


def _ancestors(path: str) -> list[str]:
    out = []
    while path != "/":
        path = posixpath.dirname(path)
        if path != "/":
            out.append(path)
    return out


class FakeFS:
    """Files, folders and links in memory, with the image's tree kept for `changes()`."""

    def __init__(self, files: Mapping[str, bytes | str | Node] | None = None) -> None:
        self.nodes: dict[str, Node] = {"/": Node("dir", mode=0o755)}
        self.clock = 0
        self.base: dict[str, Node] = dict(self.nodes)
        self.written: set[str] = set()
        for path, data in (files or {}).items():
            if isinstance(data, Node):
                self.makedirs(posixpath.dirname(norm(path)))
                self.nodes[norm(path)] = data
            elif path.endswith("/"):
                self.makedirs(path)
            else:
                self.write(path, data)

    # -- state ---------------------------------------------------------------------------

    def mark(self) -> None:
        """Take the present tree as the image's: `changes()` is relative to it."""
        self.base = dict(self.nodes)
        self.written.clear()

    def clone(self) -> FakeFS:
        """A copy with the same image tree and clock (nodes are immutable: shared)."""
        other = FakeFS()
        other.nodes, other.base = dict(self.nodes), dict(self.base)
        other.written, other.clock = set(self.written), self.clock
        return other

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def _set(self, path: str, node: Node | None) -> None:
        now = self.tick()
        if node is None:
            self.nodes.pop(path, None)
        else:
            self.nodes[path] = replace(node, mtime=now)
        self.written.add(path)
        parent = posixpath.dirname(path)
        if parent in self.nodes and path != "/":
            self.nodes[parent] = replace(self.nodes[parent], mtime=now)

    # -- reading -------------------------------------------------------------------------

    def node(self, path: str) -> Node | None:
        """The node at `path` itself (a link is not followed)."""
        return self.nodes.get(norm(path))

    def resolve(self, path: str) -> str:
        """`path` with links followed (8 hops at most), parent folders included."""
        path = norm(path)
        for _ in range(8):
            parts, current = path.strip("/").split("/"), "/"
            for i, part in enumerate(p for p in parts if p):
                current = posixpath.join(current, part)
                node = self.nodes.get(current)
                if node is not None and node.kind == "link":
                    rest = "/".join(parts[i + 1 :])
                    target = posixpath.join(posixpath.dirname(current), node.target)
                    path = norm(posixpath.join(target, rest) if rest else target)
                    break
            else:
                return path
        return path

    def exists(self, path: str) -> bool:
        return self.resolve(path) in self.nodes

    def is_file(self, path: str) -> bool:
        node = self.nodes.get(self.resolve(path))
        return node is not None and node.kind == "file"

    def is_dir(self, path: str) -> bool:
        node = self.nodes.get(self.resolve(path))
        return node is not None and node.kind == "dir"

    def read(self, path: str) -> bytes:
        real = self.resolve(path)
        node = self.nodes.get(real)
        if node is None:
            raise FileNotFoundError(path)
        if node.kind == "dir":
            raise IsADirectoryError(path)
        return node.data

    def text(self, path: str) -> str:
        return self.read(path).decode("utf-8", "replace")

    def listdir(self, path: str) -> list[str]:
        real = self.resolve(path)
        if not self.is_dir(real):
            raise NotADirectoryError(path)
        prefix = real.rstrip("/") + "/"
        return sorted(
            p[len(prefix) :]
            for p in self.nodes
            if p.startswith(prefix) and "/" not in p[len(prefix) :]
        )

    def tree(self, path: str) -> list[str]:
        """`path` and every path below it (links not followed), sorted."""
        path = norm(path)
        prefix = path.rstrip("/") + "/"
        return sorted(p for p in self.nodes if p == path or p.startswith(prefix))

    def files(self, path: str) -> dict[str, bytes]:
        """Every file below `path`, by path relative to it."""
        prefix = norm(path).rstrip("/") + "/"
        return {
            p[len(prefix) :]: n.data
            for p, n in self.nodes.items()
            if p.startswith(prefix) and n.kind == "file"
        }

    # -- writing -------------------------------------------------------------------------

    def makedirs(self, path: str) -> None:
        path = norm(path)
        for folder in [*reversed(_ancestors(path)), path]:
            node = self.nodes.get(folder)
            if node is None:
                self._set(folder, Node("dir", mode=0o755))
            elif node.kind != "dir":
                raise NotADirectoryError(folder)

    def write(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        path = self.resolve(path)
        if isinstance(data, str):
            data = data.encode("utf-8")
        node = self.nodes.get(path)
        if node is not None and node.kind == "dir":
            raise IsADirectoryError(path)
        self.makedirs(posixpath.dirname(path))
        self._set(path, Node("file", data=bytes(data), mode=mode))

    def append(self, path: str, data: bytes | str) -> None:
        old = self.read(path) if self.is_file(path) else b""
        self.write(path, old + (data.encode() if isinstance(data, str) else data))

    def symlink(self, path: str, target: str) -> None:
        path = norm(path)
        self.makedirs(posixpath.dirname(path))
        self._set(path, Node("link", target=target, mode=0o777))

    def touch(self, path: str) -> None:
        path = self.resolve(path)
        if path in self.nodes:
            self._set(path, self.nodes[path])
        else:
            self.write(path, b"")

    def remove(self, path: str) -> bool:
        """Delete `path` and all below it (a link itself, not its target); whether it was."""
        path = norm(path)
        if path not in self.nodes or path == "/":
            return False
        for p in reversed(self.tree(path)):
            self._set(p, None)
        return True

    def copy(self, src: str, dest: str) -> None:
        """`cp -r src dest` where `dest` is the path the copy will have."""
        src, dest = self.resolve(src), norm(dest)
        for p in self.tree(src):
            node = self.nodes[p]
            target = dest + p[len(src) :]
            if node.kind == "dir":
                self.makedirs(target)
            elif node.kind == "link":
                self.symlink(target, node.target)
            else:
                self.write(target, node.data, node.mode)

    # -- the engine's views --------------------------------------------------------------

    def changes(self) -> list[tuple[str, int]]:
        """What `docker diff` would list since `mark()`."""
        touched = set(self.written)
        for path in list(touched):
            touched.update(_ancestors(path))
        out = []
        for path in sorted(touched):
            now, then = path in self.nodes, path in self.base
            if now:
                out.append((path, 0 if then else 1))
            elif then and posixpath.dirname(path) in self.nodes:
                out.append((path, 2))
        return out

    def archive(self, path: str) -> io.BytesIO:
        """A tar stream of `path` (the entry itself, a link not followed), as the engine's
        archive API gives it; `FileNotFoundError` when it does not exist."""
        path = norm(path)
        if path not in self.nodes:
            path = self.resolve(path) if self.resolve(path) in self.nodes else path
        if path not in self.nodes:
            raise FileNotFoundError(path)
        top = top_name(path)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for p in self.tree(path):
                node = self.nodes[p]
                info = tarfile.TarInfo(top + p[len(path) :])
                info.mode, info.mtime = node.mode, 1_700_000_000 + node.mtime
                if node.kind == "dir":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif node.kind == "link":
                    info.type, info.linkname = tarfile.SYMTYPE, node.target
                    tar.addfile(info)
                else:
                    info.size = len(node.data)
                    tar.addfile(info, io.BytesIO(node.data))
        buffer.seek(0)
        return buffer

    def put_host(self, src: Path, dest: str) -> None:
        """Copy a host file or folder in, as the engine extracts an archive over `dest`
        (existing files stay; inner links are kept as links)."""
        src = Path(os.path.realpath(src))
        dest = norm(dest)
        if src.is_file():
            self.write(dest, src.read_bytes(), 0o755 if os.stat(src).st_mode & 0o111 else 0o644)
            return
        self.makedirs(dest)
        for host in sorted(src.rglob("*")):
            target = posixpath.join(dest, host.relative_to(src).as_posix())
            if host.is_symlink():
                self.symlink(target, os.readlink(host))
            elif host.is_dir():
                self.makedirs(target)
            else:
                mode = 0o755 if os.stat(host).st_mode & 0o111 else 0o644
                self.write(target, host.read_bytes(), mode)
