/* Placeholder until the command lands: says so and fails, never pretends. */
#include <stdio.h>

#include "cli/commands.h"
#include "core/err.h"

int cmd_tiny_model(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "prmeval %s: not implemented yet\n", argv[0]);
    return PE_EGENERIC;
}
