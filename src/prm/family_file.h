/* Family files (docs/families.md, "Write your own"): a PRM family described
 * in JSON with the parts of the built-in descriptors (prompt template, step
 * clean-up, read-out rule, head, label rules, recognition, BOS source),
 * parsed into a pe_family and checked by pe_family_problem as the built-ins
 * are. Pure: the JSON arrives parsed (the file is read and strictly parsed
 * by src/io/family_load.c). */
#ifndef PE_PRM_FAMILY_FILE_H
#define PE_PRM_FAMILY_FILE_H

#include <cjson/cJSON.h>

#include "prm.h"

/* The version a family file declares with "prmeval_family". */
#define PE_FAMILY_FILE_VERSION 1

typedef struct pe_family_file pe_family_file;

/* Builds the family that root describes. Takes root over (freed with the
 * result, or here on failure). name: the file, for messages. Errors are
 * PE_EINPUT "name: key \"prompt.step[1].text\": why". */
int pe_family_file_from_json(cJSON *root, const char *name, pe_family_file **out, pe_err *e);
const pe_family *pe_family_file_family(const pe_family_file *ff);
void pe_family_file_free(pe_family_file *ff);

#endif
