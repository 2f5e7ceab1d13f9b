"""What every test shares: upstream's prompt files are read from the shared upstream snapshot
beside the repository (`SWELANCER_PROMPTS`, as a user without network would), so that no test
reaches GitHub. Tests of where the files come from set it themselves. And the browser the
tests that open a page use."""

from __future__ import annotations

import os
import shutil

import pytest
from upstream_data import UPSTREAM

os.environ.setdefault("SWELANCER_PROMPTS", str(UPSTREAM))


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's Chromium for the tests that open a page in a real headless browser; skipped
    without it, except under CI, where it must run."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    reason = "no chromium or chromium-browser on PATH (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the browser test must run", pytrace=False)
    pytest.skip(reason)
