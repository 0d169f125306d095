/* A minimal test harness: CHECK macros count failures; pe_check_done() prints
 * "N passed, N failed" and returns the exit status. */
#ifndef PE_CHECK_H
#define PE_CHECK_H

#include <stdio.h>
#include <string.h>

static int pe_checks_passed, pe_checks_failed;

#define CHECK(cond) do { \
    if (cond) pe_checks_passed++; \
    else { pe_checks_failed++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_INT(a, b) do { \
    long long va_ = (long long)(a), vb_ = (long long)(b); \
    if (va_ == vb_) pe_checks_passed++; \
    else { pe_checks_failed++; fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, va_, vb_); } \
} while (0)

/* Bitwise equality of doubles: the metric must match the reference to the last bit. */
#define CHECK_BITS(a, b) do { \
    double da_ = (a), db_ = (b); \
    if (memcmp(&da_, &db_, sizeof da_) == 0) pe_checks_passed++; \
    else { pe_checks_failed++; fprintf(stderr, "%s:%d: %s == %.17g, expected %.17g\n", __FILE__, __LINE__, #a, da_, db_); } \
} while (0)

#define CHECK_STR(a, b) do { \
    const char *sa_ = (a), *sb_ = (b); \
    if (sa_ && sb_ && strcmp(sa_, sb_) == 0) pe_checks_passed++; \
    else { pe_checks_failed++; fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); } \
} while (0)

static inline int pe_check_done(void)
{
    printf("%d passed, %d failed\n", pe_checks_passed, pe_checks_failed);
    return pe_checks_failed ? 1 : 0;
}

#endif
