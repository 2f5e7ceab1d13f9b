"""The images a run needs on the engine: present, or (the demo image) built here from the
project's own build context, rebuilt when that context changed."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from swelancer.errors import FaultKind, InfraError
from swelancer.sandbox.docker.host_lock import engine_lock
from swelancer.sandbox.engine import DEMO_IMAGE
from swelancer.tasks.sources import bundled_dir

if TYPE_CHECKING:
    from docker.client import DockerClient

__all__ = ["DEMO_IMAGE", "build_demo_image", "build_image", "ensure_images", "image_exists"]


def demo_context(dest: Path) -> Path:
    """Assemble the demo image's build context: docker/demo/ plus tasks/demo/ as `tasks/`."""
    docker_dir = bundled_dir("docker", "demo")
    tasks_dir = bundled_dir("tasks", "demo")
    if not (docker_dir / "Dockerfile").exists():
        raise InfraError(
            f"the demo image's Dockerfile is not here ({docker_dir}/Dockerfile). Use a source "
            "checkout of swelancer to build it.",
            kind=FaultKind.IMAGE_MISSING,
        )
    shutil.copytree(docker_dir, dest, dirs_exist_ok=True)
    shutil.copytree(tasks_dir, dest / "tasks", dirs_exist_ok=True)
    return dest


CONTEXT_LABEL = "swelancer.context-sha256"
_IGNORED_PARTS = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def demo_context_digest() -> str:
    """sha256 of every file of the demo image's build context: names and contents. The image
    carries it as a label, so a stale demo image is rebuilt when the task set changes."""
    digest = hashlib.sha256()
    for prefix, root in (
        ("", bundled_dir("docker", "demo")),
        ("tasks/", bundled_dir("tasks", "demo")),
    ):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if _IGNORED_PARTS & set(path.parts) or path.suffix == ".pyc":
                continue
            digest.update(f"{prefix}{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def demo_image_is_current(client: DockerClient, tag: str = DEMO_IMAGE) -> bool:
    labels = client.images.get(tag).labels or {}
    return labels.get(CONTEXT_LABEL) == demo_context_digest()


def image_exists(client: DockerClient, image: str) -> bool:
    import docker.errors

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_demo_image(
    client: DockerClient, *, tag: str = DEMO_IMAGE, on_line: Callable[[str], None] | None = None
) -> str:
    """Build the demo image, streaming build output lines to `on_line`. Returns the image id."""
    with tempfile.TemporaryDirectory(prefix="swelancer-demo-ctx-") as tmp:
        context = demo_context(Path(tmp) / "ctx")
        labels = {CONTEXT_LABEL: demo_context_digest()}
        return build_image(client, context, tag=tag, labels=labels, on_line=on_line)


def build_image(
    client: DockerClient,
    context: Path,
    *,
    tag: str,
    labels: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Build the image of a context folder, passing each line of output to `on_line`; its id.
    The container of a failed step is removed too (the engine keeps it otherwise)."""
    import docker.errors

    try:
        stream = client.api.build(
            path=str(context), tag=tag, rm=True, forcerm=True, decode=True, labels=labels
        )
        last_error = None
        for chunk in stream:
            if "stream" in chunk and on_line:
                for line in chunk["stream"].splitlines():
                    if line.strip():
                        on_line(line)
            if "error" in chunk:
                last_error = chunk["error"]
        if last_error:
            raise InfraError(
                f"building {tag} failed: {last_error.strip()}", kind=FaultKind.IMAGE_BUILD
            )
        return client.images.get(tag).id or ""
    except docker.errors.APIError as exc:
        raise InfraError(f"building {tag} failed: {exc}", kind=FaultKind.IMAGE_BUILD) from None


def ensure_images(
    client: DockerClient,
    images: list[str],
    *,
    build_demo: bool = True,
    on_line: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Make sure every image is present (building the demo image if allowed); their ids."""
    ids: dict[str, str] = {}
    for image in dict.fromkeys(images):
        if image == DEMO_IMAGE and build_demo:
            _ensure_demo(client, on_line)
        if not image_exists(client, image):
            if image == DEMO_IMAGE:
                hint = "run `swelancer images build demo`"
            elif "swelancer_x86" in image:  # chosen from the manifest, not named by the user
                hint = (
                    f"run `docker pull {image}` (about 14 GB for upstream images), or pass "
                    "--image NAME to run every task in an image the engine holds"
                )
            else:
                hint = (
                    f"check the name (`docker images` lists what the engine holds), or get it "
                    f"with `docker pull {image}` or `docker build`"
                )
            raise InfraError(
                f"the Docker image {image} is not present on this engine; {hint}.",
                kind=FaultKind.IMAGE_MISSING,
            )
        ids[image] = client.images.get(image).id or ""
    return ids


def _ensure_demo(client: DockerClient, on_line: Callable[[str], None] | None) -> None:
    """Build the demo image when it is missing or older than the demo task set; processes
    that start together build it once (the others wait, then find it current)."""
    if image_exists(client, DEMO_IMAGE) and demo_image_is_current(client):
        return
    with engine_lock(client, "demo-build"):
        if not image_exists(client, DEMO_IMAGE):
            if on_line:
                on_line(f"building {DEMO_IMAGE} (first use; takes a few minutes)")
        elif not demo_image_is_current(client):
            if on_line:
                on_line(f"rebuilding {DEMO_IMAGE}: the demo task set changed since it was built")
        else:
            return
        build_demo_image(client, on_line=on_line)
