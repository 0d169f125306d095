// The tokenizer oracle: @lenml/tokenizers (a JavaScript port of Hugging Face's
// tokenizers, via transformers.js) encodes inputs for comparison with prmeval.
// usage: node encode_oracle.mjs TOKENIZER_JSON INPUTS [--add-special]
//   INPUTS: one JSON string per line. Prints one JSON array of ids per line.
// tokenizer_config.json next to TOKENIZER_JSON is used when present (it picks
// the tokenizer class, as AutoTokenizer would); otherwise the base class.
import { readFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { TokenizerLoader } from "@lenml/tokenizers";

const args = process.argv.slice(2);
const addSpecial = args.includes("--add-special");
const [tokPath, inPath] = args.filter((a) => !a.startsWith("--"));
if (!tokPath || !inPath) {
  console.error("usage: node encode_oracle.mjs TOKENIZER_JSON INPUTS [--add-special]");
  process.exit(2);
}
const tokenizerJSON = JSON.parse(readFileSync(tokPath, "utf8"));
const cfgPath = join(dirname(tokPath), "tokenizer_config.json");
const tokenizerConfig = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, "utf8")) : {};
const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });

const lines = readFileSync(inPath, "utf8").split("\n");
if (lines.length && lines[lines.length - 1] === "") lines.pop();
const out = [];
for (let i = 0; i < lines.length; i++) {
  let text;
  try {
    text = JSON.parse(lines[i]);
  } catch (err) {
    console.error(`${inPath}:${i + 1}: not a JSON string: ${err.message}`);
    process.exit(3);
  }
  if (typeof text !== "string") {
    console.error(`${inPath}:${i + 1}: expected a JSON string`);
    process.exit(3);
  }
  out.push(JSON.stringify(tokenizer.encode(text, { add_special_tokens: addSpecial })));
}
process.stdout.write(out.length ? out.join("\n") + "\n" : "");
