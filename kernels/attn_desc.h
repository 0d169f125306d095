/* The attention kernel's work description, shared by the kernel
 * (kernels/attention.cu), its C reference and the host code that builds it
 * (src/backend/cuda_ref.c: pe_attn_plan). Plain C, no CUDA headers: the
 * reference is compiled in every build.
 *
 * A query tile is up to PE_ATTN_BQ (64) rows of ONE segment of the packed
 * batch. Its keys and values are the segment's key spans, in absolute
 * position order: first the ancestors (prefix reuse, src/backend/backend.h:
 * an earlier segment's rows of the same q|k|v buffer, or a cache slot's K|V
 * rows), then the segment's own rows. A span is a pointer with a row stride,
 * so both kinds look the same to the kernel:
 *   K of kv head g at absolute position p (pos0 <= p < pos0 + n):
 *       k + layer * layer_stride + (p - pos0) * ld + g * D
 *   V: the same plus NKV * D (q|k|v rows and cache rows both put v after k).
 * Queries are always the tile's own rows of the q|k|v buffer. */
#ifndef PE_ATTN_DESC_H
#define PE_ATTN_DESC_H

#include <stdint.h>

typedef uint16_t pe_bf16;   /* raw bf16 bits (also in kernels.h and cuda_ref.h) */

#define PE_ATTN_BQ 64       /* query rows per tile, and key rows per key tile */

typedef struct pe_attn_span {
    const pe_bf16 *k;       /* K of position pos0, kv head 0, layer 0 */
    int64_t ld;             /* elements from one position's row to the next */
    int64_t layer_stride;   /* elements from one layer to the next (0: one layer's buffer) */
    int64_t pos0;           /* absolute position of the span's first row */
    int64_t n;              /* rows */
} pe_attn_span;

typedef struct pe_attn_tile {
    int64_t q0;             /* first query row (packed index into q|k|v and out) */
    int64_t q_end;          /* end of the segment's rows: rows >= q_end are padding */
    int64_t qpos;           /* absolute position of row q0 */
    int32_t span0, span1;   /* the segment's spans [span0, span1), ascending positions, contiguous from 0 */
} pe_attn_tile;

#ifdef __CUDACC__
#define PE_ATTN_HD __host__ __device__
#else
#define PE_ATTN_HD
#endif

/* The absolute key positions [*kstart, *kend) a tile's blocks stream, in key
 * tiles of PE_ATTN_BQ starting at *kstart. *kstart is a multiple of the key
 * tile, counted from position 0, whatever the tile's query rows: a key tile
 * then holds the same positions for a query row whether its sequence is one
 * segment or several (prefix reuse), so the online softmax groups its keys the
 * same way and the row's output is the same, bit for bit. (Counted from the
 * first query minus the window instead, the grouping would follow the query
 * tiles, which start at each segment.) Keys before the window or after a
 * query are masked inside the tiles. */
static inline PE_ATTN_HD void pe_attn_key_range(const pe_attn_tile *t, int window, int64_t *kstart,
                                                int64_t *kend)
{
    int64_t rows = t->q_end - t->q0 < PE_ATTN_BQ ? t->q_end - t->q0 : PE_ATTN_BQ;
    int64_t lo = window > 0 && t->qpos - window + 1 > 0 ? t->qpos - window + 1 : 0;
    *kstart = lo - lo % PE_ATTN_BQ;
    *kend = t->qpos + rows;
}

#endif
