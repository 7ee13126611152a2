#!/usr/bin/env bash
# CI smoke test, usable from any CI: the whole walkthrough (`svcctl demo`) with a machine-readable
# report. stdout is the JSON report (also written to $SMOKE_REPORT), progress goes to stderr, and
# the exit status is non-zero when any expectation failed (svcctl's exit codes: 8 = a check
# failed, 5 = a wait timed out, 3 = no Docker engine, ...).
#
#   scripts/smoke.sh                 # keeps nothing running afterwards (--down)
#   SMOKE_KEEP=1 scripts/smoke.sh    # leaves the cluster up for inspection
set -euo pipefail
cd "$(dirname "$0")/.."
SVCCTL=${SVCCTL:-.venv/bin/svcctl}
REPORT=${SMOKE_REPORT:-smoke-report.json}

if [[ ! -x "$SVCCTL" ]]; then
  bash scripts/setup.sh >&2
fi

mode=--down
[[ "${SMOKE_KEEP:-0}" == 1 ]] && mode=--keep

status=0
"$SVCCTL" demo --json "$mode" >"$REPORT" || status=$?
cat "$REPORT"

# Belt and braces: the exit status and the report's verdict must agree.
if [[ $status -eq 0 ]] && ! grep -q '^  "ok": true' "$REPORT"; then
  echo "smoke: svcctl demo exited 0 but its report is not ok" >&2
  status=1
fi
if [[ $status -eq 0 ]]; then
  echo "smoke: OK (report: $REPORT)" >&2
else
  echo "smoke: FAILED with exit status $status (report: $REPORT)" >&2
fi
exit "$status"
