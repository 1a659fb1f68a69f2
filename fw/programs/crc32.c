/* CRC-32 over a generated buffer, computed two ways (table-driven and bitwise) that must agree.
 * tests/test_fw.py regenerates the buffer in Python and checks every value against zlib.crc32. */
#include "fw.h"

#define BUF_WORDS   1024u                   /* 4 KiB */
#define SEED        0x2545F491u
#define BITWISE_LEN 512u                    /* the (slow) bitwise CRC covers a prefix */

static uint32_t buf[BUF_WORDS];

int main(void)
{
    uint32_t state = SEED;
    int errors = 0;

    for (uint32_t i = 0; i < BUF_WORDS; i++)
        buf[i] = xorshift32(&state);       /* stored little-endian, as the test assumes */

    crc32_init_table();
    static const char check[] = "123456789";
    uint32_t c_check = crc32_update(0, check, sizeof(check) - 1);
    printf("crc32(\"%s\") = 0x%08x\n", check, c_check);

    uint32_t c_table = crc32_update(0, buf, sizeof(buf));
    printf("crc32(buf[%u], seed=0x%08x) = 0x%08x\n", (unsigned)sizeof(buf), SEED, c_table);

    /* Incremental over uneven pieces must give the same value. */
    uint32_t c_pieces = 0;
    const uint8_t *p = (const uint8_t *)buf;
    for (uint32_t off = 0, step = 1; off < sizeof(buf); off += step, step = step * 2 + 1) {
        uint32_t n = step;
        if (off + n > sizeof(buf))
            n = sizeof(buf) - off;
        c_pieces = crc32_update(c_pieces, p + off, n);
    }
    if (c_pieces != c_table) {
        printf("FAIL: incremental crc32 0x%08x != 0x%08x\n", c_pieces, c_table);
        errors++;
    }

    uint32_t c_bitwise = crc32_update_bitwise(0, buf, BITWISE_LEN);
    uint32_t c_prefix = crc32_update(0, buf, BITWISE_LEN);
    printf("crc32(buf[:%u]) = 0x%08x\n", BITWISE_LEN, c_bitwise);
    if (c_bitwise != c_prefix) {
        printf("FAIL: bitwise crc32 0x%08x != table 0x%08x\n", c_bitwise, c_prefix);
        errors++;
    }

    puts(errors ? "crc32: FAIL" : "crc32: ok");
    return errors;
}
