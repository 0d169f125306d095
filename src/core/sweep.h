/* Threshold lists for `prmeval rescore --threshold A:B:STEP | T`. Pure. */
#ifndef PE_SWEEP_H
#define PE_SWEEP_H

#include "err.h"

/* Most thresholds one sweep may have: a typo (0:1:0.00001) must not start
 * a run of 100,001 metric computations. */
#define PE_SWEEP_MAX 10000

typedef struct pe_sweep {
    double a, b, step;  /* a single threshold T: a = b = T, step = 0 */
    int count;          /* thresholds, 1..PE_SWEEP_MAX */
    int decimals;       /* decimal places the values are rounded to; -1: no rounding */
} pe_sweep;

/* Parses "T" or "A:B:STEP" (each a finite number). A range needs A <= B,
 * STEP > 0 and at most PE_SWEEP_MAX values; it holds A, A+STEP, ... up to B.
 * Errors are PE_EUSAGE naming the text and what is wrong. */
int pe_sweep_parse(const char *text, pe_sweep *s, pe_err *e);

/* The i-th threshold (0 <= i < count). It is computed as A + i*STEP, never by
 * repeated addition (which drifts), then rounded to the number of decimal
 * places written in A, B and STEP, so "0.3:0.7:0.2" gives exactly the doubles
 * of 0.3, 0.5 and 0.7, the values `--threshold 0.7` reads; without the
 * rounding the last would be 0.7000000000000001 and label differently from
 * `eval --threshold 0.7` for a score of 0.7. A value above B by a rounding
 * error is B. */
double pe_sweep_value(const pe_sweep *s, int i);

#endif
