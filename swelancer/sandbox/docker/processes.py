"""The processes and the changes of a container, and its network."""

from __future__ import annotations

import contextlib
import re
from functools import cached_property
from typing import Any

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.changes import ChangeList, too_many
from swelancer.sandbox.docker.client import _client_key, _infra_error, _sdk_errors
from swelancer.sandbox.docker.core import ContainerCore
from swelancer.sandbox.docker.engine_changes import (
    CHUNK,
    ListingTooLong,
    ListingUnreadable,
    engine_changes,
)
from swelancer.sandbox.docker.layer_changes import (
    Layers,
    LayersUnreadable,
    TooManyChanges,
    layer_changes,
    layers_of,
)

_NATIVE_DIFF: dict[str, bool] = {}
"""Per engine: whether its overlay2 diff is native (an upper directory holds every change)."""


def _native_diff(client: Any) -> bool:
    key = _client_key(client)
    if key not in _NATIVE_DIFF:
        try:
            status = dict(client.api.info().get("DriverStatus") or [])
        except Exception:  # the engine's own listing is the fallback
            return False
        _NATIVE_DIFF[key] = str(status.get("Native Overlay Diff", "")).lower() == "true"
    return _NATIVE_DIFF[key]


class ProcessesMixin(ContainerCore):
    """Processes, filesystem changes and networks of `DockerSandbox`."""

    # -- processes ------------------------------------------------------------------------------

    def process_ids(self) -> set[int]:
        """The ids of the processes running in the container now (as the container numbers
        them). Lists `/proc` inside, so call it before handing the container over."""
        _, out = self._run(["sh", "-c", "ls /proc"], doing="Listing processes")
        return {int(p) for p in out.split() if p.isdigit() and len(p) < 10}

    def engine_processes(self) -> dict[int, str]:
        """The container's processes as the engine sees them (host pid: command line), read
        from the engine (`top`) without running anything inside the container."""
        try:
            info = self.client.api.top(self.id) or {}
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not list the processes of {self.name}") from err
        titles = [str(t).upper() for t in info.get("Titles") or []]
        if "PID" not in titles:
            return {}
        pid_at = titles.index("PID")
        cmd_at = next((titles.index(t) for t in ("CMD", "COMMAND") if t in titles), -1)
        found: dict[int, str] = {}
        for row in info.get("Processes") or []:
            with contextlib.suppress(ValueError, IndexError, TypeError):
                found[int(row[pid_at])] = str(row[cmd_at])[:300] if cmd_at >= 0 else ""
        return found

    read_layers: bool = True
    """List changes from the container's overlay2 layers when they are readable here (the
    same listing as the engine's, without its walk of the whole image); else ask the engine."""

    def changes(self) -> ChangeList:
        """What the container changed in its filesystem since it started from its image, as
        the engine records it: (path, kind) with kind 0 changed, 1 added, 2 deleted. Read
        from the layers, its `marks` tell what two listings both saw. Past `MAX_CHANGES`
        entries, an `InfraError` of kind `too_large` ("too many changes")."""
        layers = self._layers if self.read_layers else None
        if layers is not None:
            try:
                return layer_changes(layers)
            except TooManyChanges:
                raise too_many(self.name) from None
            except LayersUnreadable:
                pass  # the engine's own walk decides, as it would have anyway
        api = self.raw_api
        try:
            res = api._get(api._url("/containers/{0}/changes", self.id), stream=True)
            api._raise_for_status(res)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read the changes of {self.name}") from err
        try:
            return engine_changes(res.iter_content(CHUNK))
        except ListingTooLong:
            raise too_many(self.name) from None
        except ListingUnreadable as exc:
            raise InfraError(
                f"Could not read the changes of {self.name}: {exc}", kind=FaultKind.DOCKER
            ) from exc
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not read the changes of {self.name}") from err
        finally:
            res.close()

    @cached_property
    def _layers(self) -> Layers | None:
        """The container's layers on this host, found once from its inspect data."""
        attrs = getattr(self.container, "attrs", None)
        if not isinstance(attrs, dict) or not attrs.get("GraphDriver"):
            return None
        return layers_of(attrs, native_diff=_native_diff(self.client))

    def kill_processes_except(self, keep: set[int]) -> int:
        """Kill every process not in `keep` (nor PID 1); returns how many passes it took, or
        -1 when the container's shell did not say (it may have been replaced: check with
        `engine_processes`).

        Works even when a fork bomb has used up the container's process limit: the limit is
        raised for the moment it takes (the Docker API's container update), and the killing
        loop uses only shell builtins, so it forks nothing itself.
        """
        keep_list = " ".join(str(p) for p in sorted(keep | {1}))
        script = (
            f'keep=" {keep_list} "; n=0; while [ $n -lt 50 ]; do n=$((n+1)); left=0; '
            "for p in /proc/[0-9]*; do pid=${p#/proc/}; "
            '[ "$pid" = "$$" ] && continue; case "$keep" in *" $pid "*) continue;; esac; '
            "kill -9 $pid 2>/dev/null && left=1; done; "
            '[ $left = 0 ] && break; done; echo "passes=$n"'
        )
        limit = self._pids_limit()
        if limit:
            self._set_pids_limit(limit + 64)
        try:
            _, out = self._run(
                ["/bin/sh", "-c", script], doing="Killing leftover processes", timeout=120
            )
        finally:
            if limit:
                self._set_pids_limit(limit)
        found = re.findall(r"^passes=(\d{1,3})$", out, re.MULTILINE)
        return int(found[-1]) if found else -1

    def _pids_limit(self) -> int | None:
        try:
            info = self.client.api.inspect_container(self.id)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not inspect container {self.name}") from err
        limit = (info.get("HostConfig") or {}).get("PidsLimit")
        return int(limit) if limit and int(limit) > 0 else None

    def _set_pids_limit(self, limit: int) -> None:
        api = self.raw_api
        try:
            url = api._url("/containers/{0}/update", self.id)
            api._raise_for_status(api._post_json(url, data={"PidsLimit": limit}))
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not update the limits of {self.name}") from err

    # -- network --------------------------------------------------------------------------------

    def disconnect_network(self) -> None:
        """Disconnect the container from every Docker network (it keeps only `lo`), remembering
        them for `connect_network`. Idempotent. Works on any engine: no iptables involved."""
        detached = self._detached_networks if self._detached_networks is not None else {}
        self._detached_networks = detached
        for net, settings in self._networks().items():
            try:
                self.client.api.disconnect_container_from_network(self.id, net, force=True)
            except _sdk_errors() as err:
                raise _infra_error(err, f"Could not disconnect {self.name} from {net}") from err
            detached[net] = [a for a in (settings or {}).get("Aliases") or [] if a]

    def connect_network(self) -> None:
        """Reconnect the networks `disconnect_network` took away. Idempotent."""
        if self._detached_networks is None:
            return
        current = self._networks()
        for net, aliases in list(self._detached_networks.items()):
            options: dict[str, Any] = {}
            if aliases and net not in ("bridge", "host", "none"):
                options["aliases"] = [a for a in aliases if not self.id.startswith(a)]
            try:
                if net not in current:
                    self.client.api.connect_container_to_network(self.id, net, **options)
            except _sdk_errors() as err:
                raise _infra_error(err, f"Could not connect {self.name} to {net}") from err
            del self._detached_networks[net]
        self._detached_networks = None

    def _networks(self) -> dict[str, Any]:
        try:
            info = self.client.api.inspect_container(self.id)
        except _sdk_errors() as err:
            raise _infra_error(err, f"Could not inspect container {self.name}") from err
        return dict((info.get("NetworkSettings") or {}).get("Networks") or {})
