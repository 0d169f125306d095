#include "sample.h"

#include <string.h>

static const char *const class_names[PE_NCLASSES] = {
    "correct", "redundency", "circular", "counterfactual", "step_contradiction",
    "domain_inconsistency", "confidence", "missing_condition", "deception", "multi_solutions",
};
static const char *const class_abbrevs[PE_NCLASSES] = {
    "correct", "NR", "NCL", "ES", "SC", "DC", "CI", "PS", "DR", "MS",
};
static const int class_categories[PE_NCLASSES] = {
    -1, PE_CAT_SIMPLICITY, PE_CAT_SIMPLICITY, PE_CAT_SOUNDNESS, PE_CAT_SOUNDNESS,
    PE_CAT_SOUNDNESS, PE_CAT_SOUNDNESS, PE_CAT_SENSITIVITY, PE_CAT_SENSITIVITY, PE_CAT_SENSITIVITY,
};
static const char *const category_names[PE_NCATEGORIES] = {"Simplicity", "Soundness", "Sensitivity"};
static const char *const category_abbrevs[PE_NCATEGORIES] = {"Simp.", "Sound.", "Sens."};

const char *pe_class_name(pe_class c) { return (unsigned)c < PE_NCLASSES ? class_names[c] : "?"; }
const char *pe_class_abbrev(pe_class c) { return (unsigned)c < PE_NCLASSES ? class_abbrevs[c] : "?"; }
int pe_class_category(pe_class c) { return (unsigned)c < PE_NCLASSES ? class_categories[c] : -1; }
const char *pe_category_name(pe_category c) { return (unsigned)c < PE_NCATEGORIES ? category_names[c] : "?"; }
const char *pe_category_abbrev(pe_category c) { return (unsigned)c < PE_NCATEGORIES ? category_abbrevs[c] : "?"; }

int pe_class_from_name(const char *name)
{
    for (int c = 0; c < PE_NCLASSES; c++)
        if (strcmp(name, class_names[c]) == 0)
            return c;
    return -1;
}
