#!/bin/sh
# Offline policy check of the Bicep: checkov (pinned) in its own virtualenv, because checkov pins
# pycep-parser 0.5.1 and an old `packaging`, which must not leak into the project's dev environment.
# Usage: infra/check.sh   (CHECKOV_VENV=<dir> to reuse another venv; first run installs checkov)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${CHECKOV_VENV:-$ROOT/.venv-checkov}
CHECKOV_VERSION=3.3.30

if [ ! -x "$VENV/bin/checkov" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
fi

cd "$ROOT"
REPORT=$(mktemp)
trap 'rm -f "$REPORT"' EXIT
# --skip-download: no calls to Prisma Cloud; results are the built-in policies only.
"$VENV/bin/checkov" -d infra --config-file infra/.checkov.yaml -o json >"$REPORT" 2>/dev/null || true
# checkov skips files it cannot parse and still passes; count them as failures.
"$VENV/bin/python" - "$REPORT" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
reports = report if isinstance(report, list) else [report]
failed = [c for r in reports for c in r["results"]["failed_checks"]]
summary = {k: sum(r["summary"][k] for r in reports) for k in ("passed", "failed", "skipped", "parsing_errors", "resource_count")}
for c in failed:
    print(f"FAILED {c['check_id']} {c['resource']} {c['file_path']}: {c['check_name']}")
print("checkov", reports[0]["summary"]["checkov_version"], summary)
sys.exit(1 if failed or summary["parsing_errors"] or not summary["passed"] else 0)
PY
