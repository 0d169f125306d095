#include "textout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void release(pe_textout *t)
{
    free(t->path);
    free(t->tmp);
    memset(t, 0, sizeof *t);
}

int pe_textout_open(pe_textout *t, const char *path, pe_err *e)
{
    memset(t, 0, sizeof *t);
    size_t n = strlen(path) + 5;
    t->path = pe_malloc(n, e);
    t->tmp = pe_malloc(n, e);
    if (!t->path || !t->tmp) {
        release(t);
        return PE_ERESOURCE;
    }
    memcpy(t->path, path, n - 4);
    snprintf(t->tmp, n, "%s.tmp", path);
    if (!(t->f = fopen(t->tmp, "w"))) {
        int rc = pe_fail(e, PE_EIO, "%s: cannot write: %s", t->tmp, strerror(errno));
        release(t);
        return rc;
    }
    return PE_OK;
}

int pe_textout_commit(pe_textout *t, pe_err *e)
{
    int rc = PE_OK;
    /* ferror catches a failed write anywhere before; fclose the final flush */
    int bad = ferror(t->f);
    bad |= fclose(t->f) != 0;
    if (bad)
        rc = pe_fail(e, PE_EIO, "%s: write failed: %s", t->tmp, strerror(errno));
    else if (rename(t->tmp, t->path) != 0)
        rc = pe_fail(e, PE_EIO, "%s: cannot rename to %s: %s", t->tmp, t->path, strerror(errno));
    if (rc != PE_OK)
        remove(t->tmp);
    release(t);
    return rc;
}

void pe_textout_abort(pe_textout *t)
{
    if (t->f) {
        fclose(t->f);
        remove(t->tmp);
    }
    release(t);
}

int pe_output_path_check(const char *path, const char *what, pe_err *e)
{
    struct stat st;
    size_t len = strlen(path);
    if (len == 0)
        return pe_fail(e, PE_EUSAGE, "%s: an empty path", what);
    if (path[len - 1] == '/')
        return pe_fail(e, PE_EIO, "%s %s: names a folder (a file name is expected)", what, path);
    if (len >= 4096)
        return pe_fail(e, PE_EIO, "%s: a path of %zu bytes is too long", what, len);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return pe_fail(e, PE_EIO, "%s %s: is a folder (a file name is expected)", what, path);
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (stat(dir, &st) != 0)
        return pe_fail(e, PE_EIO, "%s %s: the folder %s does not exist (create it first)", what, path, dir);
    if (!S_ISDIR(st.st_mode))
        return pe_fail(e, PE_EIO, "%s %s: %s is not a folder", what, path, dir);
    if (access(dir, W_OK | X_OK) != 0)
        return pe_fail(e, PE_EIO, "%s %s: cannot write in the folder %s: %s", what, path, dir, strerror(errno));
    return PE_OK;
}
