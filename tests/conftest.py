"""What every test shares: upstream's prompt files are read from the shared upstream snapshot
beside the repository (`SWELANCER_PROMPTS`, as a user without network would), so that no test
reaches GitHub. Tests of where the files come from set it themselves."""

from __future__ import annotations

import os

from upstream_data import UPSTREAM

os.environ.setdefault("SWELANCER_PROMPTS", str(UPSTREAM))
