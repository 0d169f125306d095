# labels: nosan
# docs/families.md's worked example of a ninth family is real code: the file
# and the registry diff are extracted from the page, the diff is applied to a
# copy of src/prm/registry.c, both are compiled with the library's flags and
# linked with the built libprmeval_lib.a into a second prmeval (the linker
# takes the patched registry before the archive's). That binary must accept
# the descriptor (pe_family_registry_check), list it, write its tiny model and
# run it; the prompts are the documented ones and every reward equals the
# PyTorch forward of tests/oracle/torch_prm.py within 1e-4 relative. The line
# counts the page states must be the extracted file's and diff's.
set -euo pipefail
: "${PRMEVAL_SRC:?}" "${PRMEVAL_BUILD:?}"
T="${PRMEVAL_TMP:-/tmp/prmeval_test_family_example}"
rm -rf "$T"
mkdir -p "$T"
DOC="$PRMEVAL_SRC/docs/families.md"
fail() { echo "FAIL: $*"; exit 1; }

# the fenced block after a marker line, without the fences
block() {
    awk -v m="$1" 'index($0, m) == 1 { on = 1; next }
                   on == 1 && /^```/ { on = 2; next }
                   on == 2 && /^```/ { exit }
                   on == 2 { print }' "$DOC"
}
block "<!-- example-file: src/prm/qwen_prm_plain.c -->" > "$T/qwen_prm_plain.c"
block "<!-- example-diff: src/prm/registry.c -->" > "$T/registry.diff"
[ -s "$T/qwen_prm_plain.c" ] || fail "no example file in $DOC"
[ -s "$T/registry.diff" ] || fail "no registry diff in $DOC"

# the sizes the page states
n=$(wc -l < "$T/qwen_prm_plain.c")
grep -q "^The new file, \`src/prm/qwen_prm_plain.c\` ($n lines):" "$DOC" ||
    fail "the page states another line count for the example file (it has $n lines)"
grep -Eq "^ +src/prm/qwen_prm_plain.c \| +$n \+" "$DOC" || fail "git diff --stat line of the file is not $n"
added=$(grep -c '^+[^+]' "$T/registry.diff" || true)
removed=$(grep -c '^-[^-]' "$T/registry.diff" || true)
[ "$added" -eq 2 ] && [ "$removed" -eq 0 ] || fail "the registry diff adds $added and removes $removed lines, not 2 and 0"
grep -Eq "^ +src/prm/registry.c +\| +2 \+\+$" "$DOC" || fail "git diff --stat line of the registry is not 2"
grep -q "^ *2 files changed, $((n + 2)) insertions(+)$" "$DOC" || fail "the summary line is not 2 files, $((n + 2)) insertions"

cp "$PRMEVAL_SRC/src/prm/registry.c" "$T/registry.c"
(cd "$T" && patch -s registry.c < registry.diff) || fail "the documented diff does not apply to src/prm/registry.c"
grep -q "&pe_prm_qwen_prm_plain," "$T/registry.c" || fail "the patched registry lacks the row"

# compile with the library's own flags (sanitizers and all), link as prmeval is linked
flags="$PRMEVAL_BUILD/CMakeFiles/prmeval_lib.dir/flags.make"
link="$PRMEVAL_BUILD/CMakeFiles/prmeval.dir/link.txt"
[ -f "$flags" ] && [ -f "$link" ] || { echo "skip: $flags or $link missing (not a CMake Makefile build)"; exit 77; }
get() { sed -n "s/^$1 = //p" "$flags"; }
CC=$(awk '{ print $1; exit }' "$link")
# shellcheck disable=SC2046
eval "set -- $(get C_FLAGS) $(get C_DEFINES) $(get C_INCLUDES)"
for f in qwen_prm_plain registry; do
    "$CC" "$@" -I"$PRMEVAL_SRC/src/prm" -c "$T/$f.c" -o "$T/$f.o" 2> "$T/$f.cc.log" ||
        { cat "$T/$f.cc.log"; fail "$f.c does not compile with the library's flags"; }
done
cmd=$(sed -e "s# -o prmeval # -o $T/prmeval-example #" \
          -e "s#CMakeFiles/prmeval.dir/src/cli/main.c.o#CMakeFiles/prmeval.dir/src/cli/main.c.o $T/qwen_prm_plain.o $T/registry.o#" "$link")
(cd "$PRMEVAL_BUILD" && eval "$cmd") > "$T/link.log" 2>&1 || { cat "$T/link.log"; fail "link"; }
X="$T/prmeval-example"

# the registry takes it: listed, checked, its tiny model written and run
"$X" run --help | grep -q "qwen-prm-plain" || fail "run --help does not list qwen-prm-plain"
"$PRMEVAL" run --help | grep -q "qwen-prm-plain" && fail "the shipped prmeval lists the example family"
"$X" tiny-model "$T/m" --family qwen-prm-plain --seed 3 > /dev/null || fail "tiny-model --family qwen-prm-plain"
cat > "$T/job.json" <<EOF
{"model": "$T/m", "family": "qwen-prm-plain", "data": "$PRMEVAL_SRC/data/subset400.jsonl", "output": "$T/r.h5",
 "backend": "cpu", "limit": 2, "max_tokens": 700}
EOF
PRMEVAL_MPI=0 "$X" run "$T/job.json" --quiet --dump-tokens "$T/tokens.jsonl" 2> "$T/run.log" ||
    { cat "$T/run.log"; fail "run with family qwen-prm-plain"; }
# "auto" is unchanged: the checkpoint is qwen-prm's architecture, and the example is never automatic
sed 's/"qwen-prm-plain"/"auto"/' "$T/job.json" > "$T/auto.json"
PRMEVAL_MPI=0 "$X" run "$T/auto.json" --quiet --set output="$T/auto.h5" 2> "$T/auto.log" ||
    { cat "$T/auto.log"; fail "run with family auto"; }

/usr/bin/python3 - "$T" "$PRMEVAL_SRC" <<'PY' || fail "rewards or prompts of qwen-prm-plain"
import json, os, sys
import h5py, numpy as np, torch
T, src = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(src, "tests", "oracle"))
import torch_prm
cfg, w = torch_prm.load_checkpoint(os.path.join(T, "m"))
prompts = [json.loads(l) for l in open(os.path.join(T, "tokens.jsonl"))]
with h5py.File(os.path.join(T, "r.h5")) as f, h5py.File(os.path.join(T, "auto.h5")) as a:
    score, off = f["steps/score"][:], f["samples/step_offset"][:]
    nsteps = f["samples/nsteps"][:]
    assert json.loads(f.attrs["config_json"])["family"] == "qwen-prm-plain"
    assert json.loads(a.attrs["config_json"])["family"] == "qwen-prm", "auto must still choose qwen-prm"
nrew = 0
for p in prompts:
    i = p["sample"]
    assert p["text"].startswith("Question: ") and "\n\nAnswer:\n" in p["text"], p["text"][:80]
    assert "<|im_start|>" not in p["text"], "the chat template leaked into the plain prompt"
    assert p["text"].count("<extra_0>") == nsteps[i], (p["key"], nsteps[i])
    c = score[off[i]:off[i + 1]]
    assert len(c) == len(p["readout"]), p["key"]
    if not p["readout"]:
        continue
    with torch.no_grad():
        ref = torch_prm.score(cfg, w, p["ids"], [0, len(p["ids"])], p["readout"], "qwen_prm", -1, -1).numpy()
    assert np.all(np.abs(c - ref) <= 1e-4 * np.abs(ref)), (p["key"], c, ref)
    nrew += len(ref)
assert nrew >= 20, nrew
print(f"qwen-prm-plain: {len(prompts)} prompts, {nrew} rewards equal PyTorch within 1e-4 relative")
PY
echo "ok: the documented ninth family ($n-line file + 2-line registry row) builds, registers and runs"
