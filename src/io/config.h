/* config.json -> pe_config (the struct lives in model.h, next to the weights). */
#ifndef PE_CONFIG_H
#define PE_CONFIG_H

#include "../core/err.h"
#include "model.h"

/* Reads PATH (a folder holding config.json, or the file itself). Every
 * unsupported or missing value is an error naming the file and the key. */
int pe_config_load(pe_config *cfg, const char *path, pe_err *e);

/* Parses config.json text; NAME (a path) is used in error messages. */
int pe_config_parse(pe_config *cfg, const char *text, const char *name, pe_err *e);

#endif
