/* Helpers for the families' prompt builders (src/prm/<family>.c): segments,
 * a growing string, and the reference's step clean-up. Internal to src/prm. */
#ifndef PE_PRM_BUILD_H
#define PE_PRM_BUILD_H

#include <string.h>

#include "prm.h"

int pe_seg_add(pe_segments *s, pe_seg_kind kind, const char *text, size_t len, int separate, int readout,
               pe_err *e);
static inline int pe_seg_text(pe_segments *s, const char *text, pe_err *e)
{
    return pe_seg_add(s, PE_SEG_TEXT, text, strlen(text), 0, 0, e);
}
static inline int pe_seg_special(pe_segments *s, const char *tok, int readout, pe_err *e)
{
    return pe_seg_add(s, PE_SEG_SPECIAL, tok, strlen(tok), 0, readout, e);
}

/* SkyworkAI's prepare_input: response.split(tag), each piece (when not
 * empty) encoded alone and followed by the tag's last id, read there; the
 * piece after the last tag too, as the reference reads it, so an empty
 * trailing piece gives the tag alone. text is NUL-terminated. */
int pe_seg_split_on_tag(pe_segments *s, const char *text, const char *tag, pe_err *e);

/* Text built from pieces, for steps ("Step 3: " + s + " ки\n"). */
typedef struct pe_sbuf { char *p; size_t n, cap; } pe_sbuf;
int pe_sb_put(pe_sbuf *b, const char *s, size_t n, pe_err *e);
static inline int pe_sb_str(pe_sbuf *b, const char *s, pe_err *e) { return pe_sb_put(b, s, strlen(s), e); }

/* remove_step_prefix(s) (see pe_strip_prefix), malloc'ed; NULL on error. */
char *pe_clean_step(pe_step_cleaner *c, const char *s, pe_err *e);
pe_step_cleaner *pe_step_cleaner_new(pe_err *e);
void pe_step_cleaner_free(pe_step_cleaner *c);

#endif
