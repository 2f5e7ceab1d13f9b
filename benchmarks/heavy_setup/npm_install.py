"""A stand-in for `npm install --no-cache`, offline and deterministic: for each package of a
generated lockfile, pack its files into a gzipped tarball (as a registry serves it), check the
tarball against its sha512 integrity, unpack it under node_modules/, and run its `postinstall`
build (for each of three targets, bundle and minify its modules, compress the bundle, record
its size and hash in dist/build.json). Real work, like npm's (hashing, compression, many small
files, a build), no sleep.

    python3 npm_install.py DEST [--packages 1000] [--files 100] [--bytes 3000]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import time

EXPORT = re.compile(r"export const (\w+) = '(\w+)';")


def package_files(name: str, files: int, size: int) -> dict[str, bytes]:
    """The files of one package: JavaScript-like text whose identifiers are hashes."""
    out = {"package.json": json.dumps({"name": name, "version": "1.0.0"}).encode()}
    for i in range(files - 1):
        seed = hashlib.sha256(f"{name}/{i}".encode()).hexdigest()
        lines, total = [], 0
        while total < size:
            seed = hashlib.sha256(seed.encode()).hexdigest()
            line = f"export const v_{seed[:16]} = '{seed}';\n"
            lines.append(line)
            total += len(line)
        out[f"lib/m{i:03d}.js"] = "".join(lines).encode()[:size]
    return out


def pack(name: str, files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(f"package/{path}")
            info.size, info.mtime = len(data), 499162500  # npm's fixed date
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


TARGETS = ("esm", "cjs", "umd")
"""The builds a package's postinstall makes, as many packages ship them."""


def postinstall(target: str, files: dict[str, bytes]) -> None:
    """The package's build, once per target: one bundle of its modules with short names,
    gzipped; what each made is recorded in dist/build.json."""
    built = {}
    for kind in TARGETS:
        names: dict[str, str] = {}
        parts = []
        for path in sorted(files):
            if not path.endswith(".js"):
                continue
            for line in files[path].decode().splitlines():
                match = EXPORT.fullmatch(line)
                if match:
                    short = names.setdefault(match[1], f"{kind[0]}{len(names):x}")
                    parts.append(f"{short}='{match[2]}'")
        bundle = gzip.compress(";".join(parts).encode(), compresslevel=9)
        built[kind] = {"exports": len(names), "bytes": len(bundle), "integrity": integrity(bundle)}
    os.makedirs(os.path.join(target, "dist"), exist_ok=True)
    with open(os.path.join(target, "dist", "build.json"), "w") as handle:
        json.dump(built, handle)


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def install(dest: str, packages: int, files: int, size: int) -> tuple[int, int]:
    lock = {}
    written = total = 0
    for p in range(packages):
        name = f"pkg-{p:04d}"
        tarball = pack(name, package_files(name, files, size))
        lock[name] = integrity(tarball)
        if integrity(tarball) != lock[name]:  # what npm checks before it unpacks
            raise SystemExit(f"EINTEGRITY {name}")
        target = os.path.join(dest, name)
        unpacked = {}
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            for member in tar:
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                relative = member.name.removeprefix("package/")
                path = os.path.join(target, relative)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as handle:
                    handle.write(data)
                unpacked[relative] = data
                written, total = written + 1, total + len(data)
        postinstall(target, unpacked)
    with open(os.path.join(dest, ".package-lock.json"), "w") as handle:
        json.dump(lock, handle)
    return written, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dest")
    parser.add_argument("--packages", type=int, default=1000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--bytes", type=int, default=3000)
    args = parser.parse_args()
    started = time.monotonic()
    os.makedirs(args.dest, exist_ok=True)
    files, total = install(args.dest, args.packages, args.files, args.bytes)
    took = time.monotonic() - started
    print(f"added {args.packages} packages: {files} files, {total / 1e6:.0f} MB in {took:.0f} s")


if __name__ == "__main__":
    main()
