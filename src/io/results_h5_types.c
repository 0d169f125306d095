#include "results_h5_types.h"

#include <stdio.h>
#include <string.h>

#include "core/metrics.h"
#include "core/sample.h"

#define F_D(f) {#f, offsetof(pe_metric_row, f), 1}
#define F_C(f) {#f, offsetof(pe_metric_row, c.f), 0}

/* Order = column order of /metrics/table. */
const pe_h5_field pe_h5_metric_fields[] = {
    F_D(precision), F_D(recall), F_D(f1),
    F_D(negative_precision), F_D(negative_recall), F_D(negative_f1),
    F_D(prmscore),
    F_D(correct_step_acc), F_D(wrong_step_acc), F_D(total_step_acc), F_D(first_error_acc),
    F_D(similarity), {"similarity_n", offsetof(pe_metric_row, similarity_n), 0},
    F_C(tp), F_C(fp), F_C(tn), F_C(fn),
    F_C(corr_ones), F_C(corr_n), F_C(wrong_ones), F_C(wrong_n),
    F_C(total_ones), F_C(total_n), F_C(fe_ones), F_C(fe_n),
    F_C(samples), F_C(evaluated), F_C(missing), F_C(invalid),
};
const int pe_h5_nmetric_fields = (int)(sizeof pe_h5_metric_fields / sizeof pe_h5_metric_fields[0]);

const char *pe_h5_class_name(int c) { return pe_class_name((pe_class)c); }

const char *pe_h5_status_name(int s)
{
    return s == PE_PRED_OK ? "ok" : s == PE_PRED_MISSING ? "missing" : "invalid";
}

const char *pe_h5_label_source_name(int v)
{
    return v == PE_LABELS_FROM_SCORES ? "scores" : v == PE_LABELS_GIVEN ? "labels" : "redundancy";
}

/* The enum of values 0 .. n-1, inserted in that order under name(v): the
 * values of pe_class, pe_pred_status and pe_label_source are exactly 0 .. n-1. */
static hid_t enum_type(int n, const char *(*name)(int))
{
    hid_t t = H5Tenum_create(H5T_NATIVE_SCHAR);
    for (int i = 0; t >= 0 && i < n; i++) {
        signed char v = (signed char)i;
        if (H5Tenum_insert(t, name(i), &v) < 0) {
            H5Tclose(t);
            return -1;
        }
    }
    return t;
}

hid_t pe_h5_class_enum(void) { return enum_type(PE_NCLASSES, pe_h5_class_name); }
hid_t pe_h5_status_enum(void) { return enum_type(3, pe_h5_status_name); }
hid_t pe_h5_label_source_enum(void) { return enum_type(3, pe_h5_label_source_name); }

hid_t pe_h5_fixed_str(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return -1;
    if (size == 0 || H5Tset_size(t, size) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

hid_t pe_h5_fapl(int for_create)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    int bad = 0;
#if H5_VERSION_GE(1, 10, 7)
    bad = H5Pset_file_locking(fapl, 1, 1) < 0;
#endif
    if (!bad && for_create)
        bad = H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST) < 0;
    if (bad) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* Links and attributes beyond max_compact (default 8) go to dense storage:
 * a fractal heap and B-trees, whose objects over 4 KiB are stored without a
 * checksum. 64 covers every group the writer makes (/samples has 20 links,
 * /metrics/classes/<c> 30 attributes), so all of it stays in the object
 * headers. */
static hid_t compact_attrs(hid_t plist)
{
    if (plist >= 0 && (H5Pset_attr_phase_change(plist, 64, 48) < 0 || H5Pset_link_phase_change(plist, 64, 48) < 0)) {
        H5Pclose(plist);
        return -1;
    }
    return plist;
}

hid_t pe_h5_fcpl(void) { return compact_attrs(H5Pcreate(H5P_FILE_CREATE)); }
hid_t pe_h5_gcpl(void) { return compact_attrs(H5Pcreate(H5P_GROUP_CREATE)); }

void pe_h5_close(hid_t id)
{
    if (id < 0)
        return;
    switch (H5Iget_type(id)) {
    case H5I_DATASET: H5Dclose(id); break;
    case H5I_GROUP: H5Gclose(id); break;
    case H5I_DATATYPE: H5Tclose(id); break;
    case H5I_DATASPACE: H5Sclose(id); break;
    case H5I_ATTR: H5Aclose(id); break;
    case H5I_GENPROP_LST: H5Pclose(id); break;
    case H5I_FILE: H5Fclose(id); break;
    default: H5Idec_ref(id); break;
    }
}

void pe_h5_no_atexit(void)
{
    static int done;
    if (!done) {
        done = 1;
        H5dont_atexit();  /* fails harmlessly once the library is initialised */
    }
}

/* Walking upward, entry 0 is the innermost (most specific) failure. */
static herr_t take_desc(unsigned n, const H5E_error2_t *err, void *data)
{
    char **out = data;
    if (n == 0 && err->desc)
        snprintf(out[0], (size_t)(out[1] - out[0]), "%s (in %s)", err->desc, err->func_name ? err->func_name : "?");
    return 0;
}

void pe_h5_error_text(char *buf, size_t n)
{
    if (n == 0)
        return;
    buf[0] = '\0';
    char *range[2] = {buf, buf + n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_desc, range);
}
