/* Reading a family file (docs/families.md, "Write your own"): the file is
 * read with a size bound, parsed strictly (UTF-8, no key twice, nothing after
 * the value) and turned into a family by src/prm/family_file.c. Its SHA-256
 * and text are kept so that results name exactly what ran. */
#ifndef PE_FAMILY_LOAD_H
#define PE_FAMILY_LOAD_H

#include <stddef.h>

#include "../core/err.h"
#include "../prm/family_file.h"

/* A family file is small: a larger one is refused, never read without bound. */
#define PE_FAMILY_FILE_MAX (1 << 20)

typedef struct pe_family_load {
    pe_family_file *file;
    const pe_family *fam;     /* the file's family (owned by file) */
    char sha256[65];          /* of the file's bytes */
    char *text;               /* the file's bytes, NUL-terminated */
    size_t len;
} pe_family_load;

/* Errors: PE_EUSAGE when the file cannot be opened (the job names a file that
 * is not there), PE_EIO on a read error, PE_EINPUT when it is not a valid
 * family file (the message names the file and the key). */
int pe_family_load_file(const char *path, pe_family_load *out, pe_err *e);
/* The same from text already in memory (tests, fuzzing); name is for messages. */
int pe_family_load_text(const char *text, size_t len, const char *name, pe_family_load *out, pe_err *e);
void pe_family_load_free(pe_family_load *l);

#endif
