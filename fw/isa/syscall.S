/* Asks tohost for an HTIF system call (an even value: the address of a request block, as riscv-tests'
 * benchmarks do for printf), which this machine does not serve: a runner must say so and fail. */

#include "env.h"

RVTEST_CODE_BEGIN

        la t0, request
        la t1, tohost
        sw t0, 0(t1)
        sw zero, 4(t1)
1:      j 1b

RVTEST_CODE_END

RVTEST_DATA_BEGIN
        RVTEST_DATA_END(1)

        .align 3
request:
        .word 64, 0, 1, 0, 0, 0, 0, 0           /* SYS_write, fd 1, ... */
