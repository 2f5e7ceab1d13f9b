"""Build the stand-in Expensify repository from `history/*.patch`, deterministically.

    python build_repo.py DEST                     # the repository at DEST (image build, tests)
    python build_repo.py --lockfile package.json  # print the package-lock.json for a package.json

The patches are `git format-patch` mboxes, applied in order with `git am`, the committer being
the author and the commit date the author date, with no user or system git configuration: the
commit hashes are the same on every build, on the host and in the image. The result has
`master` checked out and a remote-tracking `origin/master` at the same commit (upstream's setup
runs `git reset --hard origin/master` before checking out a task's commit).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HISTORY = Path(__file__).resolve().parent / "history"
ORIGIN_URL = "https://github.com/Expensify/App.git"

# Packages the lockfile pins besides the direct dependencies (name -> version), and who needs them.
TRANSITIVE: dict[str, dict[str, str]] = {
    "react": {"loose-envify": "1.4.0"},
    "react-dom": {"loose-envify": "1.4.0", "scheduler": "0.23.2"},
    "loose-envify": {"js-tokens": "4.0.0"},
    "react-native-web": {"inline-style-prefixer": "6.0.4", "memoize-one": "6.0.0"},
    "webpack": {"enhanced-resolve": "5.17.1", "watchpack": "2.4.2"},
    "webpack-dev-server": {"chokidar": "3.6.0", "express": "4.19.2"},
    "@babel/core": {"@babel/parser": "7.25.6", "@babel/types": "7.25.6"},
}


def git_env(home: str) -> dict[str, str]:
    """An environment in which no configuration but ours reaches git."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "HOME": home,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_COMMITTER_NAME": "Expensify Contributor",
            "GIT_COMMITTER_EMAIL": "contributors@expensify.invalid",
            "LC_ALL": "C",
            "TZ": "UTC",
        }
    )
    return env


def git(repo: Path, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repo}:\n{done.stderr}{done.stdout}")
    return done.stdout


def patches(history: Path = HISTORY) -> list[Path]:
    found = sorted(history.glob("*.patch"))
    if not found:
        raise FileNotFoundError(f"no patches in {history}")
    return found


def build_repo(dest: Path, history: Path = HISTORY) -> list[tuple[str, str]]:
    """Create the repository at `dest` (must not exist); return (hash, subject), oldest first."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} exists and is not empty")
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        env = git_env(home)
        git(dest, "init", "-q", "-b", "master", env=env)
        git(dest, "config", "core.autocrlf", "false", env=env)
        for patch in patches(history):
            git(
                dest,
                "am",
                "-q",
                "--committer-date-is-author-date",
                "--whitespace=nowarn",
                "--keep-cr",
                str(patch),
                env=env,
            )
        git(dest, "remote", "add", "origin", ORIGIN_URL, env=env)
        git(dest, "update-ref", "refs/remotes/origin/master", "HEAD", env=env)
        log = git(dest, "log", "--reverse", "--format=%H %s", env=env)
    return [tuple(line.split(" ", 1)) for line in log.splitlines()]  # type: ignore[misc]


def commit_hashes(history: Path = HISTORY) -> list[tuple[str, str]]:
    """(hash, subject) of each commit, by building the repository in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        return build_repo(Path(tmp) / "repo", history)


def integrity(name: str, version: str) -> str:
    digest = hashlib.sha512(f"{name}@{version}".encode()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def lockfile(package: dict[str, Any]) -> dict[str, Any]:
    """The package-lock.json (lockfile version 3) that pins a package.json's dependencies."""
    direct = {**package.get("dependencies", {}), **package.get("devDependencies", {})}
    dev = set(package.get("devDependencies", {}))
    pinned: dict[str, tuple[str, bool]] = {n: (v, n in dev) for n, v in direct.items()}
    queue = list(direct)
    while queue:
        name = queue.pop()
        for child, version in TRANSITIVE.get(name, {}).items():
            if child not in pinned:
                pinned[child] = (version, pinned[name][1])
                queue.append(child)
    root = {"name": package["name"], "version": package["version"]}
    if package.get("dependencies"):
        root["dependencies"] = package["dependencies"]
    if package.get("devDependencies"):
        root["devDependencies"] = package["devDependencies"]
    if package.get("engines"):
        root["engines"] = package["engines"]
    packages: dict[str, Any] = {"": root}
    for name in sorted(pinned):
        version, is_dev = pinned[name]
        base = name.split("/")[-1]
        entry: dict[str, Any] = {
            "version": version,
            "resolved": f"https://registry.npmjs.org/{name}/-/{base}-{version}.tgz",
            "integrity": integrity(name, version),
        }
        if is_dev:
            entry["dev"] = True
        if TRANSITIVE.get(name):
            entry["dependencies"] = {k: f"^{v}" for k, v in TRANSITIVE[name].items()}
        entry["license"] = "MIT"
        packages[f"node_modules/{name}"] = entry
    return {
        "name": package["name"],
        "version": package["version"],
        "lockfileVersion": 3,
        "requires": True,
        "packages": packages,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path)
    parser.add_argument("--lockfile", type=Path, help="print the lockfile of this package.json")
    args = parser.parse_args(argv)
    if args.lockfile:
        print(json.dumps(lockfile(json.loads(args.lockfile.read_text())), indent=2))
        return 0
    if args.dest is None:
        parser.error("give DEST or --lockfile")
    for commit, subject in build_repo(args.dest):
        print(commit, subject)
    return 0


if __name__ == "__main__":
    sys.exit(main())
