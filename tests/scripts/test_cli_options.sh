# Every command takes "--opt V" and "--opt=V" alike (src/cli/cli_option.c):
# both spellings give the same output; a missing or empty value is a usage
# error (exit 2) that names the option.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
same() {  # what file1 file2
    cmp -s "$2" "$3" || fail "$1: '--opt V' and '--opt=V' differ"
}
usage_error() {  # what pattern command...
    local what="$1" pat="$2"
    shift 2
    "$PRMEVAL" "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = 2 ] || fail "$what: exit $rc, expected 2"
    grep -q -- "$pat" "$T/err" || fail "$what: no '$pat' in: $(cat "$T/err")"
}
DATA="$PRMEVAL_SRC/data/subset400.jsonl"
PRED="$PRMEVAL_SRC/data/baselines/all_valid.jsonl"

"$PRMEVAL" tiny-model "$T/m1" --family qwen-prm --seed 5 --layers 1 2>/dev/null || fail "tiny-model, spaced"
"$PRMEVAL" tiny-model "$T/m2" --family=qwen-prm --seed=5 --layers=1 2>/dev/null || fail "tiny-model, with ="
same "tiny-model" "$T/m1/model.safetensors" "$T/m2/model.safetensors"

"$PRMEVAL" tokenize --tokenizer "$T/m1/tokenizer.json" --text "1 + 1 = 2" >"$T/t1" || fail "tokenize, spaced"
"$PRMEVAL" tokenize --tokenizer="$T/m1/tokenizer.json" --text="1 + 1 = 2" >"$T/t2" || fail "tokenize, with ="
same "tokenize" "$T/t1" "$T/t2"
[ -s "$T/t1" ] || fail "tokenize printed nothing"

"$PRMEVAL" eval --data "$DATA" --predictions "$PRED" --threshold 0.4 --json "$T/e1.json" --quiet 2>/dev/null || fail "eval, spaced"
"$PRMEVAL" eval --data="$DATA" --predictions="$PRED" --threshold=0.4 --json="$T/e2.json" --quiet 2>/dev/null || fail "eval, with ="
same "eval" "$T/e1.json" "$T/e2.json"

cat >"$T/job.json" <<JOB
{"model": "$T/m1", "family": "qwen-prm", "data": "$DATA", "output": "$T/r.h5", "backend": "cpu",
 "max_tokens": 128, "limit": 1}
JOB
"$PRMEVAL" run "$T/job.json" --quiet --set json="$T/r1.json" 2>/dev/null || fail "run, spaced"
"$PRMEVAL" run "$T/job.json" --quiet --set=json="$T/r2.json" 2>/dev/null || fail "run, with ="
"$PY" -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:]); a.pop("run",None); b.pop("run",None); sys.exit(a!=b)' \
    "$T/r1.json" "$T/r2.json" || fail "run: --set V and --set=V differ"

"$PRMEVAL" report "$T/r.h5" --csv "$T/c1.csv" --quiet >/dev/null 2>&1 || fail "report, spaced"
"$PRMEVAL" report "$T/r.h5" --csv="$T/c2.csv" --quiet >/dev/null 2>&1 || fail "report, with ="
same "report" "$T/c1.csv" "$T/c2.csv"

usage_error "eval --json=" "--json needs a value" eval --data "$DATA" --predictions "$PRED" --json=
usage_error "eval --data at the end" "--data needs a value" eval --predictions "$PRED" --data
usage_error "rescore --out=" "--out needs a value" rescore "$T/r.h5" --out=
usage_error "run --set=" "--set needs a value" run "$T/job.json" --set=
usage_error "report --csv=" "--csv needs a value" report "$T/r.h5" --csv=
usage_error "tokenize --text at the end" "--text needs a value" tokenize --tokenizer "$T/m1/tokenizer.json" --text
usage_error "tokenize --tokenizer=" "--tokenizer needs a value" tokenize --tokenizer= --text x
"$PRMEVAL" tokenize --tokenizer="$T/m1/tokenizer.json" --text= >/dev/null 2>&1 || fail "tokenize --text= (empty text) is refused"
usage_error "tiny-model --seed at the end" "--seed needs a value" tiny-model "$T/m3" --family qwen-prm --seed
usage_error "eval --datax" "unknown option '--datax" eval --datax=1 --predictions "$PRED"

finish "cli options: OK"
