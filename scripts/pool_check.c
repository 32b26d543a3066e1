/* A stand-alone check of the kernels' thread pool (convops/_kernels/src/parallel.h) and of the
 * SIMD headers, without Python: scripts/cross_build.sh compiles it with the native compilers
 * and with a MinGW-w64 cross-compiler, whose Windows build cannot import the Python extensions.
 *
 * What it checks, for many (tasks, chunk, threads) shapes, repeated: every task runs exactly
 * once and computes its own value, whichever thread runs it; helper threads really run chunks
 * when more than one thread is asked for; the pool never starts more helpers than asked; the
 * SIMD tables hold a kernel exactly for the instruction sets this compiler builds. Prints one
 * summary line and exits 0, or prints each failure and exits 1.
 *
 * Build: cc -O2 -std=gnu11 -Iconvops/_kernels/src scripts/pool_check.c -o pool_check [-pthread]
 * (GCC and clang only: the counters below use their __atomic builtins). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "parallel.h"
#include "conv_simd.h"
#include "conv_grad_simd.h"
#include "pool_simd.h"
#include "nn_pool_simd.h"
#include "nn_bias_simd.h"

static _Thread_local int is_caller;  /* 1 on the thread that calls convops_parallel_for */

typedef struct {
    int64_t* values;
    int* runs;
    long helper_chunks;   /* chunks run by a thread other than the caller */
    int spin;             /* busy work per task, so helpers have time to join */
} check_ctx;

static int64_t task_value(ptrdiff_t i)
{
    uint64_t x = (uint64_t)i * 0x9E3779B97F4A7C15ull;  /* any value that depends on i alone */
    return (int64_t)(x ^ (x >> 29));
}

static void run_tasks(void* arg, ptrdiff_t begin, ptrdiff_t end)
{
    check_ctx* ctx = (check_ctx*)arg;
    volatile double sink = 0.0;
    ptrdiff_t i;
    int k;
    for (i = begin; i < end; i++) {
        for (k = 0; k < ctx->spin; k++)
            sink += k;
        ctx->values[i] = task_value(i) + (sink < 0.0);  /* sink is never negative: + 0 */
        __atomic_fetch_add(&ctx->runs[i], 1, __ATOMIC_RELAXED);
    }
    if (!is_caller)
        __atomic_fetch_add(&ctx->helper_chunks, 1, __ATOMIC_RELAXED);
}

static int failures = 0;

static void fail(const char* what, ptrdiff_t n, ptrdiff_t chunk, int threads, ptrdiff_t at)
{
    if (failures++ < 20)
        printf("FAIL: %s (n_tasks=%td chunk=%td threads=%d, task %td)\n", what, n, chunk, threads, at);
}

/* One job; returns how many chunks helpers ran. */
static long check_job(ptrdiff_t n, ptrdiff_t chunk, int threads, int spin)
{
    check_ctx ctx;
    ptrdiff_t i;
    ctx.values = (int64_t*)calloc(n > 0 ? n : 1, sizeof(int64_t));
    ctx.runs = (int*)calloc(n > 0 ? n : 1, sizeof(int));
    ctx.helper_chunks = 0;
    ctx.spin = spin;
    if (ctx.values == NULL || ctx.runs == NULL) {
        fail("out of memory", n, chunk, threads, -1);
        exit(1);
    }
    convops_parallel_for(run_tasks, &ctx, n, chunk, threads);
    for (i = 0; i < n; i++) {
        if (ctx.runs[i] != 1) {
            fail(ctx.runs[i] == 0 ? "task never ran" : "task ran more than once", n, chunk, threads, i);
            break;
        }
        if (ctx.values[i] != task_value(i)) {
            fail("task computed a wrong value", n, chunk, threads, i);
            break;
        }
    }
    free(ctx.values);
    free(ctx.runs);
    return ctx.helper_chunks;
}

static void check_simd_tables(void)
{
    int isa;
    for (isa = 0; isa < CONVOPS_ISA_COUNT; isa++) {
        int built = isa == CONVOPS_ISA_BASE ? CONVOPS_SIMD_AVAILABLE : CONVOPS_SIMD_AVAILABLE && CONVOPS_SIMD_X86;
        int present = convops_ukernels_f32[isa] != NULL && convops_ukernels_f64[isa] != NULL
                      && convops_runs_f32[isa] != NULL && convops_runs_f64[isa] != NULL
                      && convops_images_f32[isa] != NULL && convops_images_f64[isa] != NULL
                      && convops_pool2x2s_f32[isa] != NULL && convops_pool2x2s_f64[isa] != NULL
                      && convops_bias_bwds_f32[isa] != NULL && convops_bias_bwds_f64[isa] != NULL
                      && convops_dw_ukernels_f32[isa] != NULL && convops_dw_ukernels_f64[isa] != NULL
                      && convops_pools_f32[isa] != NULL && convops_pools_f64[isa] != NULL;
        if (present != built)
            fail("SIMD table does not match the build", 0, 0, 0, isa);
        if (convops_simd_pixels(isa, 1, 0) < 1 || convops_simd_pixels(isa, 1, 1) < 1 || convops_dw_block_rows(isa, 1) < 1)
            fail("a register-block table is empty", 0, 0, 0, isa);
        if (convops_simd_supported(isa) && !present)
            fail("an instruction set is reported as supported but has no kernels", 0, 0, 0, isa);
    }
}

int main(void)
{
    static const ptrdiff_t sizes[] = {0, 1, 2, 7, 64, 1000, 100003};
    static const ptrdiff_t chunks[] = {1, 3, 64, 5000};
    static const int thread_counts[] = {1, 2, 3, 4, 8};
    const int most = thread_counts[sizeof thread_counts / sizeof thread_counts[0] - 1];
    size_t a, b, c;
    int round, jobs = 0;
    long helper_chunks = 0;
    is_caller = 1;
    check_simd_tables();
    for (round = 0; round < 20; round++)
        for (a = 0; a < sizeof sizes / sizeof sizes[0]; a++)
            for (b = 0; b < sizeof chunks / sizeof chunks[0]; b++)
                for (c = 0; c < sizeof thread_counts / sizeof thread_counts[0]; c++, jobs++)
                    helper_chunks += check_job(sizes[a], chunks[b], thread_counts[c], 0);
    /* Helpers must really take part: slow tasks give them time to wake (the pool runs calls on
     * the caller alone for 0.1 s after a helper was late, so try for a while on a busy machine). */
    for (round = 0; round < 200 && CONVOPS_THREADS_POSIX + CONVOPS_THREADS_WIN32 > 0; round++, jobs++) {
        long ran = check_job(4096, 16, 4, 2000);
        helper_chunks += ran;
        if (ran > 0)
            break;
    }
    if (CONVOPS_THREADS_POSIX + CONVOPS_THREADS_WIN32 > 0 && helper_chunks == 0)
        fail("no helper thread ever ran a chunk", 4096, 16, 4, -1);
    if (convops_pool_helper_count() > most - 1)
        fail("the pool started more helpers than asked for", 0, 0, most, convops_pool_helper_count());
    printf("pool backend %s: %d jobs, %ld chunks run by helpers, %d helpers started; SIMD kernels built:%s%s%s; "
           "%d failures\n",
           CONVOPS_POOL_BACKEND, jobs, helper_chunks, convops_pool_helper_count(),
           CONVOPS_SIMD_AVAILABLE ? " base" : " none", CONVOPS_SIMD_AVAILABLE && CONVOPS_SIMD_X86 ? " avx2" : "",
           CONVOPS_SIMD_AVAILABLE && CONVOPS_SIMD_X86 ? " avx512" : "", failures);
    return failures ? 1 : 0;
}
