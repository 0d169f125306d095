/* One file per command (src/cli/cmd_<name>.c). Each takes the arguments after
 * the command name (argv[0] is the command name) and returns the process exit
 * code (see src/core/err.h). */
#ifndef PE_COMMANDS_H
#define PE_COMMANDS_H

int cmd_eval(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_rescore(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_tiny_model(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

#endif
