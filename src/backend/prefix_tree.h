/* The prefix tree of a shard's sequences over token ids (prefix reuse,
 * engine.h): within each group (a problem) the sequences are laid out as a
 * tree whose compressed edges are the segments, each computed once. Pure
 * logic, used by the engine's schedule (engine.c). */
#ifndef PE_PREFIX_TREE_H
#define PE_PREFIX_TREE_H

#include <stdint.h>

#include "../core/err.h"
#include "engine.h"

/* Segments are numbered in depth-first pre-order, group after group, so a
 * segment comes after its parent and its subtree is s .. last_desc[s].
 * A sequence is cut after its last read-out (causal attention: later tokens
 * change nothing before them), so every leaf ends at a read-out and no segment
 * lies below a sequence's last read-out. Siblings are ordered by the first
 * sequence (in the input order) that goes into them.
 * A read-out is identified by (segment, position): the sequences that hold the
 * same one share its rewards (the targets). */
typedef struct pe_ptree {
    int nseg;
    int *seg_seq;         /* (nseg) a sequence whose tokens hold the segment */
    int64_t *seg_pos0;    /* (nseg) position of its first token = its ancestors' total length */
    int64_t *seg_len;     /* (nseg) tokens, at least 1 */
    int *parent;          /* (nseg) parent segment, -1 for a root */
    int *last_desc;       /* (nseg) the last segment of its subtree */
    int64_t *read_start;  /* (nseg+1) segment s's read-outs: read_start[s] .. read_start[s+1]-1 */
    int64_t nread;        /* distinct read-outs */
    int64_t *read_pos;    /* (nread) absolute position, ascending within a segment */
    int64_t *tgt_start;   /* (nread+1) read-out r's targets: tgt_start[r] .. tgt_start[r+1]-1 */
    int *tgt_seq;         /* (targets) index into the seqs given to pe_ptree_build */
    int64_t *tgt_step;    /* (targets) index of the read-out within that sequence */
    int *seq_last_seg;    /* (nseqs) segment of the sequence's last read-out */
} pe_ptree;

/* Builds the tree of seqs[0 .. nseqs-1]; every sequence must have at least
 * one read-out, inside it and ascending. Sequences with the same group id
 * share prefixes wherever they are in the array, those of different groups
 * nothing; the groups' segments come in ascending group id. */
int pe_ptree_build(const pe_seq *seqs, int nseqs, pe_ptree *t, pe_err *e);
void pe_ptree_free(pe_ptree *t);

#endif
