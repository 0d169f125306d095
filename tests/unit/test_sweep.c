/* Threshold sweeps (src/core/sweep.c) and the double-input label rule
 * (pe_family_labels_f64), hand-worked. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "prm/prm.h"
#include "core/sweep.h"

static void ranges(void)
{
    pe_sweep s;
    pe_err e = {0};
    CHECK_INT(pe_sweep_parse("0.3:0.7:0.2", &s, &e), PE_OK);
    CHECK_INT(s.count, 3);  /* (0.7-0.3)/0.2 is 1.9999999999999998: the tolerance keeps 0.7 */
    CHECK_BITS(pe_sweep_value(&s, 0), 0.3);
    CHECK_BITS(pe_sweep_value(&s, 1), 0.5);
    CHECK_BITS(pe_sweep_value(&s, 2), 0.7);
    CHECK_INT(pe_sweep_parse("0:1:0.1", &s, &e), PE_OK);
    CHECK_INT(s.count, 11);
    /* 0 + 3*0.1 is 0.30000000000000004 and repeated addition drifts further:
     * the value is the double of "0.3" */
    CHECK(0.0 + 3 * 0.1 != 0.3);
    CHECK_BITS(pe_sweep_value(&s, 3), 0.3);
    CHECK_BITS(pe_sweep_value(&s, 7), 0.7);
    CHECK_BITS(pe_sweep_value(&s, 10), 1.0);
    CHECK_INT(pe_sweep_parse("-0.1:0.1:0.05", &s, &e), PE_OK);
    CHECK_INT(s.count, 5);
    CHECK_BITS(pe_sweep_value(&s, 2), 0.0);  /* +0.0, not -0.0 */
    CHECK_BITS(pe_sweep_value(&s, 3), 0.05);
    CHECK_INT(pe_sweep_parse("0.5:0.5:0.1", &s, &e), PE_OK);
    CHECK_INT(s.count, 1);
    CHECK_INT(pe_sweep_parse("0:1:0.3", &s, &e), PE_OK);  /* 0, 0.3, 0.6, 0.9: B need not be hit */
    CHECK_INT(s.count, 4);
    CHECK_BITS(pe_sweep_value(&s, 3), 0.9);
    CHECK_INT(pe_sweep_parse("1e-1:3e-1:1e-1", &s, &e), PE_OK);  /* exponents: no rounding, A + i*STEP */
    CHECK_INT(s.count, 3);
    CHECK_INT(s.decimals, -1);
    CHECK_BITS(pe_sweep_value(&s, 1), 0.2);
    CHECK_BITS(pe_sweep_value(&s, 2), 0.3);  /* 0.1 + 2*0.1 is 0.30000000000000004 > B: B */
    CHECK_INT(pe_sweep_parse("0:0.9999:0.0001", &s, &e), PE_OK);
    CHECK_INT(s.count, PE_SWEEP_MAX);
    CHECK_INT(pe_sweep_parse("0.25", &s, &e), PE_OK);
    CHECK_INT(s.count, 1);
    CHECK_BITS(pe_sweep_value(&s, 0), 0.25);
}

static void refused(const char *text)
{
    pe_sweep s;
    pe_err e = {0};
    int rc = pe_sweep_parse(text, &s, &e);
    CHECK_INT(rc, PE_EUSAGE);
    CHECK(strstr(e.msg, text) != NULL);  /* the message quotes what was given */
}

static void labels_f64(void)
{
    const pe_family *sky = pe_family_by_name("skywork");
    pe_family_opts o;
    pe_family_opts_default(&o);
    /* r = 0.6, 0.5, 0.55, 0.2: differences 0.6, -0.1, 0.05 (0.55-0.5 = 0.050000000000000044), -0.35 */
    const double r[4] = {0.6, 0.5, 0.55, 0.2};
    uint8_t L[4];
    o.label_rule = PE_LABEL_CURRENT;
    pe_family_labels_f64(sky, &o, -0.05, r, 4, L);
    CHECK(L[0] == 1 && L[1] == 0 && L[2] == 1 && L[3] == 0);
    pe_family_labels_f64(sky, &o, 0.05, r, 4, L);  /* 0.050000000000000044 > 0.05 */
    CHECK(L[0] == 1 && L[1] == 0 && L[2] == 1 && L[3] == 0);
    pe_family_labels_f64(sky, &o, 0.6, r, 4, L);   /* strict: r_1 = 0.6 is not > 0.6 */
    CHECK(L[0] == 0);
    o.label_rule = PE_LABEL_ORIGINAL;
    pe_family_labels_f64(sky, &o, 0.5, r, 4, L);   /* plain score > 0.5 */
    CHECK(L[0] == 1 && L[1] == 0 && L[2] == 1 && L[3] == 0);
    /* a double that is no float keeps its own value: 0.5000000001 > 0.5 */
    const double d = 0.5000000001;
    pe_family_labels_f64(sky, &o, 0.5, &d, 1, L);
    CHECK(L[0] == 1);
    /* the float entry point agrees where the rewards are floats */
    const float f[4] = {0.6f, 0.5f, 0.55f, 0.2f};
    const double fd[4] = {0.6f, 0.5f, 0.55f, 0.2f};
    uint8_t La[4], Lb[4];
    o.label_rule = PE_LABEL_CURRENT;
    pe_family_labels(sky, &o, -0.05, f, 4, La);
    pe_family_labels_f64(sky, &o, -0.05, fd, 4, Lb);
    CHECK(memcmp(La, Lb, 4) == 0);
}

int main(void)
{
    ranges();
    refused("0.7:0.3:0.1");    /* A > B */
    refused("0.3:0.7:0");      /* STEP 0 */
    refused("0.3:0.7:-0.1");   /* STEP < 0 */
    refused("0:1:0.00001");    /* 100,001 values */
    refused("0:1e300:1e-300"); /* overflow of the count */
    refused("0.3:0.7");        /* two parts */
    refused("0.3:0.7:0.1:1");  /* four parts */
    refused("a:0.7:0.1");
    refused("0.3::0.1");
    refused("nan");
    refused("0:inf:1");
    refused("");
    labels_f64();
    return pe_check_done();
}
