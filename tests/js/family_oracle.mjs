// Independent oracle for the PRM families (src/core/family.c): renders each
// family's input the way the PRMBench reference does (mr_eval/models, one .py
// per model), with the chat templates rendered by @lenml/tokenizers' Jinja
// engine (apply_chat_template) and ids from the real tokenizer.json files.
//
//   node family_oracle.mjs DATA.jsonl N OUTDIR
//
// writes OUTDIR/render.jsonl: one line per (family, option, record) with the
// rendered text (BOS spelled as its token string) and the token ids, and
// OUTDIR/qwen-prm/tokenizer.json (the Qwen2.5 vocabulary plus "<extra_0>",
// which Qwen2.5-Math-PRM adds). Exit 77 when node_modules is missing.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const mods = path.join(here, "node_modules", "@lenml");
if (!fs.existsSync(path.join(mods, "tokenizers"))) {
  console.error("family_oracle: tests/js/node_modules missing (run npm ci); skipped");
  process.exit(77);
}
const { TokenizerLoader } = await import("@lenml/tokenizers");

function loadPkg(name, patch) {
  const dir = path.join(mods, name, "models");
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  if (patch) patch(json, config);
  return { json, config, tok: TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig: config }) };
}

// Qwen2.5-Math-PRM: the Qwen2.5 vocabulary plus the added token "<extra_0>".
const EXTRA0_ID = 151669;
const qwenPrm = loadPkg("tokenizer-qwen3", (json) => {
  json.added_tokens.push({ id: EXTRA0_ID, content: "<extra_0>", single_word: false, lstrip: false,
    rstrip: false, normalized: false, special: true });
});
const qwen = loadPkg("tokenizer-qwen3");
const llama3 = loadPkg("tokenizer-llama3_1");
const mistral = loadPkg("tokenizer-llama2");

// The Qwen2.5 chat template for messages without tools: every message is
// "<|im_start|>ROLE\nCONTENT<|im_end|>\n" (a default system message only when
// none is given). The package's Qwen3 template would add a <think> block to
// the final assistant turn, which Qwen2.5-Math-PRM's template does not.
const QWEN25_TEMPLATE =
  "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nPlease reason step by step, and put your final answer within \\\\boxed{}.<|im_end|>\\n' }}{%- endif %}" +
  "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

// Llama-3.1-Instruct's template reduced to what PRMBench's messages reach (no
// tools, no system message): BOS, the system block with the knowledge and
// "Today Date" lines (date_string defaults to "26 Jul 2024"), then the
// package's per-message form with `| trim`.
const LLAMA31_TEMPLATE =
  "{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = '26 Jul 2024' %}{%- endif %}" +
  "{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}{{- 'Cutting Knowledge Date: December 2023\\n' }}" +
  "{{- 'Today Date: ' + date_string + '\\n\\n' }}{{- '<|eot_id|>' }}" +
  "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";

// remove_step_prefix, written from its Python definition: strip, then
// re.sub(r"^(Step\s*\d+\.\s*|\d+\.\s*)", "", flags=re.I); JS's \s, \d with
// the u flag differ from Python's only on characters PRMBench does not use.
const pyStrip = (s) => s.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/gu, "");
const removeStepPrefix = (s) => pyStrip(s).replace(/^(Step\s*\p{Nd}+\.\s*|\p{Nd}+\.\s*)/iu, "");

function render(family, q, steps, opt) {
  if (family === "qwen-prm") {
    const sys = opt.quirk ? "Please reason step by step, and put your final answer within \boxed{}."
                          : "Please reason step by step, and put your final answer within \\boxed{}.";
    const combined = steps.map((s) => removeStepPrefix(s) + "<extra_0>").join("");
    const text = qwenPrm.tok.apply_chat_template(
      [{ role: "system", content: sys }, { role: "user", content: q }, { role: "assistant", content: combined }],
      { chat_template: QWEN25_TEMPLATE, add_generation_prompt: false, tokenize: false });
    return { text, ids: Array.from(qwenPrm.tok.encode(text, { add_special_tokens: false })) };
  }
  if (family === "math-shepherd") {
    const body = steps.map((s, i) => {
      const t = pyStrip(s);
      return (t.startsWith("Step") || t.startsWith("step") ? t : `Step ${i + 1}: ${t}`) + " ки\n";
    }).join("");
    const text = `${q} ${body}`;
    return { text: "<s>" + text, ids: Array.from(mistral.tok.encode(text)) }; // BOS from add_special_tokens
  }
  if (family === "rlhflow") {
    const conv = [];
    steps.forEach((s, i) => {
      const c = removeStepPrefix(s);
      conv.push({ role: "user", content: i === 0 ? q + " " + c : c });
      conv.push({ role: "assistant", content: "+" });
    });
    // opt.block: Llama-3.1-Instruct's system block; without it, the package's own template.
    const text = llama3.tok.apply_chat_template(conv, {
      chat_template: opt.block ? LLAMA31_TEMPLATE : undefined, add_generation_prompt: false, tokenize: false });
    return { text, ids: Array.from(llama3.tok.encode(text, { add_special_tokens: false })) };
  }
  if (family === "skywork") {
    const resp = steps.map((s, i) => `Step ${i + 1}: ${pyStrip(removeStepPrefix(s))} ки\n`).join("");
    const enc = (t) => Array.from(qwen.tok.encode(t, { add_special_tokens: false }));
    const stepId = enc("ки").at(-1);
    let ids = enc("<|endoftext|>" + q + "\n"), text = "<|endoftext|>" + q + "\n";
    for (const piece of resp.split("ки")) {
      ids = ids.concat(piece === "" ? [] : enc(piece), [stepId]);
      text += piece + "ки";
    }
    return { text, ids };
  }
  throw new Error("unknown family " + family);
}

const [dataPath, nStr, outDir] = process.argv.slice(2);
if (!dataPath || !outDir) {
  console.error("usage: node family_oracle.mjs DATA.jsonl N OUTDIR");
  process.exit(2);
}
const n = parseInt(nStr, 10) || 3;
fs.mkdirSync(path.join(outDir, "qwen-prm"), { recursive: true });
fs.writeFileSync(path.join(outDir, "qwen-prm", "tokenizer.json"), JSON.stringify(qwenPrm.json));
const records = fs.readFileSync(dataPath, "utf8").split("\n").filter((l) => l.trim()).slice(0, n)
  .map((l) => JSON.parse(l));
const variants = [
  ["qwen-prm", { quirk: true }], ["qwen-prm", { quirk: false }], ["math-shepherd", {}],
  ["rlhflow", { block: true }], ["rlhflow", { block: false }], ["skywork", {}],
];
const out = [];
for (const r of records)
  for (const proc of ["original_process", "modified_process"])
    for (const [family, opt] of variants) {
      const q = proc === "original_process" ? r.original_question : r.modified_question;
      const { text, ids } = render(family, q, r[proc], opt);
      out.push(JSON.stringify({ idx: r.idx, process: proc, family, quirk: opt.quirk ?? true,
        block: opt.block ?? true, question: q, steps: r[proc], text, ids }));
    }
fs.writeFileSync(path.join(outDir, "render.jsonl"), out.join("\n") + "\n");
console.log(`family_oracle: ${out.length} renderings of ${records.length} records -> ${outDir}/render.jsonl`);
