# Heavy libraries are loaded only where used: OpenBLAS by the CPU backend
# (src/backend/blas.h; its threads took the cores from eval's parser), HDF5 by
# commands that write or read a results file (src/io/results_h5_loader.c; its
# 44 shared objects cost every start 6 ms). `eval --json` loads neither, `eval
# --out` loads HDF5, `run` on the CPU loads both; build/prmeval finds the
# modules beside itself; a module that cannot be loaded is a clear error with
# exit code 5, not a crash; `cmake --install` puts the executable and its
# modules where they find each other.
set -euo pipefail
: "${PRMEVAL_BUILD:?}"
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
unset PRMEVAL_BLAS_MODULE PRMEVAL_H5_MODULE  # the lookup beside the executable, as users have it

# The shared objects a command loads, from the dynamic loader's own trace.
loaded() { LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -o 'file=[^ ]*' | sort -u; }

"$PRMEVAL" tiny-model "$T/model" --family qwen-prm --seed 3 >/dev/null
cat > "$T/job.json" <<JOB
{"model": "$T/model", "family": "qwen-prm", "data": "$PRMEVAL_SRC/data/subset400.jsonl",
 "output": "$T/run.h5", "backend": "cpu", "max_tokens": 256, "limit": 3}
JOB

run_libs=$(loaded "$PRMEVAL" run "$T/job.json" --quiet) || fail "run on the CPU failed without PRMEVAL_BLAS_MODULE"
grep -q 'file=libprmeval_blas.so\|file=.*/libprmeval_blas.so' <<<"$run_libs" || fail "run did not load libprmeval_blas.so: $run_libs"
grep -q 'openblas' <<<"$run_libs" || fail "run did not load OpenBLAS (so the eval check below could not fail)"
grep -q 'libhdf5' <<<"$run_libs" || fail "run did not load libhdf5 (so the eval check below could not fail)"
[ -f "$T/run.h5" ] || fail "run wrote no results file"

eval_libs=$(loaded "$PRMEVAL" eval --data "$PRMEVAL_SRC/data/subset400.jsonl" \
    --predictions "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" --json "$T/eval.json" --quiet) || fail "eval failed"
if grep -q 'openblas\|prmeval_blas\|hdf5\|prmeval_h5' <<<"$eval_libs"; then fail "eval --json loaded OpenBLAS or HDF5: $eval_libs"; fi
h5_libs=$(loaded "$PRMEVAL" eval --data "$PRMEVAL_SRC/data/subset400.jsonl" \
    --predictions "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" --out "$T/eval.h5" --quiet) || fail "eval --out failed"
grep -q 'libprmeval_h5.so' <<<"$h5_libs" && grep -q 'libhdf5' <<<"$h5_libs" || fail "eval --out did not load the HDF5 module"
if grep -q 'openblas' <<<"$h5_libs"; then fail "eval --out loaded OpenBLAS"; fi
"$PRMEVAL" rescore "$T/eval.h5" --threshold 0.4 --quiet >/dev/null 2>&1 || fail "rescore of eval's file failed without PRMEVAL_H5_MODULE"
for cmd in "rescore --help" "report --help" "tokenize --help" "--version"; do
    # shellcheck disable=SC2086
    if loaded "$PRMEVAL" $cmd | grep -q 'openblas\|hdf5'; then fail "$cmd loaded OpenBLAS or HDF5"; fi
done

cmake --install "$PRMEVAL_BUILD" --prefix "$T/prefix" >/dev/null || fail "cmake --install failed"
"$T/prefix/bin/prmeval" run "$T/job.json" --quiet --set output="$T/installed.h5" >/dev/null 2>"$T/inst.err" \
    || fail "the installed prmeval cannot run on the CPU: $(cat "$T/inst.err")"
cmp -s <(h5dump -d /steps/score "$T/run.h5" | tail -n +3) <(h5dump -d /steps/score "$T/installed.h5" | tail -n +3) \
    || fail "the installed prmeval gives other step scores"

set +e
PRMEVAL_BLAS_MODULE="$T/no-such-module.so" "$PRMEVAL" run "$T/job.json" --quiet --set output="$T/bad.h5" \
    >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 5 ] || fail "a missing BLAS module: exit $rc, expected 5"
grep -q "no-such-module.so" "$T/err" && grep -q "PRMEVAL_BLAS_MODULE" "$T/err" \
    || fail "a missing BLAS module: the message names neither the path nor the variable: $(cat "$T/err")"
[ "$(grep -c . "$T/err")" -le 3 ] || fail "a missing BLAS module: more than a short message: $(cat "$T/err")"
[ ! -f "$T/bad.h5" ] || fail "a failed run left a results file"

for cmd in "eval --data $PRMEVAL_SRC/data/subset400.jsonl --predictions $PRMEVAL_SRC/data/baselines/all_valid.jsonl --out $T/bad2.h5" \
           "rescore $T/eval.h5 --threshold 0.4" "report $T/eval.h5"; do
    set +e
    # shellcheck disable=SC2086
    PRMEVAL_H5_MODULE="$T/no-h5.so" "$PRMEVAL" $cmd --quiet >"$T/out" 2>"$T/err"
    rc=$?
    set -e
    [ "$rc" = 5 ] || fail "${cmd%% *} with a missing HDF5 module: exit $rc, expected 5"
    # Found at the start, before any work (eval would have printed its data warnings).
    if grep -q '^warning' "$T/err"; then fail "${cmd%% *} with a missing HDF5 module did its work first"; fi
    grep -q "no-h5.so" "$T/err" && grep -q "PRMEVAL_H5_MODULE" "$T/err" \
        || fail "${cmd%% *} with a missing HDF5 module: $(cat "$T/err")"
done
[ ! -f "$T/bad2.h5" ] || fail "a failed eval left a results file"

# Beside a copy of the executable: a broken module is reported as broken (not as
# missing), and a module from another build is refused by its build id.
mkdir -p "$T/copy"
cp "$PRMEVAL" "$T/copy/prmeval"
h5_eval() { "$T/copy/prmeval" eval --data "$PRMEVAL_SRC/data/subset400.jsonl" \
    --predictions "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" --out "$T/copy/x.h5" --quiet >"$T/out" 2>"$T/err"; }
echo "not a shared object" >"$T/copy/libprmeval_h5.so"
set +e; h5_eval; rc=$?; set -e
[ "$rc" = 5 ] && grep -q "copy/libprmeval_h5.so" "$T/err" && ! grep -q "No such file" "$T/err" \
    || fail "a broken module beside the executable: exit $rc, $(cat "$T/err")"
printf 'const char pe_module_abi[] = "0.0+another-build";\nint pe_h5_module_write(void) { return 0; }\nint pe_h5_module_read(void) { return 0; }\n' \
    >"$T/copy/other.c"
cc -shared -fPIC -o "$T/copy/libprmeval_h5.so" "$T/copy/other.c"
set +e; h5_eval; rc=$?; set -e
[ "$rc" = 5 ] && grep -q "another prmeval build (0.0+another-build" "$T/err" \
    || fail "a module from another build: exit $rc, $(cat "$T/err")"
[ ! -f "$T/copy/x.h5" ] || fail "a refused module wrote a results file"
set +e
PRMEVAL_H5_MODULE="$T/no-h5.so" "$PRMEVAL" run "$T/job.json" --set output="$T/bad3.h5" >"$T/out" 2>"$T/err"
rc=$?
set -e
[ "$rc" = 5 ] || fail "run with a missing HDF5 module: exit $rc, expected 5"
if grep -q '^run:' "$T/err"; then fail "run with a missing HDF5 module started its work: $(cat "$T/err")"; fi

finish "modules: OK"
