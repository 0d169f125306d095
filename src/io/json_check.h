/* Checks on JSON input that cJSON does not make itself. RFC 8259 leaves an
 * object with a repeated name undefined: cJSON's lookups take the first,
 * Python's json and serde_json's maps the last, so the reference evaluator,
 * transformers or tokenizers would read another value than prmeval. Such
 * input is refused rather than read one way silently. */
#ifndef PE_JSON_CHECK_H
#define PE_JSON_CHECK_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../core/err.h"

/* 1 when some object in v (at any depth) holds a name twice; the name's path
 * (e.g. scores.step_level_validity_labels, model.vocab["a"]) goes to where.
 * 0 otherwise. -1 when memory ran out (where says so). */
int pe_json_find_duplicate(const cJSON *v, char *where, size_t n);

/* The first byte of s[0..len) that cannot be in JSON text: invalid UTF-8, a
 * control character other than tab, newline and carriage return, or any
 * control character inside a string. lines != 0: s is JSON Lines, where a
 * newline ends every record (and any string left open in it). Returns its
 * offset, or len when there is none; *why says which. */
size_t pe_json_bad_byte(const char *s, size_t len, int lines, const char **why);

/* Line (1-based) and column (1-based, in bytes) of offset off of s. */
void pe_json_line_col(const char *s, size_t off, size_t *line, size_t *col);

/* Parses the whole of text[0..len) as one JSON value, strictly: UTF-8 with no
 * forbidden control characters, nothing but whitespace after the value, and
 * no key repeated in any object. On failure returns NULL and fails e with
 * PE_EINPUT and "name:line:col: why" (name: the file, or "file: header"). */
cJSON *pe_json_parse_strict(const char *text, size_t len, const char *name, pe_err *e);

#endif
