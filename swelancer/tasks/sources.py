"""Where task manifests come from: upstream downloads (cached), the bundled demo set, or a file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from swelancer.errors import ManifestError

CURRENT_URL = (
    "https://raw.githubusercontent.com/openai/preparedness/refs/heads/main/"
    "project/swelancer/all_swelancer_tasks.csv"
)
LITE_URL = (
    "https://raw.githubusercontent.com/openai/SWELancer-Benchmark/fff675d/swelancer_tasks_lite.csv"
)
# split name -> (which upstream file, environment variable that overrides its URL, default URL)
UPSTREAM = {
    "current": ("SWELANCER_MANIFEST_URL", CURRENT_URL),
    "lite": ("SWELANCER_LITE_MANIFEST_URL", LITE_URL),
}
SPLITS = ("diamond", "nondiamond", "all", "lite", "demo")


class ManifestSource(BaseModel):
    """Where a set of tasks was read from; recorded in run.json and shown by `tasks stats`."""

    kind: str  # upstream | demo | file
    split: str | None = None
    path: str
    url: str | None = None
    sha256: str
    fetched_at: str | None = None


def cache_dir() -> Path:
    """`SWELANCER_CACHE_DIR`, else the user cache directory of this platform."""
    override = os.environ.get("SWELANCER_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("swelancer"))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundled_dir(*parts: str) -> Path:
    """A folder shipped with the project: the source checkout's, else the installed copy's."""
    package = Path(__file__).resolve().parents[1]  # swelancer/
    for root in (package.parent, package / "_bundled"):
        candidate = root.joinpath(*parts)
        if candidate.exists():
            return candidate
    return package.parent.joinpath(*parts)


def demo_manifest_path() -> Path:
    path = bundled_dir("tasks", "demo") / "manifest.csv"
    if not path.exists():
        raise ManifestError(
            f"the demo task set is not available here (expected {path}). Install swelancer "
            "from a source checkout or a wheel that bundles tasks/demo, or pass --manifest PATH."
        )
    return path


def upstream_url(which: str) -> str:
    env_var, default = UPSTREAM[which]
    return os.environ.get(env_var) or default


def _cached_path(which: str, url: str) -> Path:
    tag = hashlib.sha256(url.encode()).hexdigest()[:12]
    return cache_dir() / "manifests" / f"{which}-{tag}.csv"


class DownloadError(Exception):
    """A download that did not complete; callers turn it into their own one-paragraph error."""

    def __init__(self, url: str, detail: str) -> None:
        self.url, self.detail = url, detail
        super().__init__(f"{url}: {detail}")


def download_file(url: str, dest: Path, *, show_progress: bool = True) -> None:
    """Fetch `url` (http(s), or a file:// URL or plain path for a local copy) to `dest`
    atomically: a temporary file renamed into place only when complete. Raises
    `DownloadError`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            if url.startswith("file:"):
                _copy_local(url, out)
            elif "://" not in url:  # a plain path
                _copy_local(Path(url).expanduser().resolve().as_uri(), out)
            else:
                _copy_http(url, out, dest.name, show_progress)
        tmp.replace(dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _copy_local(url: str, out) -> None:
    from urllib.parse import unquote, urlparse
    from urllib.request import url2pathname

    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise DownloadError(url, f"a file:// URL names no host ({parsed.netloc!r} given)")
    try:
        with Path(url2pathname(unquote(parsed.path))).open("rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
    except OSError as exc:
        raise DownloadError(url, f"{type(exc).__name__}: {exc.strerror or exc}") from None


def _copy_http(url: str, out, label: str, show_progress: bool) -> None:
    import httpx

    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0) or None
            _copy_with_progress(response.iter_bytes(), out, total, label, show_progress)
    except (httpx.HTTPError, OSError) as exc:
        detail = (
            f"the server answered {exc.response.status_code}"
            if isinstance(exc, httpx.HTTPStatusError)
            else f"{type(exc).__name__}: {exc}"
        )
        raise DownloadError(url, detail) from None


def download(
    url: str, dest: Path, *, show_progress: bool = True, env_var: str | None = None
) -> None:
    """`download_file` for a task manifest: a failure is a `ManifestError` saying what to do
    (offline: where to give a local copy)."""
    try:
        download_file(url, dest, show_progress=show_progress)
    except DownloadError as exc:
        mirror = (
            f", or point {env_var} at a local copy or a mirror (a path, a file:// or an "
            "http(s) URL) to use it for the splits as usual"
            if env_var
            else ""
        )
        raise ManifestError(
            f"could not download the task manifest from {url} ({exc.detail}). Check your network; "
            f"offline, pass a copy of the CSV with --manifest PATH{mirror}."
        ) from None


def _copy_with_progress(chunks, out, total: int | None, label: str, show: bool) -> None:
    if not show:
        for chunk in chunks:
            out.write(chunk)
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    columns = (TextColumn(f"downloading {label}"), BarColumn(), DownloadColumn(),
               TransferSpeedColumn())  # fmt: skip
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        bar = progress.add_task("download", total=total)
        for chunk in chunks:
            out.write(chunk)
            progress.update(bar, advance=len(chunk))


def fetch_upstream(which: str, *, refresh: bool = False, show_progress: bool = True) -> Path:
    """The cached copy of an upstream manifest, downloaded first when missing (or `refresh`)."""
    url = upstream_url(which)
    path = _cached_path(which, url)
    if refresh or not path.exists():
        download(url, path, show_progress=show_progress, env_var=UPSTREAM[which][0])
        meta = {
            "url": url,
            "sha256": sha256_of(path),
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=2))
        _write_atomic(path.with_suffix(".csv.sha256"), f"{meta['sha256']}  {path.name}\n")
    return path


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def resolve_source(
    split: str | None, manifest: Path | None, *, show_progress: bool = True
) -> ManifestSource:
    """Turn `--split`/`--manifest` into a local CSV path with its provenance."""
    if manifest is not None:
        if not manifest.exists():
            raise ManifestError(
                "no such file. Check the path given to --manifest.", path=str(manifest)
            )
        return ManifestSource(
            kind="file", split=split, path=str(manifest), sha256=sha256_of(manifest)
        )
    split = split or "diamond"
    if split not in SPLITS:
        raise ManifestError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
    if split == "demo":
        path = demo_manifest_path()
        return ManifestSource(kind="demo", split="demo", path=str(path), sha256=sha256_of(path))
    which = "lite" if split == "lite" else "current"
    path = fetch_upstream(which, show_progress=show_progress)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return ManifestSource(
        kind="upstream",
        split=split,
        path=str(path),
        url=meta.get("url") or upstream_url(which),
        sha256=sha256_of(path),
        fetched_at=meta.get("fetched_at"),
    )
