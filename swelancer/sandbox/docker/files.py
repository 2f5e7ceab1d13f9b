"""Files in and out of a container, through the engine's archive API (nothing runs inside)."""

from __future__ import annotations

import io
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.archive import CopyLimits, CopyReport, extract, top_name
from swelancer.sandbox.docker.client import (
    _explain,
    _infra_error,
    _is_no_such_container,
    _sdk_errors,
)
from swelancer.sandbox.docker.core import ContainerCore
from swelancer.sandbox.docker.layer_changes import LayersUnreadable, Lowers
from swelancer.sandbox.docker.layer_files import HostTar, Link, NotHosted, layer_members
from swelancer.sandbox.docker.streams import _Archive, _ChunkReader, _root_owned


class FilesMixin(ContainerCore):
    """Reading and writing files of `DockerSandbox`."""

    # -- files ----------------------------------------------------------------------------------

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """Create or replace the file `path` (parent folders are created) with `data`."""
        path = _absolute(path)
        payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = _root_owned(tarfile.TarInfo(posixpath.basename(path)))
            info.size = len(payload)
            info.mode = mode
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(payload))
        self._put_archive(posixpath.dirname(path) or "/", archive.getvalue())

    def read_file(self, path: str, limit: int | None = None, _hops: int = 0) -> bytes:
        """The bytes of the file `path`; `FileNotFoundError` when it does not exist. A file over
        `limit` bytes is an `InfraError` of kind `too_large`, found before it is read. A link
        is followed (at most 8 hops) by reading where it points, inside the container's
        filesystem: nothing runs in the container."""
        path = _absolute(path)
        found = self._read_archived(path, limit)
        if isinstance(found, bytes):
            return found
        if _hops >= 8:
            raise FileNotFoundError(path)
        target = posixpath.join(posixpath.dirname(path), found.target)
        return self.read_file(posixpath.normpath(target), limit, _hops + 1)

    def _too_large(self, path: str, size: int, limit: int) -> InfraError:
        return InfraError(
            f"{path} in {self.name} holds {size:,} bytes, more than the {limit:,} allowed",
            kind=FaultKind.TOO_LARGE,
        )

    def _read_archived(self, path: str, limit: int | None) -> bytes | Link:
        chunks = self._get_archive(path)
        try:
            with (
                chunks,
                tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar,
            ):
                for member in tar:
                    if member.isdir():
                        raise IsADirectoryError(path)
                    if member.issym():
                        return Link(member.linkname)
                    if not member.isfile():
                        raise FileNotFoundError(f"{path} is not a regular file")
                    if limit is not None and member.size > limit:
                        raise self._too_large(path, member.size, limit)
                    handle = tar.extractfile(member)
                    return handle.read() if handle else b""
        except tarfile.TarError as err:
            doing = f"Could not read {path} in {self.name}"
            raise InfraError(f"{doing}: {err}", kind=FaultKind.COPY_FAILED) from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read {path} in {self.name}") from err
        raise FileNotFoundError(path)

    def copy_in(self, src: Path, dest: str) -> None:
        """Copy the host file or folder `src` to `dest` (the path it will have), keeping modes.
        Files are owned by root in the container; large trees are spooled through a temp file
        to the engine's archive API."""
        src = Path(src)
        dest = _absolute(dest)
        if not src.exists():
            raise FileNotFoundError(str(src))
        with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as spool:
            with tarfile.open(fileobj=spool, mode="w") as tar:
                tar.add(os.path.realpath(src), arcname=posixpath.basename(dest), filter=_root_owned)
            size = spool.tell()
            spool.seek(0)
            data: bytes | Any = spool.read() if size <= 16 * 1024 * 1024 else spool
            self._put_archive(posixpath.dirname(dest) or "/", data)

    def copy_out(self, src: str, dest: Path, limits: CopyLimits | None = None) -> CopyReport:
        """Copy the file or folder `src` of the container to `dest` (the path it will have) on
        the host, streamed, bounded by `limits` and inert: only regular files and folders are
        made (modes 0644/0755); links, devices and FIFOs are listed in the report, not made.
        `FileNotFoundError` when `src` does not exist."""
        src = _absolute(src)
        dest = Path(dest).absolute()
        if dest.exists() or dest.is_symlink():
            raise FileExistsError(str(dest))
        limits = limits or CopyLimits()
        chunks = self._get_archive(src)
        try:
            with tarfile.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar:
                return extract(tar, tar, dest, top_name(src), limits)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not copy {src} out of {self.name}") from err
        except (tarfile.TarError, OSError) as err:
            raise InfraError(
                f"Could not copy {src} out of {self.name} to {dest}: {err}",
                kind=FaultKind.COPY_FAILED,
            ) from err
        finally:
            chunks.close()

    def image_copy_out(
        self, src: str, dest: Path, limits: CopyLimits | None = None
    ) -> CopyReport | None:
        """`copy_out` of `src` as the container's image holds it, read from its image's layers
        on this host (what a container of the image that never started would give). None
        when they cannot be read here, or `src` is a folder or lies past a link: then ask
        such a container. `FileNotFoundError` when the image has no `src`."""
        layers = self._layers if self.read_layers else None
        if layers is None:
            return None
        src = _absolute(src)
        try:
            found = Lowers(layers.lowers).locate(src)
        except (LayersUnreadable, OSError):
            return None
        if found is None:
            raise FileNotFoundError(f"{src} (in the image of {self.name})")
        layer, st = found
        if stat.S_ISDIR(st.st_mode):
            return None
        dest = Path(dest).absolute()
        if dest.exists() or dest.is_symlink():
            raise FileExistsError(str(dest))
        members = layer_members(f"{layer}{src}", top_name(src))
        return self._extract_here(members, src, dest, limits or CopyLimits())

    def _extract_here(
        self,
        members: Iterator[tuple[tarfile.TarInfo, int | None]],
        src: str,
        dest: Path,
        limits: CopyLimits,
    ) -> CopyReport | None:
        """Entries read on this host (`layer_files`) extracted to `dest`, as an archive of the
        engine's would be; None (and nothing left at `dest`) when they cannot be read here."""
        here = HostTar(members)
        try:
            return extract(here, here, dest, top_name(src), limits)
        except NotHosted:
            _remove(dest)  # begun here; the engine's archive decides
            return None
        except FileNotFoundError:
            raise
        except OSError as err:
            raise InfraError(
                f"Could not copy {src} out of {self.name} to {dest}: {err}",
                kind=FaultKind.COPY_FAILED,
            ) from err
        finally:
            here.close()

    def _put_archive(self, folder: str, data: Any) -> None:
        from docker.errors import NotFound

        doing = f"Could not copy files to {folder} in {self.name}"
        for attempt in range(2):
            try:
                if hasattr(data, "seek"):
                    data.seek(0)
                if self.client.api.put_archive(self.id, folder, data):
                    return
                raise InfraError(f"{doing}: Docker refused the archive", kind=FaultKind.COPY_FAILED)
            except NotFound as err:
                if _is_no_such_container(err):
                    raise _infra_error(err, doing) from err
                if attempt:  # the folder is there but leads nowhere (a link to /proc/self)
                    kind = FaultKind.COPY_FAILED
                    raise InfraError(f"{doing}: {_explain(err)}", kind=kind) from err
                code, out = self._run(["mkdir", "-p", folder], doing=doing)
                if code != 0:
                    raise InfraError(f"{doing}: {out.strip()}", kind=FaultKind.COPY_FAILED) from err
            except _sdk_errors() as err:
                fault = _infra_error(err, doing)
                if fault.kind == FaultKind.DOCKER and "not a directory" in _explain(err):
                    fault = InfraError(str(fault), kind=FaultKind.COPY_FAILED)  # the path's
                raise fault from err

    def _get_archive(self, path: str) -> _Archive:
        """The archive of `path` as a stream of chunks that can be closed before its end (the
        HTTP response is then dropped, not left half read in the connection pool)."""
        from docker.errors import NotFound

        api = self.raw_api
        try:
            res = api._get(
                api._url("/containers/{0}/archive", self.id),
                params={"path": path},
                stream=True,
                headers={"Accept-Encoding": "identity"},
            )
            api._raise_for_status(res)
        except NotFound as err:
            if _is_no_such_container(err):
                raise _infra_error(err, f"Could not read {path}") from err
            raise FileNotFoundError(f"{path} (in container {self.name})") from err
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read {path} in {self.name}") from err
        return _Archive(res)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _absolute(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"Paths inside the sandbox must be absolute, got {path!r}")
    return posixpath.normpath(path)
