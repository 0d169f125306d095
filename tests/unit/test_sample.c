#include "check.h"
#include "core/sample.h"

int main(void)
{
    CHECK_INT(pe_class_from_name("redundency"), PE_CLS_REDUNDENCY);
    CHECK_INT(pe_class_from_name("multi_solutions"), PE_CLS_MULTI_SOLUTIONS);
    CHECK_INT(pe_class_from_name("redundancy"), -1); /* the data's spelling only */
    CHECK_STR(pe_class_abbrev(PE_CLS_DOMAIN_INCONSISTENCY), "DC");
    CHECK_INT(pe_class_category(PE_CLS_CIRCULAR), PE_CAT_SIMPLICITY);
    CHECK_INT(pe_class_category(PE_CLS_CONFIDENCE), PE_CAT_SOUNDNESS);
    CHECK_INT(pe_class_category(PE_CLS_DECEPTION), PE_CAT_SENSITIVITY);
    CHECK_INT(pe_class_category(PE_CLS_CORRECT), -1);
    for (int c = 0; c < PE_NCLASSES; c++)
        CHECK_INT(pe_class_from_name(pe_class_name(c)), c);
    return pe_check_done();
}
