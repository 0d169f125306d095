/* Reading a family file (family_load.h). */
#include "family_load.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/sha256.h"
#include "infile.h"
#include "json_check.h"

int pe_family_load_text(const char *text, size_t len, const char *name, pe_family_load *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    if (len > PE_FAMILY_FILE_MAX)
        return pe_fail(e, PE_EINPUT, "%s: %zu bytes; a family file is at most %d bytes", name, len, PE_FAMILY_FILE_MAX);
    if (!(out->text = pe_malloc(len + 1, e)))
        return e->code;
    memcpy(out->text, text, len);
    out->text[len] = '\0';
    out->len = len;
    pe_sha256_buf(text, len, out->sha256);
    /* "\u0000" would end a cJSON string early: the rest of a template would
     * be dropped silently */
    for (size_t i = 0; i + 6 <= len; i++) {
        if (text[i] != '\\' || memcmp(text + i + 1, "u0000", 5))
            continue;
        size_t nb = 0;
        while (nb < i && text[i - 1 - nb] == '\\')
            nb++;
        if (nb % 2 == 0) {
            size_t line, col;
            pe_json_line_col(text, i, &line, &col);
            pe_family_load_free(out);
            return pe_fail(e, PE_EINPUT, "%s:%zu:%zu: \\u0000 (a NUL character) in a string", name, line, col);
        }
        i += 5;
    }
    cJSON *root = pe_json_parse_strict(text, len, name, e);
    int rc = root ? pe_family_file_from_json(root, name, &out->file, e) : e->code;
    if (rc) {
        pe_family_load_free(out);
        return rc;
    }
    out->fam = pe_family_file_family(out->file);
    return PE_OK;
}

int pe_family_load_file(const char *path, pe_family_load *out, pe_err *e)
{
    memset(out, 0, sizeof *out);
    FILE *f = pe_fopen_input(path);
    if (!f)
        return pe_fail(e, PE_EUSAGE, "%s: cannot open the family file: %s", path, strerror(errno));
    size_t cap = 65536, n = 0;
    char *buf = pe_malloc(cap, e);
    int rc = buf ? PE_OK : e->code;
    while (!rc) {
        if (n == cap) {
            if (cap > PE_FAMILY_FILE_MAX) {
                rc = pe_fail(e, PE_EINPUT, "%s: more than %d bytes; a family file is at most that", path,
                             PE_FAMILY_FILE_MAX);
                break;
            }
            char *p = pe_realloc(buf, cap * 2, e);
            if (!p) {
                rc = e->code;
                break;
            }
            buf = p;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = pe_fail(e, PE_EIO, "%s: read error: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!rc)
        rc = pe_family_load_text(buf, n, path, out, e);
    free(buf);
    return rc;
}

void pe_family_load_free(pe_family_load *l)
{
    pe_family_file_free(l->file);
    free(l->text);
    memset(l, 0, sizeof *l);
}
