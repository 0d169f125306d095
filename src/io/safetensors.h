/* safetensors reader: one file or a sharded set (model.safetensors.index.json),
 * mmap'ed read-only. The header of every file is validated when it is opened
 * (length, JSON, dtypes, byte ranges inside the data area and not overlapping);
 * each tensor's dtype and shape are validated when it is asked for (st_get),
 * with the expected and the actual value in the error. */
#ifndef PE_SAFETENSORS_H
#define PE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "model.h"

#define ST_MAX_DIM 4
/* A header longer than this is not a model's tensor table but a broken or
 * hostile file (the safetensors library uses the same 100 MB bound). */
#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef struct st_file {
    char *path;
    const uint8_t *map;  /* whole file */
    size_t size;
    size_t data_off;     /* 8 + header length: byte 0 of the data area */
} st_file;

typedef struct st_entry {
    char *name;
    pe_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIM];
    size_t begin, end;   /* relative to the data area of its file */
    int file;            /* index into st_set.files */
    int used;            /* set by st_get: lets callers report unexpected tensors */
} st_entry;

typedef struct st_set {
    st_file *files;
    int nfiles;
    st_entry *entries;   /* sorted by name */
    int n;
} st_set;

/* Opens DIR/model.safetensors, else DIR/model.safetensors.index.json and its
 * shards. PATH may also name a .safetensors file directly. */
int st_open(st_set *s, const char *path, pe_err *e);
void st_close(st_set *s);

/* Opens exactly one .safetensors file (no index). */
int st_open_file(st_set *s, const char *file, pe_err *e);

const st_entry *st_find(const st_set *s, const char *name);

/* The tensor NAME, checked to have ndim dims of the given shape (a -1 in
 * shape matches any size). dtype < 0 accepts any supported dtype. A missing
 * tensor or a mismatch is an error naming the file and the tensor. */
int st_get(st_set *s, const char *name, int dtype, int ndim, const int64_t *shape,
           pe_tensor *out, pe_err *e);

const char *st_dtype_name(pe_dtype dt);
size_t st_dtype_size(pe_dtype dt);
/* "BF16" -> PE_DT_BF16; -1 when not a supported dtype. */
int st_dtype_parse(const char *s);

#endif
