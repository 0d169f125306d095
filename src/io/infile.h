/* Opening an input file for reading without ever waiting in open(2): a FIFO
 * with no writer would block open() for ever (and a stop signal restarts it).
 * Opened non-blocking, then switched back to blocking reads: a pipe with a
 * writer (`prmeval run <(cat job.json)`) reads as usual, a FIFO nobody writes
 * reads as an empty file, which the parsers refuse. */
#ifndef PE_INFILE_H
#define PE_INFILE_H

#include <stdio.h>

/* fopen(path, "rb") without blocking in open; NULL with errno set. */
FILE *pe_fopen_input(const char *path);

#endif
