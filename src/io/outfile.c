/* Output files published whole and together (outfile.h). */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_LINKS = 40 };  /* as the kernel's ELOOP limit */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* What path leads to after its symbolic links, and what it is there:
 * 0 = nothing yet or a regular file (replaced), 1 = a character device
 * (written in place). Anything else is refused, naming `what` and path. */
static int resolve(const char *path, const char *what, char **target, int *in_place, pe_err *e)
{
    *target = NULL;
    *in_place = 0;
    /* What the path finally is (links followed, /dev/stdout included):
     * a device or a pipe is written in place. */
    struct stat fin;
    if (stat(path, &fin) == 0 && (S_ISCHR(fin.st_mode) || S_ISFIFO(fin.st_mode))) {
        *in_place = 1;
        *target = strdup(path);
        return *target ? PE_OK : pe_fail(e, PE_ERESOURCE, "%s %s: out of memory", what, path);
    }
    char *cur = strdup(path);
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0) {
            if (errno == ENOENT) {
                *target = cur;
                return PE_OK;
            }
            int rc = pe_fail(e, PE_EIO, "%s %s: cannot examine %s: %s", what, path, cur, strerror(errno));
            free(cur);
            return rc;
        }
        if (S_ISLNK(st.st_mode)) {
            char link[PATH_MAX];
            ssize_t n = hops < MAX_LINKS ? readlink(cur, link, sizeof link - 1) : -1;
            if (n < 0) {
                int rc = pe_fail(e, PE_EIO, "%s %s: cannot follow the symbolic link %s: %s", what, path, cur,
                                 hops < MAX_LINKS ? strerror(errno) : "too many levels of links");
                free(cur);
                return rc;
            }
            link[n] = '\0';
            char *next;
            if (link[0] == '/') {
                next = strdup(link);
            } else {
                char *d = dir_of(cur);
                size_t len = (d ? strlen(d) : 0) + (size_t)n + 2;
                next = d ? malloc(len) : NULL;
                if (next)
                    snprintf(next, len, "%s/%s", d, link);
                free(d);
            }
            free(cur);
            cur = next;
            continue;
        }
        const char *kind = S_ISDIR(st.st_mode) ? "a folder" : S_ISSOCK(st.st_mode) ? "a socket" : S_ISBLK(st.st_mode) ? "a block device" : NULL;
        if (kind) {
            int other = strcmp(cur, path) != 0;
            int rc = pe_fail(e, PE_EIO, "%s %s: %s%s%s %s: outputs go to a regular file (replaced by a "
                             "rename), a character device or a FIFO (written in place), or a symbolic link to one", what, path,
                             other ? "its target " : "", other ? cur : "", other ? " is" : "is", kind);
            free(cur);
            return rc;
        }
        *target = cur;
        return PE_OK;
    }
    return pe_fail(e, PE_ERESOURCE, "%s %s: out of memory", what, path);
}

int pe_outfile_open(pe_outfile *o, const char *path, pe_err *e)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    int in_place = 0;
    int rc = resolve(path, "output", &o->target, &in_place, e);
    if (rc != PE_OK)
        return rc;
    if (!(o->path = strdup(path))) {
        pe_outfile_abort(o);
        return pe_fail(e, PE_ERESOURCE, "%s: out of memory", path);
    }
    if (in_place) {
        /* non-blocking: a FIFO nobody reads is an error now, not a hang */
        o->fd = open(o->target, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (o->fd < 0 || fcntl(o->fd, F_SETFL, fcntl(o->fd, F_GETFL) & ~O_NONBLOCK) != 0) {
            rc = pe_fail(e, PE_EIO, "%s: cannot write: %s", path,
                         errno == ENXIO ? "a FIFO that no process reads" : strerror(errno));
            pe_outfile_abort(o);
            return rc;
        }
    } else {
        /* host, process and a counter: unique among runs on any node sharing the folder */
        static unsigned seq;
        char host[256] = "host";
        gethostname(host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        size_t len = strlen(o->target) + strlen(host) + 64;
        if (!(o->tmp = malloc(len))) {
            pe_outfile_abort(o);
            return pe_fail(e, PE_ERESOURCE, "%s: out of memory", path);
        }
        snprintf(o->tmp, len, "%s.%s.%ld.%u.tmp", o->target, host, (long)getpid(), seq++);
        o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (o->fd < 0) {
            rc = pe_fail(e, PE_EIO, "%s: cannot create the temporary file %s: %s", path, o->tmp, strerror(errno));
            free(o->tmp);
            o->tmp = NULL;  /* not ours: not removed */
            pe_outfile_abort(o);
            return rc;
        }
    }
    if (!(o->f = fdopen(o->fd, "w"))) {
        rc = pe_fail(e, PE_ERESOURCE, "%s: cannot open a stream: %s", path, strerror(errno));
        pe_outfile_abort(o);
        return rc;
    }
    o->fd = -1;  /* the stream owns it */
    return PE_OK;
}

void pe_outfile_abort(pe_outfile *o)
{
    if (o->f)
        fclose(o->f);
    else if (o->fd >= 0)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->target);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}

int pe_outfile_write(pe_outfile *o, const void *buf, size_t n)
{
    if (n && fwrite(buf, 1, n, o->f) != n) {
        if (!o->err)
            o->err = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

/* Flushes, fsyncs and closes one file; the stream is gone afterwards. */
static int finish_one(pe_outfile *o, pe_err *e)
{
    int bad = ferror(o->f), err = bad ? (o->err ? o->err : EIO) : 0;
    if (!bad && fflush(o->f) != 0) {
        bad = 1;
        err = errno;
    }
    /* a device has nothing to sync (and /dev/null says EINVAL) */
    if (!bad && o->tmp && fsync(fileno(o->f)) != 0) {
        bad = 1;
        err = errno;
    }
    if (fclose(o->f) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    o->f = NULL;
    if (bad)
        return pe_fail(e, PE_EIO, "%s: write failed%s%s%s: %s", o->path, o->tmp ? " (in " : "",
                       o->tmp ? o->tmp : "", o->tmp ? ")" : "", strerror(err));
    return PE_OK;
}

static void release(pe_outfile *o)
{
    free(o->tmp);
    free(o->target);
    free(o->path);
    memset(o, 0, sizeof *o);
    o->fd = -1;
}

/* The folder of o's target, opened for a lock; -1 when it cannot be (the
 * renames go ahead: the lock only orders runs). */
static int open_dir(const pe_outfile *o)
{
    char *d = dir_of(o->target);
    int fd = d ? open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    free(d);
    return fd;
}

int pe_outfile_publish(pe_outfile *o, int n, pe_err *e)
{
    int rc = PE_OK;
    for (int k = 0; k < n; k++)
        if (o[k].f && finish_one(&o[k], rc == PE_OK ? e : &(pe_err){0}) != PE_OK)
            rc = PE_EIO;
    if (rc != PE_OK) {
        for (int k = 0; k < n; k++)
            pe_outfile_abort(&o[k]);
        return rc;
    }
    /* Locks the folders in the order of the outputs: runs with the same outputs take them in the same order. */
    int fds[8], nfd = 0;
    dev_t dev[8];
    ino_t ino[8];
    for (int k = 0; k < n && nfd < 8; k++) {
        if (!o[k].tmp)
            continue;
        int fd = open_dir(&o[k]);
        struct stat st;
        if (fd < 0)
            continue;
        fstat(fd, &st);
        int same = 0;
        for (int j = 0; j < nfd; j++)
            same |= dev[j] == st.st_dev && ino[j] == st.st_ino;
        /* the same folder twice: a second flock would wait on our own first one */
        if (same || flock(fd, LOCK_EX) != 0) {
            close(fd);
            continue;
        }
        fds[nfd] = fd;
        dev[nfd] = st.st_dev;
        ino[nfd++] = st.st_ino;
    }
    int published = -1;
    for (int k = 0; k < n && rc == PE_OK; k++) {
        if (!o[k].tmp)
            continue;
        if (rename(o[k].tmp, o[k].target) != 0) {
            rc = pe_fail(e, PE_EIO, "%s: cannot rename %s onto %s: %s%s%s%s", o[k].path, o[k].tmp, o[k].target,
                         strerror(errno), published >= 0 ? " (" : "", published >= 0 ? o[published].path : "",
                         published >= 0 ? " was already replaced)" : "");
            break;
        }
        free(o[k].tmp);
        o[k].tmp = NULL;
        published = k;
    }
    for (int j = 0; j < nfd; j++) {
        fsync(fds[j]);  /* the new names, durable */
        close(fds[j]);  /* releases the lock */
    }
    for (int k = 0; k < n; k++) {
        if (o[k].tmp)
            unlink(o[k].tmp);
        release(&o[k]);
    }
    return rc;
}

/* ---- checks before any work ---- */

int pe_output_path_check(const char *path, const char *what, pe_err *e)
{
    size_t len = strlen(path);
    if (len == 0)
        return pe_fail(e, PE_EUSAGE, "%s: an empty path", what);
    if (path[len - 1] == '/')
        return pe_fail(e, PE_EIO, "%s %s: names a folder (a file name is expected)", what, path);
    if (len >= 4096)
        return pe_fail(e, PE_EIO, "%s: a path of %zu bytes is too long", what, len);
    char *target = NULL;
    int in_place = 0;
    int rc = resolve(path, what, &target, &in_place, e);
    if (rc != PE_OK)
        return rc;
    if (in_place) {
        rc = access(target, W_OK) == 0 ? PE_OK
                                          : pe_fail(e, PE_EIO, "%s %s: cannot write: %s", what, path, strerror(errno));
        free(target);
        return rc;
    }
    char *dir = dir_of(target);
    struct stat st;
    if (!dir)
        rc = pe_fail(e, PE_ERESOURCE, "%s %s: out of memory", what, path);
    else if (stat(dir, &st) != 0)
        rc = pe_fail(e, PE_EIO, "%s %s: the folder %s does not exist (create it first)", what, path, dir);
    else if (!S_ISDIR(st.st_mode))
        rc = pe_fail(e, PE_EIO, "%s %s: %s is not a folder", what, path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        rc = pe_fail(e, PE_EIO, "%s %s: cannot write in the folder %s: %s", what, path, dir, strerror(errno));
    free(dir);
    free(target);
    return rc;
}

/* The file an output will replace, as a canonical path (its folder resolved),
 * or NULL. */
static char *canonical_output(const char *out)
{
    char *target = NULL;
    int in_place = 0;
    pe_err ignore = {0};
    if (resolve(out, "output", &target, &in_place, &ignore) != PE_OK)
        return NULL;
    char *dir = dir_of(target), *real = dir ? realpath(dir, NULL) : NULL;
    const char *slash = strrchr(target, '/'), *base = slash ? slash + 1 : target;
    char *canon = NULL;
    if (real) {
        size_t len = strlen(real) + strlen(base) + 2;
        if ((canon = malloc(len)))
            snprintf(canon, len, "%s/%s", real, base);
    }
    free(real);
    free(dir);
    free(target);
    return canon;
}

int pe_output_distinct(const char *out, const char *what, const char *const *inputs, int ninputs,
                       const char *const *outputs, int noutputs, pe_err *e)
{
    char *canon = canonical_output(out);
    if (!canon)
        return PE_OK;  /* pe_output_path_check reports what is wrong with it */
    int rc = PE_OK;
    struct stat so;
    /* a character device (/dev/null) may be every output at once */
    int exists = stat(canon, &so) == 0, device = exists && S_ISCHR(so.st_mode);
    for (int k = 0; rc == PE_OK && !device && k < noutputs; k++) {
        char *other = canonical_output(outputs[k]);
        if (other && !strcmp(other, canon))
            rc = pe_fail(e, PE_EUSAGE, "%s %s: the same file as another output of this run (%s)", what, out,
                         outputs[k]);
        free(other);
    }
    for (int k = 0; rc == PE_OK && exists && !device && k < ninputs; k++) {
        struct stat si;
        if (!inputs[k] || !inputs[k][0] || stat(inputs[k], &si) != 0)
            continue;
        if (si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
            rc = pe_fail(e, PE_EUSAGE, "%s %s: is one of this run's inputs (%s); refusing to overwrite it", what,
                         out, inputs[k]);
        } else if (S_ISDIR(si.st_mode)) {
            char *real = realpath(inputs[k], NULL);
            size_t l = real ? strlen(real) : 0;
            if (real && !strncmp(canon, real, l) && canon[l] == '/' && !strchr(canon + l + 1, '/'))
                rc = pe_fail(e, PE_EUSAGE, "%s %s: is a file in the input folder %s; refusing to overwrite it", what,
                             out, inputs[k]);
            free(real);
        }
    }
    free(canon);
    return rc;
}
