#include "cli_option.h"

#include <stddef.h>
#include <string.h>

int pe_cli_option(int argc, char **argv, int *i, const char *const *names, int n, const char **val)
{
    const char *a = argv[*i];
    for (int k = 0; k < n; k++) {
        size_t len = strlen(names[k]);
        if (strncmp(a, names[k], len) != 0)
            continue;
        if (a[len] == '=') {
            *val = a + len + 1;
            return k;
        }
        if (a[len] == '\0') {
            *val = *i + 1 < argc ? argv[++*i] : NULL;
            return k;
        }
    }
    return -1;
}
