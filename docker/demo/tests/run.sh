#!/bin/bash
# Entry point of the demo image (the image runs it as `/bin/bash -l -c /app/tests/run.sh`).
# It keeps the contract of the entry point of upstream's SWE-Lancer images:
#
#   EVAL_VARIANT=swe_manager  no setup at all, and no /setup_done.txt: the container idles
#                             (the harness checks out the manager commit itself).
#   any other variant (IC)    append the `user-tool` alias to root's ~/.bashrc; when
#                             RUNTIME_SETUP is non-empty (the image sets "true"), run
#                             setup_expensify.yml for $ISSUE_ID; then write "done" to
#                             /setup_done.txt and idle.
#
# A failed setup ends this script, and so the container, with the playbook's exit code
# (as upstream's does under `set -e`); nothing is written to /setup_done.txt. The setup log is
# on stdout (docker logs). SIGTERM and SIGINT end the container at once.
set -e

say() { echo "[run.sh] $*"; }

trap 'say "stopping"; exit 0' TERM INT

idle() {
    sleep infinity &
    wait $!
}

if [ "${EVAL_VARIANT-}" = "swe_manager" ]; then
    say "EVAL_VARIANT=swe_manager: no setup; the harness checks out the task's commit"
    idle
    exit 0
fi

echo "alias user-tool='ansible-playbook -i \"localhost,\" --connection=local /app/tests/run_tests.yml -e trace=true'" >> ~/.bashrc

if [[ -n "${RUNTIME_SETUP-}" ]]; then
    say "RUNTIME_SETUP=${RUNTIME_SETUP}: setting up IC task ${ISSUE_ID-} now"
    # In the background, so that a SIGTERM is handled while the playbook runs.
    ansible-playbook -i "localhost," --connection=local /app/tests/setup_expensify.yml &
    wait $!
else
    say "RUNTIME_SETUP is empty: the task was set up when the image was built"
fi

echo "done" > /setup_done.txt
say "setup done"
idle
