/* PyTorch checkpoint files as torch.save writes them since PyTorch 1.6: a zip
 * archive (read with libzip) holding PREFIX/data.pkl, the state dict as a
 * pickle (read by pickle.c, never executed), and one raw little-endian
 * storage per PREFIX/data/<key> entry, stored uncompressed. Each tensor
 * becomes an entry of the st_set pointing into the mmap'ed file, so the
 * weights are used in place as with safetensors. Tensors may share a storage
 * (tied embeddings, views at an offset, one tensor under two names): each is
 * a contiguous byte range inside its storage, checked against the storage's
 * size, the entry's size and the file's size. Refused, with the file and the
 * entry, opcode or global named: the legacy (pre-1.6) format, a compressed or
 * encrypted storage, a non-contiguous view, a view outside its storage, a
 * big-endian file, anything pickle.c refuses. */
#ifndef PE_TORCH_BIN_H
#define PE_TORCH_BIN_H

#include "../core/err.h"
#include "safetensors.h"

/* data.pkl larger than this is not a state dict: torch.save writes about
 * 130 bytes per tensor, so 4 MiB is some 30000 tensors in one file (a 70B
 * model has about 720 in all its shards). pickle.c's memory grows with it:
 * at most 110 MB for a hostile pickle of this size (docs/checkpoints.md). */
#define TB_MAX_PICKLE ((uint64_t)4 << 20)

/* Maps PATH as the next file of S and appends its tensors. */
int tb_add_file(st_set *s, const char *path, pe_err *e);

#endif
