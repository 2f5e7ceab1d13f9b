"""Changes read from a container's overlay2 layers are the engine's own listing, entry for entry,
on an image whose layers delete files and remake folders; a container's links never lead the
walk out of its layer; a walk too large or too deep is left to the engine."""

from __future__ import annotations

import base64
import io
import os
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest

from swelancer.sandbox.docker import DockerSandbox
from swelancer.sandbox.docker.layer_changes import (
    LayersUnreadable,
    TooManyChanges,
    layer_changes,
    layers_of,
)
from swelancer.sandbox.docker.processes import _native_diff

pytestmark = pytest.mark.docker

# Lower layers with a whiteout of a file and of a folder, and a folder remade (opaque).
DOCKERFILE = """FROM {base}
RUN mkdir -p /opt/keep /srv/d /op/old && echo a > /opt/keep/a && echo b > /opt/keep/b \\
 && touch /srv/d/f /usr/bin/xx /op/old/o && echo gone > /was-deleted \\
 && mkdir -p /gone-dir/s && touch /gone-dir/s/t
RUN rm /was-deleted && rm -rf /gone-dir /op && mkdir -p /op/new && touch /op/new/n
RUN mknod /srv/blk b 7 200 && mkdir -p /srv/to-blk/x /srv/to-sock /srv/op/b/c /srv/capdir \\
 && touch /srv/to-blk/f /srv/to-sock/s /srv/op/b/f /srv/op/b/c/f
"""

# What a container does to its filesystem: every kind of change the engine tells apart.
CHANGES = r"""set -e
echo new > /new-file; mkdir -p /new-dir/a/b; echo x > /new-dir/a/b/f
cd /tmp && touch "$(printf 'bad\377\376')" "$(printf 'a\nb')" && mkdir "$(printf 'd\342\202')"
touch "$(printf 'd\342\202/in')" && cd /
echo more >> /etc/debian_version
chmod 600 /etc/issue
touch -d '2001-01-01' /etc/issue.net
rm -f /etc/motd
rm -rf /usr/share/doc/bash
rm -rf /opt/keep && mkdir /opt/keep && echo n > /opt/keep/n
rm /usr/bin/xx && mkdir /usr/bin/xx && touch /usr/bin/xx/in
rm -rf /srv/d && echo f > /srv/d
ln -s / /link-root && ln -s /etc /etc-link
mkfifo /fifo-new
ln /etc/issue /hardlink-new
cat /etc/os-release > /dev/null
echo back > /was-deleted
mkdir -p /gone-dir/s && touch /op/old /op/new/n2
touch /usr/share/doc
exec 3>>/etc/adduser.conf; exec 3>&-
mkdir -p /tmp/deep && cd /tmp/deep && for i in $(seq 1 20); do mkdir d && cd d; done; touch leaf
touch -d '2001-01-01' /srv/blk
rm -rf /srv/to-sock
perl -MSocket -e 'socket(S, PF_UNIX, SOCK_STREAM, 0); bind(S, pack_sockaddr_un("/srv/to-sock"))'
rm -rf /srv/op && mkdir -p /srv/op/b/c
"""

# What only a container with Docker's default capabilities (MKNOD, SETFCAP) can do.
PRIVILEGED_CHANGES = """set -e
rm -rf /srv/to-blk && mknod /srv/to-blk b 7 201
echo {} | base64 -d | tar --xattrs --xattrs-include='*' -xpf - -C /
"""


def capability_tar() -> str:
    """A tar (base64) that sets a file capability on the folder /srv/capdir, nothing else."""
    info = tarfile.TarInfo("srv/capdir")
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    cap = "\x01\x00\x00\x02\x00\x20" + "\x00" * 14  # v2, effective, cap_net_raw
    info.pax_headers = {"SCHILY.xattr.security.capability": cap}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture(scope="module")
def layered_image(docker_client: Any, base_image: str) -> Iterator[str]:
    tag = "swelancer-test/layers:1"
    dockerfile = io.BytesIO(DOCKERFILE.format(base=base_image).encode())
    docker_client.images.build(fileobj=dockerfile, tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def sandbox(image: str, client: Any, run_id: str, **options: Any) -> DockerSandbox:
    labels = {"swelancer.run_id": run_id}
    return DockerSandbox.start(
        image, command=["sleep", "infinity"], labels=labels, client=client, **options
    )


def readable_layers(box: DockerSandbox, client: Any):
    """The sandbox's layers; in CI (root, a local overlay2 engine) they must be readable."""
    layers = layers_of(box.container.attrs, native_diff=_native_diff(client))
    if layers is None and not os.environ.get("CI"):
        pytest.skip("this engine's layers cannot be read here (not root, or not overlay2)")
    assert layers is not None, box.container.attrs.get("GraphDriver")
    return layers


def engine_listing(client: Any, box: DockerSandbox) -> list[tuple[str, int]]:
    return sorted((c["Path"], c["Kind"]) for c in client.api.diff(box.id) or [])


def test_the_layers_give_the_engines_own_listing(layered_image, docker_client, docker_run_id):
    with sandbox(layered_image, docker_client, docker_run_id) as box:
        assert box.exec(["sh", "-c", CHANGES]).exit_code == 0
        layers = readable_layers(box, docker_client)
        mine = layer_changes(layers)
        assert len(mine) == len(set(mine))
        assert sorted(mine) == engine_listing(docker_client, box)
        assert sorted(box.changes()) == sorted(mine)
        found = dict(mine)
        # the deletions of the image's own layers count: what they removed is added anew
        assert found["/was-deleted"] == 1 and found["/gone-dir"] == 1 and found["/op/old"] == 1
        assert found["/opt/keep/a"] == 2 and found["/etc/motd"] == 2  # a remade folder, a file
        # names that are not UTF-8 read as the engine's JSON gives them, one U+FFFD a byte
        assert found["/tmp/bad\ufffd\ufffd"] == 1 and found["/tmp/d\ufffd\ufffd/in"] == 1
        assert all(path.encode("utf-8") for path in found)  # no lone surrogates
        # a link is an entry of the container's own, never followed into the host
        assert found["/link-root"] == 1
        assert not any(p.startswith(("/link-root/", "/etc-link/")) for p in found)
        # the engine takes a block device or a socket for a folder (its mode has S_IFDIR's
        # bit): a block device's time is no change, a socket's old folder lost its children
        assert "/srv/blk" not in found and found["/srv/to-sock/s"] == 2
        assert found["/srv/op/b/f"] == 2 and found["/srv/op/b/c/f"] == 2  # under a remade one


def test_devices_and_capabilities_with_dockers_default_capabilities(
    layered_image, docker_client, docker_run_id
):
    with sandbox(layered_image, docker_client, docker_run_id, cap_drop=[]) as box:
        script = PRIVILEGED_CHANGES.format(capability_tar())
        assert box.exec(["sh", "-c", script]).exit_code == 0
        mine = layer_changes(readable_layers(box, docker_client))
        assert sorted(mine) == engine_listing(docker_client, box)
        found = dict(mine)
        assert found["/srv/to-blk"] == 0 and found["/srv/to-blk/f"] == 2  # as for a socket
        assert found["/srv/capdir"] == 0  # a folder's capability is a change too


def test_a_walk_too_deep_is_left_to_the_engine(layered_image, docker_client, docker_run_id):
    deep = "mkdir -p /deep && cd /deep && for i in $(seq 1 230); do mkdir d && cd d; done"
    with sandbox(layered_image, docker_client, docker_run_id) as box:
        assert box.exec(["bash", "-c", deep + " && touch leaf"]).exit_code == 0
        layers = readable_layers(box, docker_client)
        with pytest.raises(LayersUnreadable, match="deep"):
            layer_changes(layers)
        with pytest.raises(TooManyChanges, match="entries"):  # the engine's would be as long
            layer_changes(layers, max_entries=50)
        listed = sorted(box.changes())
        assert listed == engine_listing(docker_client, box)
        assert ("/deep" + "/d" * 230 + "/leaf", 1) in listed


IMAGE_READS = ["/opt/keep/a", "/etc/debian_version", "/etc/motd", "/was-deleted", "/op/old/o",
               "/op/new/n", "/srv/d/f", "/usr/bin/xx", "/srv/blk", "/etc", "/nope", "/nope/x",
               "/etc-link/passwd", "/etc/os-release", "/bin/sh"]  # fmt: skip


def test_the_images_files_read_from_its_layers_are_a_reference_containers(
    layered_image, docker_client, docker_run_id, tmp_path
):
    with sandbox(layered_image, docker_client, docker_run_id) as box:
        assert box.exec(["sh", "-c", CHANGES]).exit_code == 0
        readable_layers(box, docker_client)
        marks = {"swelancer.run_id": docker_run_id}
        with DockerSandbox.reference(layered_image, labels=marks, client=docker_client) as ref:
            answered = 0
            for n, path in enumerate(IMAGE_READS):
                try:
                    mine = box.image_copy_out(path, tmp_path / f"mine-{n}")
                except FileNotFoundError:
                    mine = "missing"
                try:
                    theirs = ref.copy_out(path, tmp_path / f"ref-{n}")
                except FileNotFoundError:
                    theirs = "missing"
                if mine is None:  # a folder, or past a link: the reference container's to read
                    assert path in ("/etc", "/usr/bin/xx") or path.startswith(
                        ("/etc-link", "/bin/")
                    )
                    continue
                answered += 1
                assert mine == theirs, path
                if mine != "missing" and (tmp_path / f"ref-{n}").is_file():
                    assert (tmp_path / f"mine-{n}").read_bytes() == (
                        tmp_path / f"ref-{n}"
                    ).read_bytes(), path
            assert answered >= 10
