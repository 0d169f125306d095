// Every question and every step of PRMBench records, one JSON string per line:
// original_question, modified_question, each original_process and
// modified_process step, in file order. Used by the tokenizer oracle test and
// bench/bench_tokenize.sh.
// usage: node prmbench_texts.mjs [--unique] FILE.jsonl... > texts.jsonl
//   --unique: each distinct text once, in order of first appearance (PRMBench
//   repeats questions and steps across its classes; equal texts have equal ids).
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const unique = args.includes("--unique");
const seen = new Set();
const out = [];
const emit = (s) => {
  const j = JSON.stringify(s);
  if (unique) {
    if (seen.has(j)) return;
    seen.add(j);
  }
  out.push(j);
};
for (const path of args.filter((a) => a !== "--unique")) {
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let r;
    try {
      r = JSON.parse(line);
    } catch (err) {
      console.error(`${path}:${i + 1}: not JSON: ${err.message}`);
      process.exit(3);
    }
    for (const key of ["original_question", "modified_question"]) {
      if (typeof r[key] !== "string") {
        console.error(`${path}:${i + 1}: ${key} is not a string`);
        process.exit(3);
      }
      emit(r[key]);
    }
    for (const key of ["original_process", "modified_process"]) {
      if (!Array.isArray(r[key])) {
        console.error(`${path}:${i + 1}: ${key} is not an array`);
        process.exit(3);
      }
      for (const step of r[key]) emit(String(step));
    }
  });
}
process.stdout.write(out.join("\n") + "\n");
