"""The SWE-Lancer steps inside a sandbox, as upstream's harness drives its images: readiness,
the hidden tests, the repository's history, the patch, the user tool and grading.

The only code that knows upstream's layout (`/app/tests`, `run_tests.yml`, `/setup_done.txt`,
`user_tool/`). The same code drives the upstream images, the contract image (upstream's own
runtime scripts) and the demo image; `docs/FIDELITY.md` lists where it departs from upstream.
"""
