/* Input files read through mmap (safetensors weights, JSONL data) raise
 * SIGBUS when the file shrinks under the mapping (truncated or rewritten in
 * place by another process during the run). Each mapping is registered here;
 * a SIGBUS inside one prints which file shrank and ends the process with exit
 * 4, from the signal handler (write(2) and _exit(2) only, both
 * async-signal-safe). A SIGBUS elsewhere keeps its default action (a crash
 * with a core, as a bug should).
 *
 * Why not recover and return an error: the fault can happen in any thread
 * (OpenMP workers converting weights, OpenBLAS), where a longjmp out of the
 * handler is undefined; copying the weights instead of mapping them would cost
 * every rank the file's size in memory, where the page cache is shared today.
 * Under MPI the other ranks are then stopped by the launcher. */
#ifndef PE_MAP_GUARD_H
#define PE_MAP_GUARD_H

#include <stddef.h>

/* Registers [addr, addr+len) as a mapping of file `path` (copied). Installs
 * the handler on first use. Silently does nothing when the table is full
 * (the fault then stays a plain SIGBUS). */
void pe_map_guard_add(const void *addr, size_t len, const char *path);
/* Before munmap. */
void pe_map_guard_remove(const void *addr);

#endif
