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
    const char *buf;    /* the whole file, mapped read-only (not NUL-terminated) */
    size_t size;
    int64_t nlines;     /* non-blank lines */
    size_t *start;      /* (nlines) offset of each non-blank line in buf */
    size_t *len;        /* (nlines) its length without the newline */
    int *lineno;        /* (nlines) 1-based line number in the file */
} pe_jsonl;

/* Reads path and splits it into non-blank lines. Fails on a missing or
 * unreadable file, a file with no non-blank line, a NUL byte (binary data),
 * or a line longer than PE_JSONL_MAX_LINE, naming the file and line. Invalid
 * UTF-8 and control characters JSON forbids are refused line by line when the
 * lines are parsed (pe_jsonl_parse_object / pe_jsonl_parse_in). */
int pe_jsonl_read(const char *path, pe_jsonl *j, pe_err *e);
/* The same, calling first() on a view of the first non-blank line (nlines 1)
 * before anything else is done with the file: a file wrong on line 1 fails at
 * once, its other lines never indexed nor parsed. first returns PE_OK or an
 * error code with e set. */
typedef int (*pe_jsonl_first_fn)(const pe_jsonl *one, const char *path, void *ctx, pe_err *e);
int pe_jsonl_read_ex(const char *path, pe_jsonl *j, pe_jsonl_first_fn first, void *ctx, pe_err *e);
void pe_jsonl_free(pe_jsonl *j);

/* Parses line k into a JSON object. On failure (malformed, not an object, a
 * key repeated in some object) returns NULL and writes "path:line: ..."
 * (with the column of the error) into msg. */
cJSON *pe_jsonl_parse_object(const pe_jsonl *j, int64_t k, const char *path, char *msg, size_t msgsize);

/* A bump allocator for cJSON trees, one per thread: parsing 21 MB of records
 * node by node with malloc/free costs a third of the parse, and a tree that
 * dies after one line needs no individual frees. */
typedef struct pe_arena_block pe_arena_block;
typedef struct pe_arena {
    pe_arena_block *head;
} pe_arena;
void pe_arena_free(pe_arena *a);

/* Like pe_jsonl_parse_object, with every cJSON allocation taken from arena a
 * (emptied first). The tree lives until the next call with the same arena or
 * pe_arena_free: never cJSON_Delete it, and copy out what must be kept. A
 * thread must not use one arena while another thread does. */
cJSON *pe_jsonl_parse_in(const pe_jsonl *j, int64_t k, const char *path, pe_arena *a, char *msg, size_t msgsize);

#endif
