/* Finding and opening the backends' optional shared modules (dlopen), so that
 * heavy libraries are loaded only by the runs that use them. */
#ifndef PE_MODULE_H
#define PE_MODULE_H

#include <stddef.h>

/* Opens `file` from the path in the environment variable `env` when that is
 * set, else from the running executable's folder, then through the dynamic
 * loader's search. NULL on failure, with why (whylen bytes) saying what failed. */
void *pe_module_open(const char *file, const char *env, char *why, size_t whylen);

#endif
