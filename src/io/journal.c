/* Per-shard journals (layout and guarantees in journal.h). */
#include "io/journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sha256.h"

void pe_journal_sha256(const void *data, size_t n, uint8_t out[32])
{
    pe_sha256 h;
    pe_sha256_init(&h);
    pe_sha256_update(&h, data, n);
    pe_sha256_final(&h, out);
}

static const uint8_t MAGIC[8] = {'P', 'E', 'J', 'R', 'N', 'L', '\r', '\n'};
enum { HEAD_FIXED = 16, SHA_LEN = 32 };  /* magic + version + hash length; checksum */
/* Everything but the job hash and the payload: magic, version, hash length,
 * shard id, payload length, checksum. */
#define JOURNAL_OVERHEAD ((size_t)(HEAD_FIXED + 8 + 8 + SHA_LEN))

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int check_job_hash(const char *job_hash, pe_err *e)
{
    if (!job_hash)
        return pe_fail(e, PE_EUSAGE, "journal: no job hash given");
    size_t n = strnlen(job_hash, PE_JOURNAL_HASH_MAX + 1);
    if (n == 0 || n > PE_JOURNAL_HASH_MAX)
        return pe_fail(e, PE_EUSAGE, "journal: job hash must be 1..%d hex digits, got %zu characters",
                       PE_JOURNAL_HASH_MAX, n);
    for (size_t i = 0; i < n; i++) {
        char c = job_hash[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return pe_fail(e, PE_EUSAGE, "journal: job hash must be lower-case hex, character %zu is '%c'",
                           i + 1, c);
    }
    return PE_OK;
}

int pe_journal_path(const char *dir, uint64_t shard, char *buf, size_t size, pe_err *e)
{
    int n = snprintf(buf, size, "%s/shard-%" PRIu64 ".journal", dir, shard);
    if (n < 0 || (size_t)n >= size)
        return pe_fail(e, PE_EUSAGE, "journal: path too long for folder '%s'", dir);
    return PE_OK;
}

/* mkdir -p: every rank may race to create the same folder, so EEXIST is fine. */
static int make_dirs(const char *dir, pe_err *e)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return pe_fail(e, PE_EUSAGE, "journal: bad checkpoint folder name '%s'", dir);
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            return pe_fail(e, PE_EIO, "journal: cannot create folder '%s': %s", path, strerror(errno));
        path[i] = saved;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return pe_fail(e, PE_EIO, "journal: '%s' is not a folder", dir);
    return PE_OK;
}

int pe_journal_dir_check(const char *dir, pe_err *e)
{
    int rc = make_dirs(dir, e);
    if (rc == PE_OK && access(dir, W_OK | X_OK) != 0)
        rc = pe_fail(e, PE_EIO, "journal: cannot write in the folder '%s': %s", dir, strerror(errno));
    return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The rename is durable only once the folder entry itself reaches the disk. */
static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    /* Some file systems (e.g. certain network ones) refuse fsync on a folder: not a failure. */
    if (rc != 0 && (errno == EINVAL || errno == EROFS))
        rc = 0;
    close(fd);
    return rc;
}

int pe_journal_write(const char *dir, const char *job_hash, uint64_t shard,
                     const void *payload, size_t len, pe_err *e)
{
    int rc = check_job_hash(job_hash, e);
    if (rc)
        return rc;
    if (len > 0 && !payload)
        return pe_fail(e, PE_EUSAGE, "journal: payload of %zu bytes given as NULL", len);
    size_t hlen = strlen(job_hash);
    if (len > SIZE_MAX - JOURNAL_OVERHEAD - hlen)
        return pe_fail(e, PE_ERESOURCE, "journal: payload of %zu bytes is too large", len);
    if ((rc = make_dirs(dir, e)))
        return rc;

    char final[4096], tmp[4200], host[256] = "host";
    if ((rc = pe_journal_path(dir, shard, final, sizeof final, e)))
        return rc;
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    /* A name no reader lists and no other writer (other node, other process) picks. */
    snprintf(tmp, sizeof tmp, "%s/.shard-%" PRIu64 ".journal.%s.%ld.tmp", dir, shard, host, (long)getpid());

    size_t total = JOURNAL_OVERHEAD + hlen + len;  /* fits: checked above */
    uint8_t *buf = pe_malloc(total, e);
    if (!buf)
        return PE_ERESOURCE;
    uint8_t *p = buf;
    memcpy(p, MAGIC, 8);
    put_u32(p + 8, PE_JOURNAL_VERSION);
    put_u32(p + 12, (uint32_t)hlen);
    memcpy(p + HEAD_FIXED, job_hash, hlen);
    p += HEAD_FIXED + hlen;
    put_u64(p, shard);
    put_u64(p + 8, (uint64_t)len);
    p += 16;
    if (len)
        memcpy(p, payload, len);
    p += len;
    pe_journal_sha256(buf, (size_t)(p - buf), p);

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        free(buf);
        return pe_fail(e, PE_EIO, "journal: cannot create '%s': %s", tmp, strerror(errno));
    }
    const char *what = NULL;
    if (write_all(fd, buf, total) != 0)
        what = "write";
    else if (fsync(fd) != 0)
        what = "fsync";
    int saved = errno;
    if (close(fd) != 0 && !what) {
        what = "close";
        saved = errno;
    }
    free(buf);
    if (what) {
        unlink(tmp);
        return pe_fail(e, PE_EIO, "journal: %s of '%s' failed: %s", what, tmp, strerror(saved));
    }
    if (rename(tmp, final) != 0) {
        saved = errno;
        unlink(tmp);
        return pe_fail(e, PE_EIO, "journal: cannot rename '%s' to '%s': %s", tmp, final, strerror(saved));
    }
    if (sync_dir(dir) != 0)
        return pe_fail(e, PE_EIO, "journal: fsync of folder '%s' failed: %s", dir, strerror(errno));
    return PE_OK;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return -1;  /* shrank under us: another process is rewriting it */
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Checks one journal image against the expected job and shard. Returns NULL
 * when valid, else the reason it is unusable (written into why). */
static const char *check_image(const uint8_t *buf, size_t size, const char *job_hash, uint64_t shard,
                               char *why, size_t whysize)
{
    if (size < HEAD_FIXED) {
        snprintf(why, whysize, "truncated: %zu bytes, shorter than the header", size);
        return why;
    }
    if (memcmp(buf, MAGIC, 8) != 0)
        return "not a prmeval journal (bad magic)";
    uint32_t version = get_u32(buf + 8);
    if (version != PE_JOURNAL_VERSION) {
        snprintf(why, whysize, "format version %" PRIu32 ", this prmeval reads %u", version, PE_JOURNAL_VERSION);
        return why;
    }
    uint32_t hlen = get_u32(buf + 12);
    if (hlen == 0 || hlen > PE_JOURNAL_HASH_MAX) {
        snprintf(why, whysize, "job hash length %" PRIu32 " outside 1..%d", hlen, PE_JOURNAL_HASH_MAX);
        return why;
    }
    if (size < JOURNAL_OVERHEAD + hlen) {
        snprintf(why, whysize, "truncated: %zu bytes, the header and checksum alone need %zu",
                 size, JOURNAL_OVERHEAD + hlen);
        return why;
    }
    uint64_t plen = get_u64(buf + HEAD_FIXED + hlen + 8);
    uint64_t room = (uint64_t)(size - JOURNAL_OVERHEAD - hlen);
    if (plen != room) {
        snprintf(why, whysize, "%s: header says %" PRIu64 " payload bytes, the file holds %" PRIu64,
                 plen > room ? "truncated" : "trailing bytes", plen, room);
        return why;
    }
    uint8_t sum[SHA_LEN];
    pe_journal_sha256(buf, size - SHA_LEN, sum);
    if (memcmp(sum, buf + size - SHA_LEN, SHA_LEN) != 0)
        return "checksum mismatch (SHA-256 of the contents differs from the one stored)";
    /* Only now are the identity fields known to be what the writer wrote. */
    if (hlen != strlen(job_hash) || memcmp(buf + HEAD_FIXED, job_hash, hlen) != 0) {
        char theirs[17] = {0};
        memcpy(theirs, buf + HEAD_FIXED, hlen < 16 ? hlen : 16);
        for (int i = 0; theirs[i]; i++)  /* checksummed, yet perhaps not hex: keep messages printable */
            if (theirs[i] < 0x20 || theirs[i] > 0x7e)
                theirs[i] = '?';
        snprintf(why, whysize, "belongs to another job (job hash %s..., this job's is %.16s...)",
                 theirs, job_hash);
        return why;
    }
    uint64_t got = get_u64(buf + HEAD_FIXED + hlen);
    if (got != shard) {
        snprintf(why, whysize, "holds shard %" PRIu64 ", expected shard %" PRIu64, got, shard);
        return why;
    }
    return NULL;
}

pe_journal_status pe_journal_read(const char *dir, const char *job_hash, uint64_t shard,
                                  void **payload, size_t *len, pe_err *e)
{
    *payload = NULL;
    *len = 0;
    if (check_job_hash(job_hash, e))
        return PE_JOURNAL_ERROR;
    char path[4096];
    if (pe_journal_path(dir, shard, path, sizeof path, e))
        return PE_JOURNAL_ERROR;

    /* non-blocking: a FIFO under the journal's name must not hang the run */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return PE_JOURNAL_ABSENT;
        pe_fail(e, PE_EIO, "journal: cannot open '%s': %s", path, strerror(errno));
        return PE_JOURNAL_ERROR;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        pe_fail(e, PE_EIO, "journal: cannot stat '%s': %s", path, strerror(errno));
        close(fd);
        return PE_JOURNAL_ERROR;
    }
    if (S_ISDIR(st.st_mode)) {
        /* its journal could never be renamed there: known now, not after the shard's work */
        close(fd);
        pe_fail(e, PE_EIO, "journal: '%s' is a folder, where the shard's journal must go: remove or rename it", path);
        return PE_JOURNAL_ERROR;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        pe_fail(e, PE_EINPUT, "%s: corrupt journal: not a regular file; the shard is redone", path);
        return PE_JOURNAL_CORRUPT;
    }
    if ((uint64_t)st.st_size > PE_JOURNAL_MAX_BYTES) {
        close(fd);
        pe_fail(e, PE_EINPUT, "%s: corrupt journal: %lld bytes, more than the %llu a shard's journal can hold; the "
                "shard is redone", path, (long long)st.st_size, (unsigned long long)PE_JOURNAL_MAX_BYTES);
        return PE_JOURNAL_CORRUPT;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = pe_malloc(size, e);
    if (!buf) {
        close(fd);
        return PE_JOURNAL_ERROR;
    }
    if (size && read_all(fd, buf, size) != 0) {
        int saved = errno;
        close(fd);
        free(buf);
        pe_fail(e, PE_EIO, "journal: cannot read '%s': %s", path, saved ? strerror(saved) : "short read");
        return PE_JOURNAL_ERROR;
    }
    close(fd);

    char why[256];
    const char *bad = check_image(buf, size, job_hash, shard, why, sizeof why);
    if (bad) {
        free(buf);
        pe_fail(e, PE_EINPUT, "%s: corrupt or foreign journal: %s; the shard is redone", path, bad);
        return PE_JOURNAL_CORRUPT;
    }
    size_t hlen = strlen(job_hash);
    size_t plen = size - JOURNAL_OVERHEAD - hlen;
    /* Hand back the payload in its own block so the caller owns exactly that. */
    uint8_t *out = pe_malloc(plen ? plen : 1, e);
    if (!out) {
        free(buf);
        return PE_JOURNAL_ERROR;
    }
    if (plen)
        memcpy(out, buf + HEAD_FIXED + hlen + 16, plen);
    free(buf);
    *payload = out;
    *len = plen;
    return PE_JOURNAL_VALID;
}

/* Parses a canonical journal name "shard-<id>.journal" (decimal, no leading
 * zeros, no sign); anything else (temporary files, backups) is not a journal. */
static int parse_name(const char *name, uint64_t *shard)
{
    static const char pre[] = "shard-", suf[] = ".journal";
    size_t n = strlen(name), np = sizeof pre - 1, ns = sizeof suf - 1;
    if (n <= np + ns || strncmp(name, pre, np) != 0 || strcmp(name + n - ns, suf) != 0)
        return 0;
    const char *d = name + np;
    size_t nd = n - np - ns;
    if (nd > 20 || (nd > 1 && d[0] == '0'))
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < nd; i++) {
        if (d[i] < '0' || d[i] > '9')
            return 0;
        uint64_t digit = (uint64_t)(d[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return 0;
        v = v * 10 + digit;
    }
    *shard = v;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int pe_journal_list(const char *dir, uint64_t **shards, size_t *n, pe_err *e)
{
    *shards = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT)
            return PE_OK;
        return pe_fail(e, PE_EIO, "journal: cannot list folder '%s': %s", dir, strerror(errno));
    }
    uint64_t *ids = NULL;
    size_t count = 0, cap = 0;
    struct dirent *ent;
    errno = 0;
    while ((ent = readdir(d)) != NULL) {
        uint64_t id;
        if (!parse_name(ent->d_name, &id))
            continue;
        if (count == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            uint64_t *grown = pe_realloc(ids, ncap * sizeof *ids, e);
            if (!grown) {
                free(ids);
                closedir(d);
                return PE_ERESOURCE;
            }
            ids = grown;
            cap = ncap;
        }
        ids[count++] = id;
        errno = 0;
    }
    int saved = errno;
    closedir(d);
    if (saved) {
        free(ids);
        return pe_fail(e, PE_EIO, "journal: cannot list folder '%s': %s", dir, strerror(saved));
    }
    if (count)
        qsort(ids, count, sizeof *ids, cmp_u64);
    *shards = ids;
    *n = count;
    return PE_OK;
}
