/* The checkpoint's tensor index (st_set), whatever layout its files have, and
 * the safetensors reader. Files are mmap'ed read-only and every entry is a
 * byte range of one of them: safetensors files (here) and PyTorch .bin files
 * (torch_bin.c) fill the same index, so st_get and model.c do not care which
 * layout the weights came from. Which files a folder holds: checkpoint_files.c.
 * safetensors: one file or a sharded set (model.safetensors.index.json). The header of every file is validated when it is opened
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
    size_t data_off;     /* safetensors: 8 + header length, byte 0 of the data area; .bin: 0 */
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
    char layout[96];     /* what st_open read, e.g. "PyTorch .bin, sharded (pytorch_model.bin.index.json, 2 files)" */
} st_set;

/* Opens the weights of a checkpoint folder, in transformers' order of
 * preference: DIR/model.safetensors, DIR/model.safetensors.index.json and its
 * shards, DIR/pytorch_model.bin, DIR/pytorch_model.bin.index.json and its
 * shards. PATH may also name one weights file (safetensors or .bin, told
 * apart by its first bytes). (checkpoint_files.c) */
int st_open(st_set *s, const char *path, pe_err *e);
void st_close(st_set *s);

/* Opens exactly one weights file (no index), safetensors or .bin. */
int st_open_file(st_set *s, const char *file, pe_err *e);

/* Building blocks for the readers of each format. st_map mmaps PATH as the
 * next file of the set (*fi its index); st_reserve makes room for COUNT more
 * entries; st_add_safetensors maps and indexes one safetensors file;
 * st_finish sorts the entries and refuses a name stored twice. */
int st_map(st_set *s, const char *path, int *fi, pe_err *e);
int st_reserve(st_set *s, int count, pe_err *e);
int st_add_safetensors(st_set *s, const char *path, pe_err *e);
int st_finish(st_set *s, pe_err *e);

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
