// The token ids `prmeval run` fed its model (`--dump-tokens`) against
// @lenml/tokenizers (the JavaScript port of Hugging Face's tokenizers) loading
// the same tokenizer.json, on the rendered prompt the dump carries (BOS
// spelled as its token string). Used by tests/scripts/test_run_oracle.py.
//
//   node run_tokens_oracle.mjs FAMILY MODEL_DIR DUMP.jsonl MAX
//
// qwen-prm and rlhflow encode their whole rendered chat string at once, as
// the reference does (special tokens matched inside it, no BOS added: the
// template writes it); math-shepherd encodes question + steps with
// add_special_tokens (the BOS "<s>" of the post-processor). Skywork encodes
// its pieces one by one and is checked at the C level instead
// (tests/unit/test_family_tokens.c). reasoneval-7b/-34b encode the text with
// special tokens, then the reference's rule, written here from
// docs/families.md: every separator id (the pad token: "<s>" on the 7B,
// "<pad>" on the 34B) leaves the model input (the 7B puts its BOS back), and
// step i is read at the model-input index of its last token (an empty step:
// the previous step's), one earlier on the 7B; ids and read-outs are both
// compared. Only prompts that the cut left whole are
// compared, at most MAX of them. Prints the number compared; exit 1 on a mismatch.
import { readFileSync } from "node:fs";
import { TokenizerLoader } from "@lenml/tokenizers";

const [family, dir, dump, maxArg] = process.argv.slice(2);
const read = (f) => JSON.parse(readFileSync(`${dir}/${f}`, "utf8"));
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: read("tokenizer.json"),
                                             tokenizerConfig: read("tokenizer_config.json") });
const max = Number(maxArg || 1000);
let compared = 0, failed = 0;
for (const line of readFileSync(dump, "utf8").split("\n")) {
  if (!line || compared >= max) continue;
  const d = JSON.parse(line);
  if (d.n_full !== d.ids.length) continue;  // cut: the reference's ids are a prefix
  let want, wantRead = null;
  if (family.startsWith("reasoneval")) {
    const is7b = family === "reasoneval-7b", sep = is7b ? "<s>" : "<pad>";
    const sepTok = read("tokenizer.json").added_tokens.find((t) => t.content === sep);
    if (!sepTok || !d.text.startsWith("<s>")) { console.error(`${d.key}: no ${sep} token or no BOS`); failed++; continue; }
    const full = tok.encode(d.text.slice(3), { add_special_tokens: true });
    const nsteps = d.text.split(sep).length - 1 - 1 - (is7b ? 1 : 0);
    const newIndex = [];
    want = [];
    full.forEach((t, j) => { if (t !== sepTok.id) { newIndex[j] = want.length + (is7b ? 1 : 0); want.push(t); } });
    if (is7b) want.unshift(full[0]);
    const seps = full.map((t, j) => (t === sepTok.id ? j : -1)).filter((j) => j >= 0);
    wantRead = [];
    for (const p of seps.slice(seps.length - nsteps)) {
      const e = full[p - 1] === sepTok.id ? wantRead.length ? wantRead[wantRead.length - 1] + (is7b ? 1 : 0) : 0
                                          : newIndex[p - 1];
      wantRead.push(e - (is7b ? 1 : 0));
    }
  } else if (family === "pure-prm") {
    // pieces encoded one by one (the dump's text cannot be split back): the
    // read-outs must sit on the last id of encode("\n\n"), one per step
    const nl = tok.encode("\n\n", { add_special_tokens: false }).at(-1);
    want = d.ids;
    wantRead = d.readout.filter((r) => d.ids[r] === nl);
    if (d.readout.length !== d.nread_full) wantRead = [];
  } else if (family === "llemma-prm") {
    // encoded with BOS; read-outs by the reference's scan: B = encode("\n\n# Solution")[1:],
    // S = encode("\n\n")[1:]; after B has matched, every S match (overlaps too); the first dropped
    if (!d.text.startsWith("<s>")) { console.error(`${d.key}: rendered text lacks BOS <s>`); failed++; continue; }
    want = tok.encode(d.text.slice(3), { add_special_tokens: true });
    const B = tok.encode("\n\n# Solution", { add_special_tokens: false }).slice(1);
    const S = tok.encode("\n\n", { add_special_tokens: false }).slice(1);
    const at = (i, p) => p.every((v, j) => want[i + j] === v);
    let seen = false;
    wantRead = [];
    for (let i = 0; i < want.length; i++) {
      seen = seen || at(i, B);
      if (seen && at(i, S)) wantRead.push(i);
    }
    wantRead.shift();
  } else if (family === "math-shepherd" || family === "math-minos") {
    if (!d.text.startsWith("<s>")) { console.error(`${d.key}: rendered text lacks BOS <s>`); failed++; continue; }
    want = tok.encode(d.text.slice(3), { add_special_tokens: true });
    if (family === "math-minos") {
      // every position holding encode("и")[-1], the question's included
      const tag = tok.encode("и", { add_special_tokens: false }).at(-1);
      wantRead = want.map((t, i) => (t === tag ? i : -1)).filter((i) => i >= 0);
    }
  } else {
    want = tok.encode(d.text, { add_special_tokens: false });
  }
  compared++;
  const same = want.length === d.ids.length && want.every((v, i) => v === d.ids[i]) &&
               (!wantRead || (wantRead.length === d.readout.length && wantRead.every((v, i) => v === d.readout[i])));
  if (wantRead && !same)
    console.error(`${family} ${d.key}: read-outs prmeval ${d.readout} vs js ${wantRead}`);
  if (!same) {
    failed++;
    const at = want.findIndex((v, i) => v !== d.ids[i]);
    console.error(`${family} ${d.key}: ids differ at ${at}: prmeval ${d.ids.slice(at, at + 8)} vs js ${want.slice(at, at + 8)} ` +
                  `(lengths ${d.ids.length} / ${want.length})`);
  }
}
console.log(`${family}: ${compared} prompts compared with @lenml/tokenizers, ${failed} differ`);
process.exit(failed || compared === 0 ? 1 : 0);
