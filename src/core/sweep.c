#include "sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Digits after the point of a plain decimal ("0.25" -> 2, "3" -> 0);
 * -1 for anything else (an exponent, hex): no rounding is attempted then. */
static int decimals_of(const char *s, size_t n)
{
    int d = 0, after = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strchr("0123456789.+-", s[i]))
            return -1;
        if (s[i] == '.')
            after = 1;
        else if (after)
            d++;
    }
    return d;
}

/* One finite number filling exactly s[0..n). */
static int number(const char *text, const char *s, size_t n, const char *what, double *v, int *dec, pe_err *e)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf)
        return pe_fail(e, PE_EUSAGE, "--threshold '%s': %s is %s", text, what, n ? "too long" : "empty");
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *v = strtod(buf, &end);
    if (*end || !isfinite(*v))
        return pe_fail(e, PE_EUSAGE, "--threshold '%s': %s '%s' is not a finite number", text, what, buf);
    *dec = decimals_of(buf, n);
    return PE_OK;
}

int pe_sweep_parse(const char *text, pe_sweep *s, pe_err *e)
{
    memset(s, 0, sizeof *s);
    const char *c1 = strchr(text, ':');
    int d1, d2, d3;
    if (!c1) {
        if (number(text, text, strlen(text), "the threshold", &s->a, &d1, e))
            return e->code;
        s->b = s->a;
        s->count = 1;
        s->decimals = -1;  /* a single value is used exactly as written */
        return PE_OK;
    }
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || strchr(c2 + 1, ':'))
        return pe_fail(e, PE_EUSAGE, "--threshold '%s': expected T or A:B:STEP", text);
    if (number(text, text, (size_t)(c1 - text), "A", &s->a, &d1, e) ||
        number(text, c1 + 1, (size_t)(c2 - c1 - 1), "B", &s->b, &d2, e) ||
        number(text, c2 + 1, strlen(c2 + 1), "STEP", &s->step, &d3, e))
        return e->code;
    if (s->a > s->b)
        return pe_fail(e, PE_EUSAGE, "--threshold '%s': A (%g) must not exceed B (%g)", text, s->a, s->b);
    if (!(s->step > 0))
        return pe_fail(e, PE_EUSAGE, "--threshold '%s': STEP must be > 0", text);
    /* 1e-9 of a step absorbs the rounding of (B - A) / STEP (0.4/0.2 is
     * 1.9999999999999998), far below any step anyone would sweep. */
    double span = (s->b - s->a) / s->step + 1e-9;
    if (!(span < PE_SWEEP_MAX))
        return pe_fail(e, PE_EUSAGE, "--threshold '%s': more than %d thresholds", text, PE_SWEEP_MAX);
    s->count = (int)floor(span) + 1;
    s->decimals = d1 < 0 || d2 < 0 || d3 < 0 ? -1 : d1 > d2 ? (d1 > d3 ? d1 : d3) : (d2 > d3 ? d2 : d3);
    if (s->decimals > 17)
        s->decimals = -1;
    return PE_OK;
}

double pe_sweep_value(const pe_sweep *s, int i)
{
    double v = s->a + (double)i * s->step;
    /* the count's tolerance lets the last value exceed B by a rounding
     * error (0.1 + 2*0.1 = 0.30000000000000004): it is B */
    if (v > s->b)
        v = s->b;
    if (s->decimals < 0)
        return v;
    char buf[64];
    snprintf(buf, sizeof buf, "%.*f", s->decimals, v);
    v = strtod(buf, NULL);
    return v == 0 ? 0.0 : v;  /* "-0.00" from -1e-17 would print as a threshold of -0.0 */
}
