"""Build the contract images: upstream's own runtime scripts, verbatim, over our stand-ins.

    python tests/contract/build.py                 # base, monolith and one image per IC task
    python tests/contract/build.py --no-per-task   # base and monolith only

Images (see README.md):
  swelancer-contract/swelancer_x86:base              FROM debian:bookworm-slim, tests/contract/
                                                     Dockerfile.base (mirrors Dockerfile_x86_base)
  swelancer-contract/swelancer_x86_monolith:contract upstream's Dockerfile_x86_monolith
  swelancer-contract/swelancer_x86_<ID>:contract     upstream's Dockerfile_x86_per_task, one per
                                                     IC task (setup_expensify.yml at build time)
The two upstream Dockerfiles are used with only their FROM line replaced. Upstream files are
read from `<repo>/../shared/upstream/preparedness_51052ce_swelancer` (or $SWELANCER_UPSTREAM_DIR)
and copied into a temporary build context, never into the repository.

Each image is labelled with the sha256 of its inputs; a build whose image already carries the
current digest is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CONTRACT_DIR = Path(__file__).resolve().parent
REPO_ROOT = CONTRACT_DIR.parent.parent
MANIFEST = CONTRACT_DIR / "tasks" / "manifest.csv"
IMAGE_PREFIX = "swelancer-contract/swelancer_x86"
IMAGE_TAG = "contract"
BASE_IMAGE = f"{IMAGE_PREFIX}:base"
MONOLITH_IMAGE = f"{IMAGE_PREFIX}_monolith:{IMAGE_TAG}"
FROM_IMAGE = "debian:bookworm-slim"
DIGEST_LABEL = "swelancer.contract.digest"
KIND_LABEL = "swelancer.contract.kind"
UPSTREAM_NAME = "preparedness_51052ce_swelancer"

RUNTIME_SCRIPTS = (
    "run.sh",
    "run_tests.yml",
    "setup_expensify.yml",
    "setup_mitmproxy.yml",
    "rewrite_test.py",
    "replay.py",
    "npm_fix.py",
    "pusher_nginx.conf",
)
UPSTREAM_FILES = (
    *(f"runtime_scripts/{name}" for name in RUNTIME_SCRIPTS),
    "issues/conftest.py",
    "Dockerfile_x86_monolith",
    "Dockerfile_x86_per_task",
    "runtime_utils/trace_cleaner.py",
    "runtime_utils/check_flows.py",
    "runtime_utils/online_guard.py",
)
OUR_DIRS = ("standins", "app")
WHEELS = (
    "libcst==1.5.1",
    "pyyaml==6.0.2",
    "pytest==8.3.4",
    "iniconfig==2.0.0",
    "packaging==24.2",
    "pluggy==1.5.0",
    "pytest-asyncio==0.25.0",
    "pillow==10.4.0",
    "flit_core==3.10.1",
)
"""The image's PyPI packages, dependencies included, each pinned."""
WHEEL_CACHE = Path(
    os.environ.get("SWELANCER_CONTRACT_WHEELS")
    or Path.home() / ".cache" / "swelancer-contract" / "wheels"
)
PLATFORM_ARGS = (
    "--only-binary=:all:",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    "--abi",
    "abi3",
    "--abi",
    "none",
    "--platform",
    "manylinux_2_28_x86_64",
    "--platform",
    "manylinux_2_17_x86_64",
    "--platform",
    "manylinux2014_x86_64",
    "--platform",
    "any",
)
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")


def _task_ids(variant: str) -> tuple[str, ...]:
    with MANIFEST.open(newline="", encoding="utf-8") as handle:
        return tuple(
            row["question_id"] for row in csv.DictReader(handle) if row["variant"] == variant
        )


IC_TASKS: tuple[str, ...] = _task_ids("ic_swe")
MANAGER_TASKS: tuple[str, ...] = _task_ids("swe_manager")


class ContractImageError(RuntimeError):
    """The contract images cannot be built (missing inputs, engine or build failure)."""


def per_task_image(question_id: str) -> str:
    """`swelancer-contract/swelancer_x86_<ID>:contract`, as upstream names per-task images."""
    return f"{IMAGE_PREFIX}_{question_id}:{IMAGE_TAG}"


def upstream_dir() -> Path:
    """Upstream's `project/swelancer` snapshot; a clear error when it (or a file) is missing."""
    configured = os.environ.get("SWELANCER_UPSTREAM_DIR")
    folder = (
        Path(configured)
        if configured
        else (REPO_ROOT.parent / "shared" / "upstream" / UPSTREAM_NAME)
    )
    if not folder.is_dir():
        raise ContractImageError(
            f"upstream SWE-Lancer runtime not found at {folder}: the contract image runs "
            f"upstream's scripts verbatim. Put the {UPSTREAM_NAME} snapshot there or set "
            "SWELANCER_UPSTREAM_DIR to its path."
        )
    missing = [name for name in UPSTREAM_FILES if not (folder / name).is_file()]
    if not (folder / "runtime_utils").is_dir():
        missing.append("runtime_utils/")
    if missing:
        raise ContractImageError(f"upstream snapshot {folder} lacks {', '.join(missing)}")
    return folder


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, ignore=SKIP, dirs_exist_ok=True)
    else:
        shutil.copy2(src, dest)


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _cached_wheels() -> dict[str, Path]:
    """`name==version` -> wheel file, for the wheels in the cache."""
    found: dict[str, Path] = {}
    for wheel in WHEEL_CACHE.glob("*.whl"):
        name, version = wheel.name.split("-")[:2]
        found[f"{_normalize(name)}=={version}"] = wheel
    return found


def wheelhouse(on_line: Callable[[str], None]) -> list[Path]:
    """The pinned wheels, downloaded by the host's pip into a cache the first time."""
    wanted = {_normalize(spec.split("==")[0]) + "==" + spec.split("==")[1]: spec for spec in WHEELS}
    missing = [spec for key, spec in wanted.items() if key not in _cached_wheels()]
    if missing:
        on_line(f"downloading {len(missing)} wheel(s) into {WHEEL_CACHE}")
        WHEEL_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                *PLATFORM_ARGS,
                "-d",
                str(WHEEL_CACHE),
                *missing,
            ],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise ContractImageError(
                "pip could not download the contract image's wheels "
                f"({', '.join(missing)}):\n{(done.stderr or done.stdout)[-1500:]}"
            )
    cached = _cached_wheels()
    absent = [spec for key, spec in wanted.items() if key not in cached]
    if absent:
        raise ContractImageError(f"no wheel for {', '.join(absent)} in {WHEEL_CACHE}")
    return [cached[key] for key in wanted]


def assemble_base_context(dest: Path, upstream: Path, wheels: Iterable[Path] = ()) -> None:
    """Lay out the base build context: our Dockerfile, stand-ins, app and tasks, the wheels,
    upstream's runtime scripts, runtime_utils/ and issues/conftest.py."""
    _copy(CONTRACT_DIR / "Dockerfile.base", dest / "Dockerfile")
    (dest / "wheels").mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        _copy(wheel, dest / "wheels" / wheel.name)
    for name in OUR_DIRS:
        _copy(CONTRACT_DIR / name, dest / name)
    for task in sorted((CONTRACT_DIR / "tasks" / "issues").iterdir()):
        if task.is_dir():
            _copy(task, dest / "issues" / task.name)
    _copy(upstream / "issues" / "conftest.py", dest / "issues" / "conftest.py")
    _copy(upstream / "runtime_utils", dest / "runtime_utils")
    for name in RUNTIME_SCRIPTS:
        _copy(upstream / "runtime_scripts" / name, dest / "runtime_scripts" / name)


def derived_dockerfile(upstream_text: str, base_image: str) -> str:
    """Upstream's Dockerfile with only its FROM line replaced."""
    replaced, count = re.subn(r"(?m)^FROM\s+\S+", f"FROM {base_image}", upstream_text, count=1)
    if count != 1:
        raise ContractImageError("upstream Dockerfile has no FROM line")
    return replaced


def tree_digest(root: Path, *extra: str) -> str:
    """sha256 over every file of a folder (path, executable bit, bytes) and extra strings."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        digest.update(rel.encode() + b"\0")
        if path.is_symlink():
            digest.update(b"link:" + os.readlink(path).encode())
        else:
            digest.update(b"x" if os.access(path, os.X_OK) else b"-")
            digest.update(path.read_bytes())
        digest.update(b"\0")
    for item in extra:
        digest.update(item.encode() + b"\0")
    return digest.hexdigest()


def _client(client: Any | None) -> Any:
    if client is not None:
        return client
    try:
        import docker

        made = docker.from_env(timeout=600)
        made.ping()
        return made
    except Exception as exc:
        raise ContractImageError(f"Docker engine not reachable: {exc}") from exc


def _build(
    client: Any,
    context: Path,
    tag: str,
    digest: str,
    kind: str,
    on_line: Callable[[str], None],
    buildargs: dict[str, str] | None = None,
    no_cache: bool = False,
) -> str:
    """Build one image unless it already carries `digest`; return its id."""
    from docker.errors import APIError, ImageNotFound

    old_id = None
    try:
        current = client.images.get(tag)
        old_id = current.id
        if (current.labels or {}).get(DIGEST_LABEL) == digest and not no_cache:
            on_line(f"{tag}: up to date ({current.short_id})")
            return current.id
    except ImageNotFound:
        pass
    on_line(f"{tag}: building")
    started = time.monotonic()
    stream: Iterable[dict[str, Any]] = client.api.build(
        path=str(context),
        tag=tag,
        rm=True,
        forcerm=True,
        pull=False,
        nocache=no_cache,
        decode=True,
        labels={DIGEST_LABEL: digest, KIND_LABEL: kind},
        buildargs=buildargs or {},
    )
    tail: list[str] = []
    for chunk in stream:
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                tail = [*tail[-40:], line]
                on_line(f"  {line}")
        if "error" in chunk:
            raise ContractImageError(
                f"building {tag} failed: {chunk['error'].strip()}\n" + "\n".join(tail[-25:])
            )
    image = client.images.get(tag)
    on_line(f"{tag}: built {image.short_id} in {time.monotonic() - started:.0f} s")
    if old_id and old_id != image.id:
        with contextlib.suppress(APIError):  # still used by a container or a tag: leave it
            client.images.remove(old_id, noprune=False)
    return image.id


def build_contract_images(
    client: Any | None = None,
    *,
    per_task: bool = True,
    on_line: Callable[[str], None] = print,
    no_cache: bool = False,
) -> dict[str, str]:
    """Build (or reuse) the contract images; return {image name: image id}. `no_cache`
    rebuilds every layer (a cold build, but for the Debian base image and the wheel cache)."""
    from docker.errors import ImageNotFound

    client = _client(client)
    upstream = upstream_dir()
    try:
        from_id = client.images.get(FROM_IMAGE).id
    except ImageNotFound:
        raise ContractImageError(
            f"{FROM_IMAGE} is not on the engine; the contract build never pulls "
            f"(`docker pull {FROM_IMAGE}`)"
        ) from None
    built: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="swelancer-contract-") as tmp:
        base_context = Path(tmp) / "base"
        assemble_base_context(base_context, upstream, wheelhouse(on_line))
        base_digest = tree_digest(base_context, from_id)
        built[BASE_IMAGE] = _build(
            client, base_context, BASE_IMAGE, base_digest, "base", on_line, no_cache=no_cache
        )
        derived = [(MONOLITH_IMAGE, "Dockerfile_x86_monolith", "monolith", None)]
        if per_task:
            derived += [
                (per_task_image(q), "Dockerfile_x86_per_task", "per-task", q) for q in IC_TASKS
            ]
        for tag, name, kind, question_id in derived:
            context = Path(tmp) / tag.replace("/", "_").replace(":", "_")
            context.mkdir()
            text = derived_dockerfile((upstream / name).read_text(), BASE_IMAGE)
            (context / "Dockerfile").write_text(text)
            digest = hashlib.sha256(
                f"{built[BASE_IMAGE]}\0{base_digest}\0{text}\0{question_id}".encode()
            ).hexdigest()
            args = {"ISSUE_ID": question_id} if question_id else None
            built[tag] = _build(
                client, context, tag, digest, kind, on_line, args, no_cache=no_cache
            )
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-per-task", action="store_true", help="skip the per-task images")
    parser.add_argument("--quiet", action="store_true", help="print only image lines")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every layer")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def on_line(line: str) -> None:
        if not args.quiet or not line.startswith("  "):
            print(line, flush=True)

    try:
        images = build_contract_images(
            per_task=not args.no_per_task, on_line=on_line, no_cache=args.no_cache
        )
    except ContractImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, image_id in images.items():
        print(f"{name}  {image_id[7:19]}")
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
