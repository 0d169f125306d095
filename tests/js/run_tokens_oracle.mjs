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
// (tests/unit/test_family_tokens.c). Only prompts that the cut left whole are
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
  let want;
  if (family === "math-shepherd") {
    if (!d.text.startsWith("<s>")) { console.error(`${d.key}: rendered text lacks BOS <s>`); failed++; continue; }
    want = tok.encode(d.text.slice(3), { add_special_tokens: true });
  } else {
    want = tok.encode(d.text, { add_special_tokens: false });
  }
  compared++;
  const same = want.length === d.ids.length && want.every((v, i) => v === d.ids[i]);
  if (!same) {
    failed++;
    const at = want.findIndex((v, i) => v !== d.ids[i]);
    console.error(`${family} ${d.key}: ids differ at ${at}: prmeval ${d.ids.slice(at, at + 8)} vs js ${want.slice(at, at + 8)} ` +
                  `(lengths ${d.ids.length} / ${want.length})`);
  }
}
console.log(`${family}: ${compared} prompts compared with @lenml/tokenizers, ${failed} differ`);
process.exit(failed || compared === 0 ? 1 : 0);
