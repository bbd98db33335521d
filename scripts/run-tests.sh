#!/usr/bin/env bash
# The whole suite on SQLite, then on PostgreSQL. Used by `make test` and CI.
#   DATABASE_URL                PostgreSQL for the second pass (default postgresql://postgres@127.0.0.1:5432/test)
#   YIKATONG_REQUIRE_POSTGRES=1 fail when PostgreSQL cannot be reached (CI)
#   YIKATONG_REQUIRE_BROWSER=1  fail when Chromium is missing (CI)
#   PYTEST_ARGS                 extra arguments for pytest
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
CHROMIUM="${YIKATONG_CHROMIUM:-/usr/bin/chromium}"
summary=()
status=0

if [ -x "$CHROMIUM" ]; then
  browser_note="browser tests: run with $CHROMIUM"
  marker=()
else
  if [ "${YIKATONG_REQUIRE_BROWSER:-0}" = "1" ]; then
    echo "FAIL: Chromium not found at $CHROMIUM and browser tests are required" >&2
    exit 1
  fi
  browser_note="browser tests: SKIPPED (no Chromium at $CHROMIUM; apt-get install chromium)"
  marker=(-m "not e2e")
fi

run_pass() {
  local name="$1"; shift
  echo "==================== test pass: $name ===================="
  "$@" ${PYTEST_ARGS:-} ; local rc=$?
  if [ $rc -eq 0 ]; then summary+=("$name: passed"); else summary+=("$name: FAILED (exit $rc)"); status=1; fi
}

run_pass "SQLite" env -u DATABASE_URL "$BIN/pytest" -q -p no:randomly "${marker[@]}"

if "$BIN/python" - "$PG_URL" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable: {exc}", file=sys.stderr); sys.exit(1)
PY
then
  run_pass "PostgreSQL" env DATABASE_URL="$PG_URL" "$BIN/pytest" -q "${marker[@]}"
else
  if [ "${YIKATONG_REQUIRE_POSTGRES:-0}" = "1" ]; then
    summary+=("PostgreSQL: FAILED (not reachable at $PG_URL, and it is required)"); status=1
  else
    summary+=("PostgreSQL: SKIPPED (not reachable at $PG_URL)")
  fi
fi

echo "==================== summary ===================="
printf '%s\n' "${summary[@]}"
echo "$browser_note"
exit $status
