/* PRMBench samples as the reference evaluator builds them (see
 * docs/metric.md): plain data, no I/O. The reader lives in src/io/dataset.c. */
#ifndef PE_SAMPLE_H
#define PE_SAMPLE_H

#include <stdint.h>

/* Order is the paper's table order, after the synthetic `correct` class. */
typedef enum {
    PE_CLS_CORRECT = 0,
    PE_CLS_REDUNDENCY,           /* NR  (sic: the data's spelling) */
    PE_CLS_CIRCULAR,             /* NCL */
    PE_CLS_COUNTERFACTUAL,       /* ES  */
    PE_CLS_STEP_CONTRADICTION,   /* SC  */
    PE_CLS_DOMAIN_INCONSISTENCY, /* DC  */
    PE_CLS_CONFIDENCE,           /* CI  */
    PE_CLS_MISSING_CONDITION,    /* PS  */
    PE_CLS_DECEPTION,            /* DR  */
    PE_CLS_MULTI_SOLUTIONS,      /* MS  */
    PE_NCLASSES
} pe_class;

typedef enum { PE_CAT_SIMPLICITY = 0, PE_CAT_SOUNDNESS, PE_CAT_SENSITIVITY, PE_NCATEGORIES } pe_category;

const char *pe_class_name(pe_class c);   /* "redundency", ... as in the data */
const char *pe_class_abbrev(pe_class c); /* "NR", ...; "correct" for the synthetic class */
int pe_class_from_name(const char *name);  /* -1 if unknown */
int pe_class_category(pe_class c);         /* -1 for correct */
const char *pe_category_name(pe_category c); /* "Simplicity", ... */
const char *pe_category_abbrev(pe_category c); /* "Simp.", ... */

typedef struct pe_sample {
    char *key;        /* "<classification>_<idx>": the key predictions use */
    char *idx;        /* the record's idx (shared by all classes of a problem) */
    int cls;          /* pe_class */
    int problem;      /* 0-based problem number, in order of first appearance of idx */
    char *question;
    int nsteps;
    char **steps;
    int nerr;
    int *err_steps;   /* 0-based, in file order, may be >= nsteps (kept, as the reference does) */
    int src_file;     /* index into pe_dataset.files */
    int src_line;     /* 1-based line of the record that produced the sample */
} pe_sample;

typedef struct pe_dataset {
    int nsamples;
    pe_sample *samples;   /* in the reference evaluator's order */
    int nproblems;
    int nfiles;
    char **files;         /* paths read, sorted by name */
    int64_t nrecords;
    int64_t nduplicates;  /* records whose sample key an earlier record had: skipped (the first wins) */
    char duplicate_example[1024];  /* the first one, naming both files and lines; "" when none */
} pe_dataset;

#endif
