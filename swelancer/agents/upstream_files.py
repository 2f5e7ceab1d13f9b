"""Upstream's prompt files, pinned by commit and sha256: found in a local folder, in the cache,
or downloaded into it (from GitHub or a mirror). Read as bytes only: never imported or run.

Where they come from, in order: `--prompts FOLDER`; else `SWELANCER_PROMPTS` (a folder, or the
base URL of a mirror laid out as raw.githubusercontent.com is: `BASE/OWNER/REPO/COMMIT/PATH`;
`file://` URLs work); else GitHub. Downloads are cached by checksum under the manifests' cache
directory (`tasks.sources.cache_dir()/prompts`), so a pinned file is fetched once per machine.

A folder may hold the files by their upstream names (`prompts.py`, `solver.py`,
`swelancer_agent.py`), in the layout of the shared upstream snapshot
(`preparedness_51052ce_swelancer/swelancer/...`, `SWELancer-Benchmark_fff675d/...`), or in the
mirror layout above.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from swelancer.errors import ConfigError
from swelancer.tasks.sources import DownloadError, cache_dir, download_file, sha256_of

ENV = "SWELANCER_PROMPTS"
GITHUB_RAW = "https://raw.githubusercontent.com"
PREPAREDNESS = ("openai/preparedness", "51052cede8cc608f95bb00346635e03759013e5a")
OLD_HARNESS = ("openai/SWELancer-Benchmark", "fff675d2de326ae0db73638b2944cb5e3b2b201b")


class PinnedFile(BaseModel):
    """One upstream file at one commit, with the checksum it must have."""

    key: str
    repo: str
    commit: str
    path: str
    sha256: str
    snapshot: str
    """Where the shared upstream snapshot keeps it (one accepted folder layout)."""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{self.path}"

    def in_folder(self, folder: Path) -> list[Path]:
        """Where a folder may hold this file, in the order they are looked for."""
        return [folder / self.name, folder / self.snapshot, folder / self.url("").lstrip("/")]


PINNED: tuple[PinnedFile, ...] = (
    PinnedFile(
        key="prompts",
        repo=PREPAREDNESS[0],
        commit=PREPAREDNESS[1],
        path="project/swelancer/swelancer/prompts.py",
        sha256="ccae75af1dc3c84b1ef67b97354a110874184f4bc2365a55db100b7930338f6d",
        snapshot="preparedness_51052ce_swelancer/swelancer/prompts.py",
    ),
    PinnedFile(
        key="solver",
        repo=PREPAREDNESS[0],
        commit=PREPAREDNESS[1],
        path="project/swelancer/swelancer/solvers/swelancer_agent/solver.py",
        sha256="860c8bf2e65d02de9d768ff36fee6d80bb8d3dfa9955e6b83ad983ea49c62012",
        snapshot="preparedness_51052ce_swelancer/swelancer/solvers/swelancer_agent/solver.py",
    ),
    PinnedFile(
        key="old_agent",
        repo=OLD_HARNESS[0],
        commit=OLD_HARNESS[1],
        path="swelancer_agent.py",
        sha256="499f185bed3068221be4ccf317b60475006870516783f88f5796063760c0a8b6",
        snapshot="SWELancer-Benchmark_fff675d/swelancer_agent.py",
    ),
)


class FileRecord(BaseModel):
    """What run.json says of one file: which upstream file, its checksum, where it was read."""

    repo: str
    commit: str
    path: str
    sha256: str
    read_from: str
    """The local file, or the URL the cached copy was downloaded from."""


class PromptFiles(BaseModel):
    """The pinned files, found: their local paths and their provenance."""

    origin: str
    """The folder or base URL they came from."""
    paths: dict[str, Path]
    records: dict[str, FileRecord]


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "file:"))


def locate(folder: Path | None = None, *, show_progress: bool = True) -> PromptFiles:
    """The pinned files from `folder`, else from `SWELANCER_PROMPTS`, else from GitHub (cached).
    `ConfigError` (one paragraph) when a file is missing, unreachable or not the pinned one."""
    if folder is None:
        setting = os.environ.get(ENV, "").strip()
        if setting and not _is_url(setting):
            folder = Path(setting).expanduser()
        elif setting:
            return _from_mirror(setting, show_progress)
        else:
            return _from_mirror(GITHUB_RAW, show_progress)
    return _from_folder(folder)


def _from_folder(folder: Path) -> PromptFiles:
    if not folder.is_dir():
        raise ConfigError(
            f"{folder} is not a folder. --prompts takes `upstream`, `swelancer`, or a folder "
            f"holding copies of upstream's files ({_names()})."
        )
    paths: dict[str, Path] = {}
    records: dict[str, FileRecord] = {}
    for pin in PINNED:
        found = next((p for p in pin.in_folder(folder) if p.is_file()), None)
        if found is None:
            raise ConfigError(
                f"{folder} has no copy of upstream's {pin.path} ({pin.repo} at {pin.commit[:7]}); "
                f"looked for {', '.join(str(p) for p in pin.in_folder(folder))}. Put the file "
                f"there as {pin.name}, or use --prompts upstream to download it."
            )
        _check(pin, found, str(found))
        paths[pin.key] = found
        records[pin.key] = _record(pin, str(found.resolve()))
    return PromptFiles(origin=str(folder.resolve()), paths=paths, records=records)


def _from_mirror(base: str, show_progress: bool) -> PromptFiles:
    paths: dict[str, Path] = {}
    records: dict[str, FileRecord] = {}
    for pin in PINNED:
        url = pin.url(base)
        cached = cache_dir() / "prompts" / f"{pin.sha256[:16]}-{pin.name}"
        if not (cached.is_file() and sha256_of(cached) == pin.sha256):
            try:
                download_file(url, cached, show_progress=show_progress)
            except DownloadError as exc:
                raise ConfigError(_offline(pin, url, exc.detail)) from None
            try:
                _check(pin, cached, url)
            except ConfigError:
                cached.unlink(missing_ok=True)
                raise
        paths[pin.key] = cached
        records[pin.key] = _record(pin, url)
    return PromptFiles(origin=base, paths=paths, records=records)


def _record(pin: PinnedFile, read_from: str) -> FileRecord:
    return FileRecord(
        repo=pin.repo, commit=pin.commit, path=pin.path, sha256=pin.sha256, read_from=read_from
    )


def _check(pin: PinnedFile, path: Path, where: str) -> None:
    actual = sha256_of(path)
    if actual != pin.sha256:
        raise ConfigError(
            f"{where} is not upstream's {pin.path} at {pin.repo}@{pin.commit[:7]}: its sha256 is "
            f"{actual}, the pinned file's is {pin.sha256}. The prompts are pinned so that every "
            f"run sends the same words; use the file of that commit "
            f"({pin.url(GITHUB_RAW)}), or --prompts swelancer for this project's own wording."
        )


def _offline(pin: PinnedFile, url: str, detail: str) -> str:
    return (
        f"could not download upstream's prompt file {pin.path} ({pin.repo} at {pin.commit[:7]}) "
        f"from {url} ({detail}), and no copy is cached in {cache_dir() / 'prompts'}. Without "
        f"the network, give local copies: put {_names()} from those commits in a folder and "
        f"pass --prompts FOLDER (or set {ENV}=FOLDER, or {ENV} to a mirror's base URL); or run "
        "with --prompts swelancer to send this project's own wording instead."
    )


def _names() -> str:
    return ", ".join(pin.name for pin in PINNED)
