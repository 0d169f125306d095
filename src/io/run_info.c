#include "run_info.h"

void pe_token_stats_add(pe_token_stats *a, const pe_token_stats *b)
{
    a->sequences += b->sequences;
    a->tokens += b->tokens;
    a->tokens_full += b->tokens_full;
    a->sequences_cut += b->sequences_cut;
    a->readouts += b->readouts;
    a->labels_lost += b->labels_lost;
    for (int c = 0; c < PE_NCLASSES; c++)
        a->labels_lost_class[c] += b->labels_lost_class[c];
    a->readout_mismatch += b->readout_mismatch;
}
