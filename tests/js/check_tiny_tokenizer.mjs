// Loads the tokenizer.json files that `prmeval tiny-model` writes with
// @lenml/tokenizers (a JavaScript port of Hugging Face's tokenizers) and checks
// that they behave as tokenizers of their style: special tokens are single ids,
// every id is below config.json's vocab_size, decode(encode(t)) == t, merges
// are used, and each family's read-out tokens exist.
// usage: node check_tiny_tokenizer.mjs FAMILY DIR
import { readFileSync } from "node:fs";
import { TokenizerLoader } from "@lenml/tokenizers";

const [family, dir] = process.argv.slice(2);
const read = (f) => JSON.parse(readFileSync(`${dir}/${f}`, "utf8"));
const tj = read("tokenizer.json"), tc = read("tokenizer_config.json"), cfg = read("config.json");
const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tj, tokenizerConfig: tc });
let failed = 0;
const check = (ok, what) => { if (!ok) { failed++; console.error(`${family}: FAILED ${what}`); } };
const enc = (t, special = false) => tok.encode(t, { add_special_tokens: special });
const vocab = tj.model.vocab;

const texts = [
  "Step 1: Natalia sold 48 / 2 = 24 clips in May. ки\n",
  "The answer is \\boxed{72}.\n\nLet's check: 3 + 4 = 7",
  "  leading spaces, tabs\tand\r\nCRLF;  double  spaces ",
  "Unicode: café, naïve, 日本語, émoji 🙂, Ωμέγα, Шаг 2: ответ",
];
for (const t of texts) {
  const ids = enc(t);
  check(ids.every((i) => Number.isInteger(i) && i >= 0 && i < cfg.vocab_size), `ids below vocab_size for ${JSON.stringify(t)}`);
  const back = tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  check(back === t, `round trip ${JSON.stringify(t)} -> ${JSON.stringify(back)}`);
  if (family !== "math-shepherd")
    check(!ids.includes(vocab["<unk>"] ?? -1), "no <unk>");
}
// Merges are learned and applied: frequent corpus words are shorter in tokens than in bytes.
const common = enc("The answer is the sum of the values.");
check(common.length < 20, `merges applied (${common.length} tokens for 36 bytes)`);

const specials = {
  "qwen-prm": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"],
  skywork: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"],
  rlhflow: ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
  "math-shepherd": ["<unk>", "<s>", "</s>"],
}[family];
for (const s of specials) {
  const at = tj.added_tokens.find((a) => a.content === s);
  check(at && at.special, `${s} is a special added token`);
  if (family !== "math-shepherd" || s !== "<unk>") {
    const ids = enc(`x${s}y`);
    check(at && ids.includes(at.id) && ids.length === 3, `${s} is matched as one token in x${s}y: ${ids}`);
  }
  check(at && at.id < cfg.vocab_size, `${s} below vocab_size`);
}
if (family === "qwen-prm") {
  const ids = enc("<|im_start|>assistant\nStep one<extra_0>Step two<extra_0><|im_end|>\n");
  check(ids.filter((i) => i === vocab["<extra_0>"] || i === tj.added_tokens[3].id).length === 2, "two <extra_0>");
}
if (family === "rlhflow") {
  const ids = enc("hello", true);
  check(ids[0] === cfg.bos_token_id, `BOS added by the post-processor: ${ids}`);
  check(enc("+").length === 1 && enc("+")[0] === vocab["+"], `"+" is one token`);
}
if (family === "math-shepherd") {
  const ids = enc("Step 1: x = 2 ки\n");
  check(ids.includes(vocab["▁ки"]), `"▁ки" read-out token present: ${ids}`);
  check(ids[ids.length - 1] === vocab["<0x0A>"], "newline by byte fallback <0x0A>");
  check(enc(" +").includes(vocab["▁+"]) && enc(" -").includes(vocab["▁-"]), `"▁+" and "▁-" tokens`);
  const cjk = enc("日");  // "▁" then the three UTF-8 bytes of U+65E5
  check(cjk.length === 4 && cjk[0] === vocab["▁"] && cjk.slice(1).every((i, k) => i === vocab[["<0xE6>", "<0x97>", "<0xA5>"][k]]),
        `unseen character through byte fallback: ${cjk}`);
  check(enc("hi", true)[0] === 1, "BOS <s> added");
}
if (failed) process.exit(1);
console.log(`${family}: tokenizer.json loads in @lenml/tokenizers; all checks passed`);
