/* JSON Lines input shared by the dataset and predictions readers: a file is
 * read whole, split into lines here, and each line is parsed with cJSON by the
 * caller (in parallel: lines are independent). */
#ifndef PE_JSONL_H
#define PE_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../core/err.h"

/* A line longer than this is not a PRMBench record or a prediction: refuse it
 * before cJSON spends memory on it. */
#define PE_JSONL_MAX_LINE ((size_t)16 << 20)
/* Files above this size are refused (the full benchmark is 21 MB). */
#define PE_JSONL_MAX_FILE ((size_t)4 << 30)

typedef struct pe_jsonl {
    char *buf;          /* the whole file, NUL-terminated */
    size_t size;
    int64_t nlines;     /* non-blank lines */
    size_t *start;      /* (nlines) offset of each non-blank line in buf */
    size_t *len;        /* (nlines) its length without the newline */
    int *lineno;        /* (nlines) 1-based line number in the file */
} pe_jsonl;

/* Reads path and splits it into non-blank lines. Fails on a missing or
 * unreadable file, a file with no non-blank line, a NUL byte (binary data) or
 * a line longer than PE_JSONL_MAX_LINE, naming the file and line. */
int pe_jsonl_read(const char *path, pe_jsonl *j, pe_err *e);
void pe_jsonl_free(pe_jsonl *j);

/* Parses line k into a JSON object. On failure returns NULL and writes
 * "path:line: ..." (with the column of the error) into msg. */
cJSON *pe_jsonl_parse_object(const pe_jsonl *j, int64_t k, const char *path, char *msg, size_t msgsize);

#endif
