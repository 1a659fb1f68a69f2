/* Sorts one pseudo-random array two ways (quicksort of signed values, heapsort of the same bits as unsigned),
 * checks both are ordered permutations of the input, and prints checksums tests/test_fw.py recomputes. */
#include "fw.h"

#define N    500u
#define SEED 0x9E3779B9u

static int32_t input[N];
static int32_t by_quick[N];
static uint32_t by_heap[N];

static void insertion_sort(int32_t *a, int n)
{
    for (int i = 1; i < n; i++) {
        int32_t v = a[i];
        int j = i - 1;
        for (; j >= 0 && a[j] > v; j--)
            a[j + 1] = a[j];
        a[j + 1] = v;
    }
}

static void quicksort(int32_t *a, int n)
{
    while (n > 12) {
        /* median of three as the pivot */
        int32_t x = a[0], y = a[n / 2], z = a[n - 1];
        int32_t pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        int i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            int32_t t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* recurse into the smaller part, loop on the larger: the stack stays O(log n) */
        int left = j + 1;
        if (left < n - left) {
            quicksort(a, left);
            a += left;
            n -= left;
        } else {
            quicksort(a + left, n - left);
            n = left;
        }
    }
    insertion_sort(a, n);
}

static void sift_down(uint32_t *a, uint32_t root, uint32_t n)
{
    uint32_t v = a[root];
    for (;;) {
        uint32_t child = 2 * root + 1;
        if (child >= n)
            break;
        if (child + 1 < n && a[child + 1] > a[child])
            child++;
        if (a[child] <= v)
            break;
        a[root] = a[child];
        root = child;
    }
    a[root] = v;
}

static void heapsort(uint32_t *a, uint32_t n)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(a, i, n);
    for (uint32_t end = n - 1; end > 0; end--) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* Order-sensitive checksum: rotate left by 5, then add. */
static uint32_t checksum(const uint32_t *a, uint32_t n)
{
    uint32_t h = 0;
    for (uint32_t i = 0; i < n; i++)
        h = ((h << 5) | (h >> 27)) + a[i];
    return h;
}

int main(void)
{
    uint32_t state = SEED;
    uint32_t sum = 0, xor_all = 0;
    int errors = 0;

    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = xorshift32(&state);
        input[i] = (int32_t)v;
        by_quick[i] = (int32_t)v;
        by_heap[i] = v;
        sum += v;
        xor_all ^= v;
    }
    printf("sort: n=%u seed=0x%08x sum=0x%08x xor=0x%08x\n", N, SEED, sum, xor_all);

    quicksort(by_quick, (int)N);
    heapsort(by_heap, N);

    uint32_t qsum = 0, qxor = 0, hsum = 0, hxor = 0;
    for (uint32_t i = 0; i < N; i++) {
        qsum += (uint32_t)by_quick[i];
        qxor ^= (uint32_t)by_quick[i];
        hsum += by_heap[i];
        hxor ^= by_heap[i];
        if (i && by_quick[i - 1] > by_quick[i]) {
            printf("FAIL: signed order broken at %u\n", i);
            errors++;
        }
        if (i && by_heap[i - 1] > by_heap[i]) {
            printf("FAIL: unsigned order broken at %u\n", i);
            errors++;
        }
    }
    if (qsum != sum || qxor != xor_all || hsum != sum || hxor != xor_all) {
        puts("FAIL: a sorted array is not a permutation of the input");
        errors++;
    }
    printf("signed:   min=%d median=%d max=%d checksum=0x%08x\n",
           by_quick[0], by_quick[N / 2], by_quick[N - 1], checksum((const uint32_t *)by_quick, N));
    printf("unsigned: min=%u median=%u max=%u checksum=0x%08x\n",
           by_heap[0], by_heap[N / 2], by_heap[N - 1], checksum(by_heap, N));
    puts(errors ? "sort: FAIL" : "sort: ok");
    return errors;
}
