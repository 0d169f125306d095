/* Options with a value, the same way in every command: "--name value" or
 * "--name=value". */
#ifndef PE_CLI_OPTION_H
#define PE_CLI_OPTION_H

/* Which of names[0..n) argv[*i] is: its index, with *val the value (NULL when
 * "--name" is the last argument) and *i moved past a separate value; -1 when
 * it is none of them (*i and *val untouched). */
int pe_cli_option(int argc, char **argv, int *i, const char *const *names, int n, const char **val);

#endif
