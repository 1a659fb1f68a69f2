/* The demo: a little ledger. Pseudo-random transfers between accounts, refused when the payer cannot cover
 * them; every applied or refused transaction goes into a running CRC-32 (a journal fingerprint), one status
 * line every REPORT_EVERY transactions, and the money supply is checked to stay constant.
 * tests/test_fw.py replays the same ledger in Python and compares every line. */
#include "fw.h"

#define ACCOUNTS      16u
#define INITIAL       10000u
#define TRANSACTIONS  2400u
#define REPORT_EVERY  200u
#define SEED          0xC0FFEE01u

static uint32_t balance[ACCOUNTS];

/* One journal entry, 8 bytes, fed to the CRC as it lies in memory (little-endian). */
struct entry {
    uint16_t seq;
    uint8_t from;
    uint8_t to;
    uint16_t amount;
    uint8_t applied;
    uint8_t pad;
};

static uint32_t total(void)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i < ACCOUNTS; i++)
        sum += balance[i];
    return sum;
}

int main(void)
{
    uint32_t state = SEED, journal = 0, applied = 0, refused = 0;
    int errors = 0;

    crc32_init_table();
    for (uint32_t i = 0; i < ACCOUNTS; i++)
        balance[i] = INITIAL;
    const uint32_t supply = total();
    printf("ledger: %u accounts x %u, %u transactions, seed 0x%08x\n", ACCOUNTS, INITIAL, TRANSACTIONS, SEED);

    for (uint32_t seq = 1; seq <= TRANSACTIONS; seq++) {
        uint32_t r = xorshift32(&state);
        struct entry e = {
            .seq = (uint16_t)seq,
            .from = (uint8_t)(r & (ACCOUNTS - 1)),
            .to = (uint8_t)((r >> 4) & (ACCOUNTS - 1)),
            .amount = (uint16_t)((r >> 8) & 0xFFF),
        };
        if (e.from != e.to && balance[e.from] >= e.amount) {
            balance[e.from] -= e.amount;
            balance[e.to] += e.amount;
            e.applied = 1;
            applied++;
        } else {
            refused++;
        }
        journal = crc32_update(journal, &e, sizeof(e));
        if (seq % REPORT_EVERY == 0) {
            uint32_t richest = 0;
            for (uint32_t i = 1; i < ACCOUNTS; i++)
                if (balance[i] > balance[richest])
                    richest = i;
            printf("tx %4u  applied %4u  refused %3u  richest #%-2u %6u  journal %08x\n",
                   seq, applied, refused, richest, balance[richest], journal);
            if (total() != supply) {
                printf("FAIL: money supply %u, expected %u\n", total(), supply);
                errors++;
            }
        }
    }
    printf("balances:");
    for (uint32_t i = 0; i < ACCOUNTS; i++)
        printf(" %u", balance[i]);
    printf("\nledger: journal %08x, balances crc %08x, %s\n", journal, crc32_update(0, balance, sizeof(balance)),
           errors ? "FAIL" : "ok");
    return errors;
}
