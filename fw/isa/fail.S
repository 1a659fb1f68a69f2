/* Fails its test 3 (tohost = (3 << 1) | 1): a runner must exit with status 3. Tests 2 and 3 leave their results
 * in the signature. */

#include "env.h"

RVTEST_CODE_BEGIN

        TEST_RR(2, add, 3, 1, 2)
        TEST_RR(3, add, 4, 1, 2)                /* wrong on purpose */
        TEST_RR(4, add, 5, 2, 3)

        j pass

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        RVTEST_DATA_END(4)
