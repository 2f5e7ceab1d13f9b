"""Writes into a container's filesystem on this host (see `host_files`): deleting a path and
copying a host tree in, by directory descriptors that never follow a link, creating every
entry anew. Only for the harness's own files: what it deletes before the agent's turn, and
copies to paths that did not exist."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat

from swelancer.sandbox.docker.host_files import DIR_FLAGS, HostRoot, NotHosted, lstat_at


def remove(root: HostRoot, path: str) -> None:
    """Delete `path` and everything below it, as `rm -rf` would inside (a link itself, not
    where it points); nothing when it does not exist."""
    try:
        with root.folder_of(path) as (folder, name):
            st = lstat_at(folder, name)
            try:
                if stat.S_ISDIR(st.st_mode):
                    shutil.rmtree(name, dir_fd=folder)  # by descriptors, links not followed
                else:
                    os.unlink(name, dir_fd=folder)
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise NotHosted(f"{path}: {exc}") from exc
    except FileNotFoundError:
        return


def write(root: HostRoot, src: str, dest: str) -> None:
    """Copy the host file or folder `src` (regular files and folders only) to `dest`, which
    must not exist yet, keeping modes; `NotHosted` (and nothing left) when it cannot."""
    try:
        with root.folder_of(dest) as (folder, name):
            _put(folder, name, src)
    except NotHosted:
        with contextlib.suppress(NotHosted, OSError):
            remove(root, dest)  # only what this call made: `dest` did not exist
        raise
    except OSError as exc:
        with contextlib.suppress(NotHosted, OSError):
            remove(root, dest)
        raise NotHosted(f"{dest}: {exc}") from exc


def _put(folder: int, name: str, src: str) -> None:
    """`src` (a host path the harness made) written as `name` in `folder`, created anew."""
    st = os.lstat(src)
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        try:
            os.mkdir(name, 0o700, dir_fd=folder)
        except FileExistsError as exc:
            raise NotHosted(f"{name} exists") from exc
        fd = os.open(name, DIR_FLAGS, dir_fd=folder)
        try:
            for child in sorted(os.listdir(src)):
                _put(fd, child, os.path.join(src, child))
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return
    if not stat.S_ISREG(st.st_mode):
        raise NotHosted(f"{src} is not a regular file or folder")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(name, flags, 0o600, dir_fd=folder)
    try:
        with open(src, "rb") as source:
            while chunk := source.read(1 << 20):
                os.write(fd, chunk)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
