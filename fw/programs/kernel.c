/* A compute kernel in the spirit of CoreMark: linked-list work, a small integer matrix product (through the
 * software multiply), a number-recognising state machine over a string, all folded into CRC-16s.
 * Fixed work: ITERATIONS rounds, one result line each, then a final checksum. Self-checks make it exit nonzero
 * if any stage goes wrong; the printed values are compared across platforms by tests/test_fw.py. */
#include "fw.h"

#define ITERATIONS 10
#define LIST_NODES 48
#define MAT_N      6
#define SEED       0x1234ABCDu

static int errors;

static void check(int ok, const char *what, int iter)
{
    if (!ok) {
        printf("FAIL: %s (iteration %d)\n", what, iter);
        errors++;
    }
}

/* ---- CRC-16/ARC (reflected 0xA001), as CoreMark's crcu16 ------------------------------------------------ */

static uint16_t crc16_byte(uint16_t crc, uint8_t byte)
{
    crc ^= byte;
    for (int k = 0; k < 8; k++)
        crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
    return crc;
}

static uint16_t crc16_u16(uint16_t crc, uint16_t v)
{
    return crc16_byte(crc16_byte(crc, (uint8_t)v), (uint8_t)(v >> 8));
}

static uint16_t crc16_u32(uint16_t crc, uint32_t v)
{
    return crc16_u16(crc16_u16(crc, (uint16_t)v), (uint16_t)(v >> 16));
}

/* ---- linked list ----------------------------------------------------------------------------------------- */

struct node {
    struct node *next;
    int16_t data;
    uint16_t idx;
};

static struct node pool[LIST_NODES];

static struct node *list_build(uint32_t *state)
{
    for (int i = 0; i < LIST_NODES; i++) {
        pool[i].next = i + 1 < LIST_NODES ? &pool[i + 1] : NULL;
        pool[i].data = (int16_t)(xorshift32(state) >> 16);
        pool[i].idx = (uint16_t)i;
    }
    return &pool[0];
}

static int by_data(const struct node *a, const struct node *b)
{
    return a->data != b->data ? a->data - b->data : a->idx - b->idx;
}

static int by_idx(const struct node *a, const struct node *b)
{
    return a->idx - b->idx;
}

static struct node *list_merge(struct node *a, struct node *b, int (*cmp)(const struct node *, const struct node *))
{
    struct node head, *tail = &head;
    while (a && b) {
        if (cmp(a, b) <= 0) {
            tail->next = a;
            a = a->next;
        } else {
            tail->next = b;
            b = b->next;
        }
        tail = tail->next;
    }
    tail->next = a ? a : b;
    return head.next;
}

static struct node *list_sort(struct node *list, int (*cmp)(const struct node *, const struct node *))
{
    if (!list || !list->next)
        return list;
    struct node *slow = list, *fast = list->next;
    while (fast && fast->next) {
        slow = slow->next;
        fast = fast->next->next;
    }
    struct node *second = slow->next;
    slow->next = NULL;
    return list_merge(list_sort(list, cmp), list_sort(second, cmp), cmp);
}

static struct node *list_reverse(struct node *list)
{
    struct node *prev = NULL;
    while (list) {
        struct node *next = list->next;
        list->next = prev;
        prev = list;
        list = next;
    }
    return prev;
}

static int list_find(const struct node *list, int16_t data)
{
    for (int pos = 0; list; list = list->next, pos++)
        if (list->data == data)
            return pos;
    return -1;
}

static uint16_t list_round(struct node **headp, int iter, uint32_t *state)
{
    struct node *head = *headp;
    uint16_t crc = 0;

    head = list_sort(head, by_data);
    int n = 0;
    for (const struct node *p = head; p; p = p->next, n++) {
        crc = crc16_u16(crc, (uint16_t)p->data);
        if (p->next && by_data(p, p->next) > 0)
            check(0, "list sorted by data", iter);
    }
    check(n == LIST_NODES, "list length after sort", iter);

    /* look for a value that is there (the median) and for one that probably is not */
    const struct node *mid = head;
    for (int i = 0; i < LIST_NODES / 2; i++)
        mid = mid->next;
    int found = list_find(head, mid->data);
    int missing = list_find(head, (int16_t)(0x7FFF - iter));
    check(found >= 0 && found <= LIST_NODES / 2, "list find", iter);
    crc = crc16_u16(crc, (uint16_t)found);
    crc = crc16_u16(crc, (uint16_t)missing);

    head = list_reverse(head);
    crc = crc16_u16(crc, (uint16_t)head->data);
    head = list_sort(head, by_idx);
    int i = 0;
    for (struct node *p = head; p; p = p->next, i++) {
        check(p->idx == i, "list order restored", iter);
        p->data = (int16_t)(p->data ^ (int16_t)(xorshift32(state) & 0x0F0F));     /* new data next round */
    }
    *headp = head;
    return crc;
}

/* ---- matrix ---------------------------------------------------------------------------------------------- */

static int16_t mat_a[MAT_N][MAT_N], mat_b[MAT_N][MAT_N];
static int32_t mat_c[MAT_N][MAT_N];

static uint16_t matrix_round(int iter)
{
    uint16_t crc = 0;
    int32_t scale = iter + 1;
    /* C = A * (B + scale) */
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            int32_t acc = 0;
            for (int k = 0; k < MAT_N; k++)
                acc += (int32_t)mat_a[i][k] * (int32_t)(mat_b[k][j] + scale);
            mat_c[i][j] = acc;
        }
    /* Cross-check the trace: sum over i, k of A[i][k] * (B[k][i] + scale). */
    int32_t trace = 0, trace2 = 0;
    for (int i = 0; i < MAT_N; i++) {
        trace += mat_c[i][i];
        for (int k = 0; k < MAT_N; k++)
            trace2 += (int32_t)mat_a[i][k] * (int32_t)(mat_b[k][i] + scale);
    }
    check(trace == trace2, "matrix trace", iter);
    /* Fold, then feed the product's bits back into A so that every round differs. */
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            int32_t v = mat_c[i][j];
            crc = crc16_u32(crc, (uint32_t)v);
            mat_a[i][j] = (int16_t)((v >> 3) & 0x3FF) - 0x200;
        }
    /* a division stage too, so that the divide helpers are exercised: */
    int32_t q = trace / (scale * 7 - 3 * iter + 1);
    int32_t r = trace % 97;
    crc = crc16_u32(crc, (uint32_t)q);
    crc = crc16_u32(crc, (uint32_t)r);
    return crc;
}

/* ---- state machine --------------------------------------------------------------------------------------- */

enum state { S_START, S_INVALID, S_SIGN, S_INT, S_FLOAT, S_EXP_E, S_EXP_SIGN, S_SCIENTIFIC, S_COUNT };

static const char tokens_init[] =
    "5012,1234,-874,+122,-110,35.54400,.1234500,-110.700,+0.64400,5.500e+3,-.123e-2,-87e+832,+0.6e-12,"
    "T0.3e-1F,-T.T++Tq,1T3.4e4z,34.0e-T^,0x7f,--3,9.,e7,-,4e,+5e-";

static char text[sizeof(tokens_init)];

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static enum state next_state(enum state s, char c)
{
    switch (s) {
    case S_START:
        if (is_digit(c))
            return S_INT;
        if (c == '+' || c == '-')
            return S_SIGN;
        if (c == '.')
            return S_FLOAT;
        return S_INVALID;
    case S_SIGN:
        if (is_digit(c))
            return S_INT;
        if (c == '.')
            return S_FLOAT;
        return S_INVALID;
    case S_INT:
        if (is_digit(c))
            return S_INT;
        if (c == '.')
            return S_FLOAT;
        if (c == 'e' || c == 'E')
            return S_EXP_E;
        return S_INVALID;
    case S_FLOAT:
        if (is_digit(c))
            return S_FLOAT;
        if (c == 'e' || c == 'E')
            return S_EXP_E;
        return S_INVALID;
    case S_EXP_E:
        if (c == '+' || c == '-')
            return S_EXP_SIGN;
        if (is_digit(c))
            return S_SCIENTIFIC;
        return S_INVALID;
    case S_EXP_SIGN:
    case S_SCIENTIFIC:
        return is_digit(c) ? S_SCIENTIFIC : S_INVALID;
    default:
        return S_INVALID;
    }
}

static uint16_t state_round(int iter)
{
    uint32_t final_count[S_COUNT] = {0};
    uint32_t transitions = 0;
    uint16_t crc = 0;
    enum state s = S_START;

    for (const char *p = text;; p++) {
        if (*p == ',' || *p == '\0') {
            final_count[s]++;
            s = S_START;
            if (*p == '\0')
                break;
            continue;
        }
        enum state n = next_state(s, *p);
        if (n != s)
            transitions++;
        s = n;
    }
    for (int i = 0; i < S_COUNT; i++)
        crc = crc16_u32(crc, final_count[i]);
    crc = crc16_u32(crc, transitions);

    /* Corrupt the text a little for the next round (never a separator, never the terminator). */
    static const char subst[] = "+-.e7x";
    uint32_t len = sizeof(text) - 1;
    uint32_t pos = ((uint32_t)iter * 37u + 11u) % len;
    if (text[pos] != ',')
        text[pos] = subst[(uint32_t)iter % (sizeof(subst) - 1)];
    return crc;
}

/* ---- main ------------------------------------------------------------------------------------------------ */

int main(void)
{
    uint32_t state = SEED;
    struct node *list = list_build(&state);
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            mat_a[i][j] = (int16_t)((int32_t)(xorshift32(&state) & 0x3FF) - 0x200);
            mat_b[i][j] = (int16_t)((int32_t)(xorshift32(&state) & 0x3FF) - 0x200);
        }
    memcpy(text, tokens_init, sizeof(text));

    printf("kernel: %d iterations, list %d nodes, matrix %dx%d, text %u chars\n",
           ITERATIONS, LIST_NODES, MAT_N, MAT_N, (unsigned)(sizeof(text) - 1));
    uint16_t total = 0;
    for (int iter = 0; iter < ITERATIONS; iter++) {
        uint16_t l = list_round(&list, iter, &state);
        uint16_t m = matrix_round(iter);
        uint16_t s = state_round(iter);
        printf("iter %2d: list=0x%04x matrix=0x%04x state=0x%04x\n", iter, l, m, s);
        total = crc16_u16(total, l);
        total = crc16_u16(total, m);
        total = crc16_u16(total, s);
    }
    printf("kernel: checksum=0x%04x\n", total);
    puts(errors ? "kernel: FAIL" : "kernel: ok");
    return errors;
}
