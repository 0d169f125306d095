/* pe_cli_option (src/cli/cli_option.c): "--name value" and "--name=value",
 * a missing value, prefixes that are other options, arguments that are none. */
#include <string.h>

#include "check.h"
#include "cli/cli_option.h"

static const char *const names[] = {"--out", "--output", "--set"};

int main(void)
{
    char *argv[] = {"cmd", "--out", "a.h5", "--output=b.h5", "--set=x=1", "--outx", "file", "--set", NULL};
    int argc = 8, i;
    const char *v;

    i = 1;
    CHECK_INT(pe_cli_option(argc, argv, &i, names, 3, &v), 0);
    CHECK_STR(v, "a.h5");
    CHECK_INT(i, 2); /* moved past the separate value */

    i = 3;
    CHECK_INT(pe_cli_option(argc, argv, &i, names, 3, &v), 1); /* not taken for "--out" + "put=..." */
    CHECK_STR(v, "b.h5");
    CHECK_INT(i, 3);

    i = 4;
    CHECK_INT(pe_cli_option(argc, argv, &i, names, 3, &v), 2);
    CHECK_STR(v, "x=1"); /* only the first '=' separates */

    i = 5;
    v = "untouched";
    CHECK_INT(pe_cli_option(argc, argv, &i, names, 3, &v), -1); /* "--outx" is no option here */
    CHECK_STR(v, "untouched");
    CHECK_INT(i, 5);

    i = 6;
    CHECK_INT(pe_cli_option(argc, argv, &i, names, 3, &v), -1); /* a plain argument */

    i = 7;
    CHECK_INT(pe_cli_option(argc, argv, &i, names, 3, &v), 2); /* the last argument: no value */
    CHECK(v == NULL);
    CHECK_INT(i, 7);

    char *empty[] = {"cmd", "--out=", NULL};
    i = 1;
    CHECK_INT(pe_cli_option(2, empty, &i, names, 3, &v), 0);
    CHECK_STR(v, ""); /* the command decides that an empty value is missing */
    return pe_check_done();
}
