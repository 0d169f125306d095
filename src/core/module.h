/* Finding and opening prmeval's optional shared modules (dlopen), so that
 * heavy libraries are loaded only by the commands that use them. */
#ifndef PE_MODULE_H
#define PE_MODULE_H

#include <stddef.h>

#include "version.h"

/* Which build a module comes from. Structs cross the module boundary by
 * layout, so a module from another build (a stale copy on the loader's path)
 * is refused instead of being called. */
#define PE_MODULE_ABI PRMEVAL_VERSION "+" PRMEVAL_GIT_COMMIT

/* Every module defines its build once, with this at file scope. */
#define PE_MODULE_DEFINE_ABI \
    __attribute__((visibility("default"))) const char pe_module_abi[] = PE_MODULE_ABI

/* Opens `file` from the path in the environment variable `env` when that is
 * set; else from the running executable's folder, or through the dynamic
 * loader's search when no such file is there. The module must come from this
 * build (PE_MODULE_ABI). NULL on failure, with why (whylen bytes) saying what
 * failed. */
void *pe_module_open(const char *file, const char *env, char *why, size_t whylen);

#endif
