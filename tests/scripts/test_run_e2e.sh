# labels: mpi
# `prmeval run` end to end (docs/run.md) on tiny models of every family and
# the first problems of the bundled subset:
#  - 1 and 3 MPI ranks give byte-identical JSON metrics (everything but the
#    "run" section: timing) and identical HDF5 /metrics, /samples, /steps;
#  - the HDF5 file holds exactly the samples `prmeval eval` finds for the same
#    problems, one step score per read-out of the prompt, /timing per rank;
#  - --set overrides reach the results; bad jobs fail with the right exit code
#    and one clear message.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
DATA="$PRMEVAL_SRC/data/subset400.jsonl"
LIMIT=66   # two logical shards (64 problems each)
CUT=256

job() {  # family model out
    cat > "$T/$1.job.json" <<EOF
{"model": "$2", "family": "$1", "data": "$DATA", "output": "$3.h5", "json": "$3.json",
 "backend": "cpu", "max_tokens": $CUT, "token_budget": 4096, "limit": $LIMIT, "progress_interval": 0.5}
EOF
}

# The samples of the first LIMIT problems, as `prmeval eval` reads the data (an independent path).
"$PRMEVAL" eval --data "$DATA" --predictions "$PRMEVAL_SRC/data/baselines/all_valid.jsonl" --out "$T/eval.h5" \
    --quiet 2>/dev/null

check_h5() {  # family run.h5 dump.jsonl nranks
    "$PY" - "$@" "$T/eval.h5" "$LIMIT" "$CUT" <<'EOF'
import json, sys
import h5py, numpy as np
fam, run, dump, nranks, evalf, limit, cut = sys.argv[1:8]
nranks, limit, cut = int(nranks), int(limit), int(cut)
bad = []
with h5py.File(evalf) as e, h5py.File(run) as r:
    keep = e["samples/problem"][:] < limit
    want = list(e["samples/key"].asstr()[:][keep])
    got = list(r["samples/key"].asstr()[:])
    if got != want:
        bad.append(f"samples: {len(got)} keys, eval finds {len(want)} for the first {limit} problems")
    if r.attrs["command"] != b"run" or r.attrs["nranks"] != nranks:  # fixed-length: bytes
        bad.append(f"provenance: command {r.attrs['command']}, nranks {r.attrs['nranks']}")
    off, nl = r["samples/step_offset"][:], r["samples/nlabels"][:]
    sc = r["steps/score"][:]
    if len(sc) != off[-1] or not np.all(np.diff(off) == nl):
        bad.append("step_offset / nlabels / steps inconsistent")
    if not np.all((sc > 0) & (sc < 1)):
        bad.append("step scores outside (0, 1)")
    prompts = {}
    for line in open(dump):
        p = json.loads(line)
        prompts[p["sample"]] = p
    if len(prompts) != len(got):
        bad.append(f"{len(prompts)} prompts dumped, {len(got)} samples")
    ntok = 0
    nsteps = r["samples/nsteps"][:]
    for i, p in prompts.items():
        if nl[i] != len(p["readout"]):
            bad.append(f"{p['key']}: {nl[i]} labels, {len(p['readout'])} read-outs")
            break
        # uncut prompts read one reward per step (skywork: one more, for the final "\n" piece)
        if p["n_full"] <= cut and nl[i] != nsteps[i] + (fam == "skywork"):
            bad.append(f"{p['key']}: {nl[i]} rewards for {nsteps[i]} steps")
            break
        if p["readout"]:
            ntok += len(p["ids"])
    t = r["timing"]
    if len(t["rank"]) != nranks or list(t["rank"][:]) != list(range(nranks)):
        bad.append(f"/timing has ranks {list(t['rank'][:])}")
    # prefix reuse (on by default) computes each shared prefix once: fewer tokens run than in the prompts
    if int(t["prompt_tokens"][:].sum()) != ntok:
        bad.append(f"/timing prompt_tokens {int(t['prompt_tokens'][:].sum())}, the prompts with read-outs have {ntok}")
    if not 0 < int(t["tokens"][:].sum()) <= ntok:
        bad.append(f"/timing tokens {int(t['tokens'][:].sum())}, the prompts with read-outs have {ntok}")
    if r["run"].attrs["sequences"] != len(got) or r["run"].attrs["readouts"] != off[-1]:
        bad.append("/run sequences or readouts")
    lost = sum(p["nread_full"] - len(p["readout"]) for p in prompts.values())
    if r["run"].attrs["labels_lost"] != lost or r["run"].attrs["labels_lost_by_class"].sum() != lost:
        bad.append(f"/run labels_lost {r['run'].attrs['labels_lost']}, the dump says {lost}")
for b in bad:
    print(f"FAIL: {fam}: {b}")
sys.exit(1 if bad else 0)
EOF
}

for fam in qwen-prm math-shepherd rlhflow skywork; do
    fails_before=$fails
    m="$T/$fam"
    tiny_model "$m" "$fam" 2 1
    job "$fam" "$m" "$T/$fam.r1"
    prmeval_run "$T/$fam.job.json" --quiet --dump-tokens "$T/$fam.r1.tokens" \
        2> "$T/$fam.r1.log" || { cat "$T/$fam.r1.log"; fail "$fam: 1 rank"; continue; }
    prmeval_mpirun 3 "$T/$fam.job.json" --quiet --set output="$T/$fam.r3.h5" \
        --set json="$T/$fam.r3.json" 2> "$T/$fam.r3.log" || { cat "$T/$fam.r3.log"; fail "$fam: 3 ranks"; continue; }
    if [ "$(json_sans_run "$T/$fam.r1.json")" != "$(json_sans_run "$T/$fam.r3.json")" ]; then
        fail "$fam: JSON metrics differ between 1 and 3 ranks"
    fi
    for g in /metrics /samples /steps /analysis; do
        h5diff "$T/$fam.r1.h5" "$T/$fam.r3.h5" "$g" >/dev/null || fail "$fam: HDF5 $g differs between 1 and 3 ranks"
    done
    check_h5 "$fam" "$T/$fam.r1.h5" "$T/$fam.r1.tokens" 1 || fail "$fam: results of 1 rank"
    [ "$(grep -c '^backend: rank' "$T/$fam.r3.log")" = 3 ] || fail "$fam: rank 0 must print one backend line per rank"
    grep -q '^done: .* samples, .* tokens/s' "$T/$fam.r3.log" || fail "$fam: no summary line"
    grep -q "^warning: .* step labels were lost to the $CUT-token cut" "$T/$fam.r1.log" ||
        fail "$fam: no warning about labels lost to the cut"
    [ "$fails" = "$fails_before" ] &&
        echo "$fam: 1 and 3 ranks identical; $(grep -o 'PRMScore [0-9.]*' "$T/$fam.r1.log" | tail -1)"
done

# --set overrides reach the results
m="$T/qwen-prm"
prmeval_run "$T/qwen-prm.job.json" --quiet --set threshold=0.3 --set limit=5 \
    --set output="$T/set.h5" --set json="$T/set.json" 2>/dev/null || fail "run with --set"
"$PY" - "$T/set.h5" "$T/eval.h5" <<'EOF' || fail "--set threshold/limit/output not applied"
import sys, h5py, numpy as np, torch
with h5py.File(sys.argv[1]) as r, h5py.File(sys.argv[2]) as e:
    assert r["metrics"].attrs["threshold"] == 0.3
    assert len(r["samples/key"]) == int((e["samples/problem"][:] < 5).sum())
    # qwen-prm's labels: the bf16-rounded probability > T (reward_rounding auto; raw rewards stored)
    p = torch.tensor(r["steps/score"][:]).to(torch.bfloat16).double().numpy()
    assert np.array_equal(r["steps/label"][:], (p > 0.3).astype(np.uint8))
EOF
grep -Eq '"threshold":[[:space:]]*0\.3,' "$T/set.json" || fail "--set threshold not in the JSON"

# bad jobs: exit code and one clear message naming the key
bad_job() {  # code pattern description -- command...
    local code="$1" pat="$2" what="$3"
    shift 4
    set +e
    "$@" > "$T/bad.out" 2> "$T/bad.err"
    local rc=$?
    set -e
    if [ "$rc" != "$code" ]; then fail "$what: exit $rc, expected $code"; cat "$T/bad.err"; return; fi
    grep -q -- "$pat" "$T/bad.err" || { fail "$what: message lacks '$pat'"; cat "$T/bad.err"; }
    [ "$(grep -c '^prmeval run:' "$T/bad.err")" = 1 ] || { fail "$what: not exactly one error line"; cat "$T/bad.err"; }
}
J="$T/qwen-prm.job.json"
bad_job 2 'key "model": .*/nope: No such file or directory' "missing model" -- \
    prmeval_mpirun 2 "$J" --set model="$T/nope"
bad_job 2 'family "rlhflow" does not match the checkpoint' "family mismatch" -- \
    prmeval_mpirun 2 "$J" --set family=rlhflow
printf '{"model": "%s", "data": "%s", "output": "%s", "modle": 1}\n' "$m" "$DATA" "$T/x.h5" > "$T/unknown.json"
bad_job 2 'unknown.json: unknown key "modle"' "unknown key" -- "$PRMEVAL" run "$T/unknown.json"
bad_job 2 '--set: key "max_tokens": expected an integer' "bad --set" -- "$PRMEVAL" run "$J" --set max_tokens=abc
bad_job 2 'exceeds the checkpoint.s max_position_embeddings' "cut beyond the model" -- \
    "$PRMEVAL" run "$J" --set max_tokens=100000
cp -r "$m" "$T/broken"
truncate -s 5000 "$T/broken/model.safetensors"
bad_job 3 'model.safetensors' "truncated weights" -- "$PRMEVAL" run "$J" --set model="$T/broken"
if ! nvidia-smi -L >/dev/null 2>&1; then
    bad_job 5 'key "backend" is "cuda" but no GPU is usable' "cuda without a GPU" -- \
        "$PRMEVAL" run "$J" --set backend=cuda
fi
# An output that cannot be written is found before any work, not after it.
bad_job 4 'key "output": .*/nodir/x.h5: the folder .*/nodir does not exist' "output folder missing" -- \
    prmeval_mpirun 2 "$J" --set output="$T/nodir/x.h5"
if grep -q '^run:' "$T/bad.err"; then fail "output folder missing: the run started first"; fi
bad_job 4 'key "json": .* is a folder' "json names a folder" -- "$PRMEVAL" run "$J" --set json="$T"
[ ! -e "$T/x.h5" ] || fail "a failed run left a results file"

finish "run end to end: all checks passed"
