"""inspect-ai is an optional extra: the `swelancer` command does not import it until a command
that reads or writes an Inspect log runs."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_lists_export_and_import_without_importing_inspect_ai():
    code = (
        "import sys; sys.argv = ['swelancer', '--help']\n"
        "from swelancer.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('inspect_ai' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().endswith("False"), result.stdout + result.stderr
    assert "export" in result.stdout and "import" in result.stdout
