"""pytest configuration shared by the demo's hidden tests; the image has it at
/app/tests/issues/conftest.py, beside the task folders, where upstream's images keep theirs.

- `--user-tool-trace` (off by default): run_tests.yml passes it when it runs as the user tool
  (`-e trace=true`). Each test reads it with `pytestconfig.getoption("--user-tool-trace")`
  and records a trace only when it is set, so a test run without this file fails.
- A 60 s default for the browser's waits (starting the app, each request).
"""

from utils import demo_browser

DEFAULT_TIMEOUT_S = 60


def pytest_addoption(parser):
    parser.addoption(
        "--user-tool-trace",
        action="store_true",
        default=False,
        help="record a trace of what the simulated user did and saw (the user tool)",
    )


def pytest_configure(config):
    demo_browser.set_default_timeout(DEFAULT_TIMEOUT_S)
