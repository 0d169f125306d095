/* The version and git commit CMake compiles in (PRMEVAL_VERSION,
 * PRMEVAL_GIT_COMMIT), with fallbacks for a build without them. They go into
 * provenance, resume journals and the modules' build id. */
#ifndef PE_VERSION_H
#define PE_VERSION_H

#ifndef PRMEVAL_VERSION
#define PRMEVAL_VERSION "unknown"
#endif
#ifndef PRMEVAL_GIT_COMMIT
#define PRMEVAL_GIT_COMMIT "unknown"
#endif

#endif
