#!/usr/bin/env bash
# The CLI contract of docs/cli.md, for every command:
# - `--help` and `-h` exit 0, print on stdout only, state the exit codes, and
#   name every option the parser takes (the list below) and nothing else;
# - every option of the list is accepted by the parser and listed on the
#   command's docs page;
# - an unknown option, a missing value or missing arguments exit 2 with a
#   message on stderr and nothing on stdout;
# - `prmeval` alone and an unknown command exit 2; `prmeval --help` lists every
#   command and the exit codes; `prmeval --version` prints the project version.
set -u
mkdir -p "$PRMEVAL_TMP"
cd "$PRMEVAL_TMP" || exit 1
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# command | docs page | options taking a value | flags | arguments that satisfy
# the required positionals (so a missing-value error is the first one)
specs=(
  "eval|docs/cli-eval.md|--data --predictions --format --threshold --json --out|--quiet|"
  "rescore|docs/cli-rescore-report.md|--threshold --label-rule --csv --json --out --redundancy-threshold --reward-rounding|--quiet|r.h5"
  "report|docs/cli-rescore-report.md|--csv|--force --quiet|a.h5"
  "tiny-model|docs/tiny-model.md|--family --seed --dtype --layers --hidden --heads --kv-heads --ffn --head-dim --max-pos --merges --tokenizer||dir"
  "inspect|docs/checkpoints.md|--tokenizer|--quiet|"
  "tokenize|docs/tokenizer.md|--tokenizer --text --file|--jsonl --add-special|"
  "run|docs/run.md|--set --dump-tokens|--quiet|job.json"
)

# run ARGS...: runs prmeval, sets rc, out (stdout) and err (stderr)
run() {
  "$PRMEVAL" "$@" > out.txt 2> err.txt
  rc=$?
  out=$(cat out.txt)
  err=$(cat err.txt)
}

for spec in "${specs[@]}"; do
  IFS='|' read -r cmd page values flags pos <<< "$spec"
  opts="$values $flags"
  doc="$PRMEVAL_SRC/$page"
  [ -f "$doc" ] || { bad "$cmd: docs page $page is missing"; continue; }

  for h in --help -h; do
    run "$cmd" "$h"
    [ $rc -eq 0 ] || bad "$cmd $h exits $rc"
    [ -z "$err" ] || bad "$cmd $h writes to stderr: $err"
    grep -q "^usage: prmeval $cmd" out.txt || bad "$cmd $h: no 'usage: prmeval $cmd' line"
  done
  run "$cmd" --help
  help=$out
  grep -qi "exit codes:" <<< "$help" || bad "$cmd --help does not state its exit codes"
  grep -q -- "--help" <<< "$help" || bad "$cmd --help does not list -h, --help"

  # Every option of the list: in --help, on the docs page, and taken by the parser.
  for o in $opts; do
    grep -q -- "$o\b" <<< "$help" || bad "$cmd --help does not mention $o"
    grep -q -- "\`$o\b\|$o " "$doc" || bad "$page does not mention $cmd's option $o"
  done
  for o in $values; do
    run "$cmd" $pos "$o"
    [ $rc -eq 2 ] || bad "$cmd $pos $o (no value) exits $rc, expected 2"
    grep -q "needs a value" <<< "$err" || bad "$cmd $pos $o (no value): stderr does not say so: $err"
    [ -z "$out" ] || bad "$cmd $pos $o (no value) writes to stdout"
  done
  for o in $flags; do
    run "$cmd" "$o"   # a known flag, but the required arguments are missing
    [ $rc -eq 2 ] || bad "$cmd $o (nothing else) exits $rc, expected 2"
    grep -qiE "unknown|unexpected" <<< "$err" && bad "$cmd does not take its own flag $o: $err"
  done

  # Options defined in --help (indented lines starting with an option) are all in the list.
  for o in $(grep -oE '^ +(-h, )?--[a-z][a-z-]*' <<< "$help" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    [ "$o" = --help ] && continue
    [[ " $opts " == *" $o "* ]] || bad "$cmd --help defines $o, which is not in this test's list of parser options"
  done

  # Usage errors: exit 2, a message on stderr, nothing on stdout.
  run "$cmd" $pos --no-such-option
  [ $rc -eq 2 ] || bad "$cmd --no-such-option exits $rc, expected 2"
  grep -qiE "unknown|unexpected" <<< "$err" || bad "$cmd --no-such-option: stderr does not name the problem: $err"
  grep -q -- "--no-such-option" <<< "$err" || bad "$cmd --no-such-option: stderr does not name the option"
  [ -z "$out" ] || bad "$cmd --no-such-option writes to stdout"
  run "$cmd"
  [ $rc -eq 2 ] || bad "$cmd without arguments exits $rc, expected 2"
  [ -n "$err" ] || bad "$cmd without arguments: nothing on stderr"
  [ -z "$out" ] || bad "$cmd without arguments writes to stdout"

  grep -q "\`prmeval $cmd\`" "$PRMEVAL_SRC/docs/cli.md" || bad "docs/cli.md has no entry for prmeval $cmd"
done

# A few value checks that must be usage errors (2), not crashes or other codes.
for args in "eval --data x --predictions y --threshold abc" "eval --data x --predictions y --format xml" \
    "rescore r.h5 --label-rule nope" "tiny-model d --family qwen-prm --layers 0" \
    "tiny-model d --family qwen-prm --merges 5000" "tiny-model d --family nope" \
    "tiny-model d --family qwen-prm --dtype f64" "tokenize --tokenizer t --text a --file b" \
    "tokenize --tokenizer t --text a --jsonl" "inspect a b" "report --csv= a.h5"; do
  run $args
  [ $rc -eq 2 ] || bad "prmeval $args exits $rc, expected 2"
  [ -n "$err" ] || bad "prmeval $args: no message on stderr"
done

# prmeval itself.
run
[ $rc -eq 2 ] || bad "prmeval without arguments exits $rc, expected 2"
grep -q "^usage: prmeval <command>" err.txt || bad "prmeval without arguments: no usage on stderr"
[ -z "$out" ] || bad "prmeval without arguments writes to stdout"
run no-such-command
[ $rc -eq 2 ] || bad "prmeval no-such-command exits $rc, expected 2"
grep -q "unknown command 'no-such-command'" err.txt || bad "prmeval no-such-command: $err"
for h in --help -h help; do
  run $h
  [ $rc -eq 0 ] || bad "prmeval $h exits $rc"
  for c in eval run rescore report tiny-model inspect tokenize; do
    grep -q "^  $c " out.txt || bad "prmeval $h does not list $c"
  done
  for code in "0 success" "1 internal error" "2 usage" "3 malformed input" "4 file system" "5 resources" "6 MPI" "75 stopped"; do
    grep -q "$code" out.txt || bad "prmeval $h does not explain exit code '$code'"
  done
done
# ... and docs/cli.md explains the same codes as src/core/err.h defines.
for code in $(grep -oE 'PE_E[A-Z]+ = [0-9]+' "$PRMEVAL_SRC/src/core/err.h" | grep -oE '[0-9]+$') 0; do
  grep -qE "^\| $code \|" "$PRMEVAL_SRC/docs/cli.md" || bad "docs/cli.md does not explain exit code $code"
done
want=$(sed -nE 's/^project\(prmeval VERSION ([0-9.]+).*/\1/p' "$PRMEVAL_SRC/CMakeLists.txt")
run --version
[ $rc -eq 0 ] || bad "prmeval --version exits $rc"
grep -qE "^prmeval $want \(git [0-9a-f]{7,40}|^prmeval $want \(git unknown\)" out.txt \
  || bad "prmeval --version prints '$out', expected 'prmeval $want (git <commit>)'"

[ $fail -eq 0 ] && echo "cli help and usage errors: ok (${#specs[@]} commands)"
exit $fail
