"""Harbor's own ATIF models for the interop tests.

Harbor needs Python 3.12 or later, so it is not installed here: its wheel is fetched from PyPI
(`pip download`) and only its `harbor.models.trajectories` package (pydantic alone) is
imported from it. Without PyPI the Harbor checks skip, or fail when CI is set.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

HARBOR = "harbor==0.26.0"


@pytest.fixture(scope="module")
def harbor_trajectory(tmp_path_factory):
    """Harbor's own `Trajectory` model, loaded from its wheel."""
    where = tmp_path_factory.mktemp("harbor")
    got = subprocess.run(
        [sys.executable, "-m", "pip", "download", HARBOR, "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", "-d", str(where), "-q"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    wheels = list(where.glob("harbor-*.whl"))
    if got.returncode != 0 or not wheels:
        reason = f"could not download {HARBOR} from PyPI: {got.stderr[-500:]}"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    saved = {k: v for k, v in sys.modules.items() if k == "harbor" or k.startswith("harbor.")}
    for name in ("harbor", "harbor.models"):  # the packages only, not their __init__ imports
        module = types.ModuleType(name)
        module.__path__ = [f"{wheels[0]}/{name.replace('.', '/')}"]
        sys.modules[name] = module
    from harbor.models.trajectories import Trajectory as HarborTrajectory

    yield HarborTrajectory
    for k in [k for k in sys.modules if k == "harbor" or k.startswith("harbor.")]:
        del sys.modules[k]
    sys.modules.update(saved)
