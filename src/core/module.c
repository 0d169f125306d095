#include "module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *pe_module_open(const char *file, const char *env, char *why, size_t whylen)
{
    char path[PATH_MAX];
    const char *given = getenv(env);
    if (given && *given) {
        snprintf(path, sizeof path, "%s", given);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        char *slash = n > 0 ? (path[n] = '\0', strrchr(path, '/')) : NULL;
        if (slash)
            snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", file);
        else
            snprintf(path, sizeof path, "%s", file);
    }
    void *m = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    /* A path the user gave is not second-guessed. */
    if (!m && !(given && *given))
        m = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!m && why && whylen > 0) {
        const char *err = dlerror();
        snprintf(why, whylen, "cannot load %s (%s%s): %s", path, given && *given ? "from " : "beside the executable, or set ",
                 env, err ? err : "unknown error");
    }
    return m;
}
