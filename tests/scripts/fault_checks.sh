# Shared by the fault tests (test_input_checks, test_model_sanity,
# test_journal_safety, test_output_safety): sourced, not a test itself (tests
# register as test_*). A fresh working folder $T (PRMEVAL_TMP) as the current
# folder, the failure tally, and expect: run a command, check its exit code and
# a line of its output, and refuse a sanitizer report.
set -uo pipefail
: "${PRMEVAL:?}" "${PRMEVAL_SRC:?}" "${PRMEVAL_TMP:?}"
T="$PRMEVAL_TMP"
rm -rf "$T"
mkdir -p "$T"
cd "$T" || exit 1
PY=/usr/bin/python3
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
expect() {  # what want_rc regex cmd...   (EXPECT_TIMEOUT seconds, default 300)
  local what="$1" want="$2" re="$3"
  shift 3
  local start=$SECONDS
  timeout "${EXPECT_TIMEOUT:-300}" "$@" >out.txt 2>&1
  local rc=$?
  if [ $rc -ne "$want" ] || ! grep -qE -- "$re" out.txt; then
    fail "$what: exit $rc (want $want matching '$re')"; tail -n 5 out.txt
  elif grep -qE "AddressSanitizer|runtime error" out.txt; then
    fail "$what: sanitizer report"; cat out.txt
  else
    ok "$what ($((SECONDS - start)) s): $(grep -E -- "$re" out.txt | head -n 1 | cut -c1-200)"
  fi
}
