/* The tokenizer part of `prmeval inspect` (src/cli/inspect_tokenizer.c). */
#ifndef PE_INSPECT_TOKENIZER_H
#define PE_INSPECT_TOKENIZER_H

/* Prints what the checkpoint folder holds for its tokenizer and which file
 * `run` would read (tok_path: the job key "tokenizer", NULL = the folder's
 * own), loads it as `run` does and prints its special tokens. Returns 0, or
 * an exit code with the message on stderr: 4 when there is no tokenizer (the
 * message says what is missing and what to pass), 3 when it is malformed. */
int pe_inspect_tokenizer(const char *model_dir, const char *tok_path);

#endif
