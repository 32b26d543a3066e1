/* convops_parallel_for: a small work-claiming thread pool for the kernels.
 *
 * Why not OpenMP's parallel for: at the end of a parallel region every thread of the team must
 * arrive at a barrier. On a machine whose cores are shared with other processes (2 cores, 4
 * busy colleagues), a team thread that has no core yet delays the whole call by a scheduler time
 * slice; measured here: a 0.2 ms max-pool took 12-18 ms with 2 OpenMP threads under load, a
 * 1.5 ms convolution 9-30 ms.
 *
 * Here the calling thread always works and never waits for a helper that has not started:
 * tasks are claimed one chunk at a time from an atomic counter, the caller claims until none are
 * left, then waits only for chunks that helpers have *claimed* (small, so the wait is short).
 * A helper that wakes late finds nothing to claim and goes back to sleep. Which thread runs a
 * chunk never changes what the chunk computes, so results do not depend on the thread count.
 *
 * This header holds the pool's state in static variables: it is compiled into one extension
 * module only (convops/_kernels/parallel.pyx), which every other kernel module cimports.
 * Helpers are started on first use, sleep on a condition
 * variable between calls, and are forgotten in a forked child (the child's caller then simply
 * runs every chunk itself). Without pthreads or C11 atomics everything runs on the caller.
 */
#ifndef CONVOPS_PARALLEL_H
#define CONVOPS_PARALLEL_H
#include <stddef.h>
#include <stdlib.h>

typedef void (*convops_task_fn)(void* ctx, ptrdiff_t begin, ptrdiff_t end);

#if defined(__unix__) && !defined(__STDC_NO_ATOMICS__) && !defined(CONVOPS_NO_THREADS)
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#define CONVOPS_PAUSE() __builtin_ia32_pause()
#else
#define CONVOPS_PAUSE() ((void)0)
#endif

#define CONVOPS_MAX_HELPERS 1023

typedef struct convops_job {
    convops_task_fn fn;
    void* ctx;
    ptrdiff_t n_tasks, chunk, n_chunks;
    atomic_ptrdiff_t next;          /* next chunk to claim */
    atomic_ptrdiff_t finished;      /* chunks done */
    atomic_int helper_slots;        /* helpers still allowed to join */
    atomic_int refs;                /* the caller + each helper holding the job; last one frees */
} convops_job;

static pthread_mutex_t convops_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t convops_pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t convops_pool_done = PTHREAD_COND_INITIALIZER;
static convops_job* convops_pool_job = NULL;      /* the newest job (holds one reference) */
static atomic_ulong convops_pool_generation = 0;  /* written under the lock, read by spinning helpers */
static int convops_pool_helpers = 0;
static int convops_pool_atfork = 0;

static void convops_job_release(convops_job* job)
{
    if (atomic_fetch_sub_explicit(&job->refs, 1, memory_order_acq_rel) == 1)
        free(job);
}

/* Claim and run chunks until none are left; returns how many this thread ran. */
static ptrdiff_t convops_job_work(convops_job* job)
{
    ptrdiff_t c, ran = 0, begin, end;
    for (;;) {
        c = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
        if (c >= job->n_chunks)
            return ran;
        begin = c * job->chunk;
        end = begin + job->chunk < job->n_tasks ? begin + job->chunk : job->n_tasks;
        job->fn(job->ctx, begin, end);
        ran++;
        if (atomic_fetch_add_explicit(&job->finished, 1, memory_order_acq_rel) + 1 == job->n_chunks) {
            pthread_mutex_lock(&convops_pool_lock);
            pthread_cond_broadcast(&convops_pool_done);
            pthread_mutex_unlock(&convops_pool_lock);
        }
    }
}

static double convops_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* After a job a helper watches for the next one for this long before it sleeps: back-to-back
 * calls (a network's layers, a benchmark loop) then start in parallel at once instead of
 * paying a futex wake-up (tens of microseconds on a VM) each. Short enough to cost nothing
 * worth mentioning when the machine is busy. */
#define CONVOPS_SPIN_SECONDS 100e-6

static void* convops_helper_main(void* unused)
{
    unsigned long seen = 0;
    convops_job* job;
    double until;
    int i;
    (void)unused;
    pthread_mutex_lock(&convops_pool_lock);
    seen = atomic_load(&convops_pool_generation);
    for (;;) {
        if (atomic_load(&convops_pool_generation) == seen) {
            pthread_mutex_unlock(&convops_pool_lock);
            until = convops_now() + CONVOPS_SPIN_SECONDS;
            while (atomic_load_explicit(&convops_pool_generation, memory_order_relaxed) == seen) {
                for (i = 0; i < 64; i++)
                    CONVOPS_PAUSE();
                if (convops_now() > until)
                    break;
            }
            pthread_mutex_lock(&convops_pool_lock);
        }
        while (atomic_load(&convops_pool_generation) == seen)
            pthread_cond_wait(&convops_pool_wake, &convops_pool_lock);
        seen = atomic_load(&convops_pool_generation);
        job = convops_pool_job;
        if (job == NULL || atomic_fetch_sub_explicit(&job->helper_slots, 1, memory_order_relaxed) <= 0)
            continue;
        atomic_fetch_add_explicit(&job->refs, 1, memory_order_relaxed);
        pthread_mutex_unlock(&convops_pool_lock);
        convops_job_work(job);
        convops_job_release(job);
        pthread_mutex_lock(&convops_pool_lock);
    }
    return NULL;
}

static void convops_pool_after_fork(void)
{
    /* The child has only the forking thread: forget the helpers (they do not exist there). */
    pthread_mutex_t fresh_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t fresh_cond = PTHREAD_COND_INITIALIZER;
    convops_pool_lock = fresh_lock;
    convops_pool_wake = fresh_cond;
    convops_pool_done = fresh_cond;
    convops_pool_job = NULL;
    convops_pool_helpers = 0;
}

/* Back-off: when helpers keep the caller waiting (they claimed chunks, then lost their core to
 * another process), calls run on the caller alone for 0.1 s. Measured on a 2-core machine with
 * one core taken by another process: 2-thread calls were up to 7x slower than 1-thread ones;
 * with the back-off they cost what 1 thread costs, and on a quiet machine nothing changes
 * (helpers finish with the caller, so it never waits long). */
#define CONVOPS_BACKOFF_SECONDS 0.1
static _Atomic double convops_serial_until = 0.0;

/* Run fn(ctx, begin, end) over [0, n_tasks) in chunks of `chunk` tasks on up to `threads`
 * threads (the caller included). Returns when every task has run. */
static void convops_parallel_for(convops_task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads)
{
    convops_job* job;
    convops_job* old;
    pthread_t thread;
    pthread_attr_t attr;
    if (chunk < 1)
        chunk = 1;
    if (threads > CONVOPS_MAX_HELPERS + 1)
        threads = CONVOPS_MAX_HELPERS + 1;
    double t_start = 0.0, t_own = 0.0, t_end;
    if (threads > 1 && n_tasks > chunk) {
        t_start = convops_now();
        if (t_start < atomic_load_explicit(&convops_serial_until, memory_order_relaxed))
            threads = 1;
    }
    if (threads <= 1 || n_tasks <= chunk || (job = (convops_job*)malloc(sizeof(convops_job))) == NULL) {
        if (n_tasks > 0)
            fn(ctx, 0, n_tasks);
        return;
    }
    job->fn = fn;
    job->ctx = ctx;
    job->n_tasks = n_tasks;
    job->chunk = chunk;
    job->n_chunks = (n_tasks + chunk - 1) / chunk;
    atomic_init(&job->next, 0);
    atomic_init(&job->finished, 0);
    atomic_init(&job->helper_slots, threads - 1);
    atomic_init(&job->refs, 2);            /* the caller and the pool's pointer */

    pthread_mutex_lock(&convops_pool_lock);
    if (!convops_pool_atfork) {
        pthread_atfork(NULL, NULL, convops_pool_after_fork);
        convops_pool_atfork = 1;
    }
    while (convops_pool_helpers < threads - 1) {
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&thread, &attr, convops_helper_main, NULL) != 0) {
            pthread_attr_destroy(&attr);
            break;                         /* fewer helpers: the caller does more */
        }
        pthread_attr_destroy(&attr);
        convops_pool_helpers++;
    }
    old = convops_pool_job;
    convops_pool_job = job;
    atomic_fetch_add(&convops_pool_generation, 1);
    pthread_cond_broadcast(&convops_pool_wake);
    pthread_mutex_unlock(&convops_pool_lock);
    if (old != NULL)
        convops_job_release(old);

    convops_job_work(job);
    if (atomic_load_explicit(&job->finished, memory_order_acquire) < job->n_chunks) {
        t_own = convops_now();
        /* Only chunks that helpers claimed are left: wait for them (briefly spin first). */
        int spins;
        for (spins = 0; spins < 2000 && atomic_load_explicit(&job->finished, memory_order_acquire) < job->n_chunks;
             spins++)
            sched_yield();
        pthread_mutex_lock(&convops_pool_lock);
        while (atomic_load_explicit(&job->finished, memory_order_acquire) < job->n_chunks)
            pthread_cond_wait(&convops_pool_done, &convops_pool_lock);
        pthread_mutex_unlock(&convops_pool_lock);
        /* Waited more than a quarter of the caller's own share (+50 us), or over 1 ms (the caller
         * itself may have lost its core, stretching its share): a helper was late. */
        t_end = convops_now();
        if (t_end - t_own > 0.25 * (t_own - t_start) + 50e-6 || t_end - t_own > 1e-3)
            atomic_store_explicit(&convops_serial_until, t_end + CONVOPS_BACKOFF_SECONDS, memory_order_relaxed);
    }
    convops_job_release(job);
}

/* Helper threads started so far (for tests: one pool per process). */
static int convops_pool_helper_count(void)
{
    int n;
    pthread_mutex_lock(&convops_pool_lock);
    n = convops_pool_helpers;
    pthread_mutex_unlock(&convops_pool_lock);
    return n;
}

#else  /* no threads: every chunk on the caller */

static int convops_pool_helper_count(void) { return 0; }

static void convops_parallel_for(convops_task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads)
{
    (void)chunk;
    (void)threads;
    if (n_tasks > 0)
        fn(ctx, 0, n_tasks);
}

#endif
#endif /* CONVOPS_PARALLEL_H */
