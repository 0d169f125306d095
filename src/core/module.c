#include "module.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *pe_module_open(const char *file, const char *env, char *why, size_t whylen)
{
    char path[PATH_MAX], where[2 * PATH_MAX + 128];
    const char *given = getenv(env);
    if (given && *given) {
        snprintf(path, sizeof path, "%s", given);
        snprintf(where, sizeof where, "%s (from %s)", path, env);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        char *slash = n > 0 ? (path[n] = '\0', strrchr(path, '/')) : NULL;
        if (slash)
            snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "%s", file);
        else
            snprintf(path, sizeof path, "%s", file);
        /* Only a module missing beside the executable is looked for elsewhere:
         * one that is there but broken is reported as it is. */
        if (access(path, F_OK) == 0) {
            snprintf(where, sizeof where, "%s (beside the executable, or set %s)", path, env);
        } else {
            snprintf(where, sizeof where, "%s (not beside the executable at %s, nor on the loader's path; "
                     "or set %s)", file, path, env);
            snprintf(path, sizeof path, "%s", file);
        }
    }
    void *m = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m) {
        const char *err = dlerror();
        if (why && whylen > 0)
            snprintf(why, whylen, "cannot load %s: %s", where, err ? err : "unknown error");
        return NULL;
    }
    const char *abi = dlsym(m, "pe_module_abi");
    if (!abi || strcmp(abi, PE_MODULE_ABI) != 0) {
        if (why && whylen > 0)
            snprintf(why, whylen, "%s comes from another prmeval build (%.64s; this is %s): use the one built "
                     "with this executable", where, abi ? abi : "no build id", PE_MODULE_ABI);
        dlclose(m);
        return NULL;
    }
    return m;
}
