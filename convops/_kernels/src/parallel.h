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
 * Helpers are started on first use, sleep on a condition variable between calls, and are
 * forgotten in a forked child (the child's caller then simply runs every chunk itself).
 *
 * Threads on every platform, one pool logic: the few primitives it needs (a lock, a condition
 * variable, detached threads, atomic counters, a monotonic clock) come from one of two small
 * layers below, chosen once:
 *   posix  POSIX threads + C11 atomics: Linux, macOS (Apple clang defines __APPLE__ but not
 *          __unix__, so both are tested, then _POSIX_THREADS from <unistd.h>), the BSDs, Cygwin.
 *   win32  Windows threads (_beginthreadex, SRWLOCK, CONDITION_VARIABLE) + Interlocked
 *          operations: MSVC and MinGW alike, so a MinGW cross-build compiles the very code an
 *          MSVC build runs (MSVC's C11 atomics are experimental; Interlocked* are not).
 *   none   everything on the caller: other systems, compilers without C11 atomics, or
 *          -DCONVOPS_NO_THREADS.
 * CONVOPS_POOL_BACKEND names the one chosen (convops._kernels.parallel.pool_backend()). */
#ifndef CONVOPS_PARALLEL_H
#define CONVOPS_PARALLEL_H
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef void (*convops_task_fn)(void* ctx, ptrdiff_t begin, ptrdiff_t end);

#if !defined(CONVOPS_NO_THREADS) && defined(_WIN32)
#define CONVOPS_THREADS_WIN32 1
#elif !defined(CONVOPS_NO_THREADS) && (defined(__unix__) || defined(__APPLE__)) && defined(__STDC_VERSION__) \
    && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_ATOMICS__)
#include <unistd.h>  /* defines _POSIX_THREADS where POSIX threads exist */
#if defined(_POSIX_THREADS) && _POSIX_THREADS > 0
#define CONVOPS_THREADS_POSIX 1
#endif
#endif
#ifndef CONVOPS_THREADS_WIN32
#define CONVOPS_THREADS_WIN32 0
#endif
#ifndef CONVOPS_THREADS_POSIX
#define CONVOPS_THREADS_POSIX 0
#endif

#if CONVOPS_THREADS_POSIX
/* ---- posix: pthreads, C11 atomics with the memory orders named at each use ---- */
#define CONVOPS_POOL_BACKEND "posix"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define CONVOPS_PAUSE() __builtin_ia32_pause()
#else
#define CONVOPS_PAUSE() ((void)0)
#endif
typedef pthread_mutex_t convops_lock_t;
typedef pthread_cond_t convops_cond_t;
#define CONVOPS_LOCK_INIT PTHREAD_MUTEX_INITIALIZER
#define CONVOPS_COND_INIT PTHREAD_COND_INITIALIZER
#define convops_lock(l) pthread_mutex_lock(l)
#define convops_unlock(l) pthread_mutex_unlock(l)
#define convops_cond_wait(c, l) pthread_cond_wait(c, l)
#define convops_cond_broadcast(c) pthread_cond_broadcast(c)
#define convops_yield() sched_yield()

typedef atomic_ptrdiff_t convops_atomic_size;
typedef atomic_int convops_atomic_int;
typedef _Atomic double convops_atomic_double;
#define convops_atomic_init(p, v) atomic_init(p, v)
#define convops_size_load(p, order) atomic_load_explicit(p, memory_order_##order)
#define convops_size_add(p, v, order) atomic_fetch_add_explicit(p, v, memory_order_##order)
#define convops_size_store(p, v, order) atomic_store_explicit(p, v, memory_order_##order)
#define convops_int_add(p, v, order) atomic_fetch_add_explicit(p, v, memory_order_##order)
#define convops_int_load(p, order) atomic_load_explicit(p, memory_order_##order)
#define CONVOPS_THREAD_LOCAL _Thread_local
#define convops_double_load(p) atomic_load_explicit(p, memory_order_relaxed)
#define convops_double_store(p, v) atomic_store_explicit(p, v, memory_order_relaxed)

static double convops_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

#define CONVOPS_HELPER_MAIN(name) void* name(void* unused)
#define CONVOPS_HELPER_RETURN NULL
static CONVOPS_HELPER_MAIN(convops_helper_main);

/* Start one detached helper; 0 when the system refuses (the caller then does more). */
static int convops_start_helper(void)
{
    pthread_t thread;
    pthread_attr_t attr;
    int started;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    started = pthread_create(&thread, &attr, convops_helper_main, NULL) == 0;
    pthread_attr_destroy(&attr);
    return started;
}

#elif CONVOPS_THREADS_WIN32
/* ---- win32: Windows threads; every Interlocked operation is a full barrier, at least as
 * strong as the order each use names (the names are kept for the posix layer) ---- */
#define CONVOPS_POOL_BACKEND "win32"
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#if !defined(_WIN32_WINNT)
#define _WIN32_WINNT 0x0600  /* SRWLOCK and CONDITION_VARIABLE: Windows Vista and later */
#endif
#include <windows.h>
#include <process.h>
#define CONVOPS_PAUSE() YieldProcessor()
typedef SRWLOCK convops_lock_t;
typedef CONDITION_VARIABLE convops_cond_t;
#define CONVOPS_LOCK_INIT SRWLOCK_INIT
#define CONVOPS_COND_INIT CONDITION_VARIABLE_INIT
#define convops_lock(l) AcquireSRWLockExclusive(l)
#define convops_unlock(l) ReleaseSRWLockExclusive(l)
#define convops_cond_wait(c, l) SleepConditionVariableSRW(c, l, INFINITE, 0)
#define convops_cond_broadcast(c) WakeAllConditionVariable(c)
#define convops_yield() SwitchToThread()

/* 64-bit counters on 32-bit Windows too (Interlocked*64 exist there), so one layer serves both. */
typedef volatile LONG64 convops_atomic_size;
typedef volatile LONG convops_atomic_int;
typedef volatile LONG64 convops_atomic_double;  /* the double's bits */
#define convops_atomic_init(p, v) (*(p) = (v))
#define convops_size_load(p, order) ((ptrdiff_t)InterlockedCompareExchange64(p, 0, 0))
#define convops_size_add(p, v, order) ((ptrdiff_t)InterlockedExchangeAdd64(p, v))
#define convops_size_store(p, v, order) ((void)InterlockedExchange64(p, v))
#define convops_int_add(p, v, order) ((int)InterlockedExchangeAdd(p, v))
#define convops_int_load(p, order) ((int)InterlockedCompareExchange(p, 0, 0))
#ifdef _MSC_VER
#define CONVOPS_THREAD_LOCAL __declspec(thread)
#else
#define CONVOPS_THREAD_LOCAL _Thread_local  /* MinGW: C11 */
#endif

static double convops_double_load(convops_atomic_double* p)
{
    LONG64 bits = InterlockedCompareExchange64(p, 0, 0);
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static void convops_double_store(convops_atomic_double* p, double value)
{
    LONG64 bits;
    memcpy(&bits, &value, sizeof bits);
    InterlockedExchange64(p, bits);
}

static double convops_now(void)
{
    LARGE_INTEGER count, frequency;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&frequency);  /* fixed at boot; reading it is cheap */
    return (double)count.QuadPart / (double)frequency.QuadPart;
}

#define CONVOPS_HELPER_MAIN(name) unsigned __stdcall name(void* unused)
#define CONVOPS_HELPER_RETURN 0
static CONVOPS_HELPER_MAIN(convops_helper_main);

/* Start one helper and drop its handle (it lives as long as the process); 0 when refused.
 * _beginthreadex, not CreateThread: the helper runs C code that may use the C runtime. */
static int convops_start_helper(void)
{
    uintptr_t handle = _beginthreadex(NULL, 0, convops_helper_main, NULL, 0, NULL);
    if (handle == 0)
        return 0;
    CloseHandle((HANDLE)handle);
    return 1;
}
#endif

#if CONVOPS_THREADS_POSIX || CONVOPS_THREADS_WIN32
/* ---- the pool: written once against the layer above ---- */
#define CONVOPS_MAX_HELPERS 1023

typedef struct convops_job {
    convops_task_fn fn;
    void* ctx;
    ptrdiff_t n_tasks, chunk, n_chunks;
    convops_atomic_size next;       /* next chunk to claim */
    convops_atomic_size finished;   /* chunks done */
    convops_atomic_int helper_slots; /* helpers still allowed to join */
    convops_atomic_int refs;        /* the caller + each helper holding the job; last one frees */
    convops_atomic_size helper_ns;  /* helpers' time inside their chunks (nanoseconds), */
    convops_atomic_size helper_runs; /* over this many chunks: the back-off rule's evidence */
} convops_job;

static convops_lock_t convops_pool_lock = CONVOPS_LOCK_INIT;
static convops_cond_t convops_pool_wake = CONVOPS_COND_INIT;
static convops_cond_t convops_pool_done = CONVOPS_COND_INIT;
static convops_job* convops_pool_job = NULL;      /* the newest job (holds one reference) */
static convops_atomic_size convops_pool_generation = 0;  /* written under the lock, read by spinning helpers */
static int convops_pool_helpers = 0;
#if CONVOPS_THREADS_POSIX
static int convops_pool_atfork = 0;
#endif
/* 1 on the pool's helper threads (for the tests' probe job). */
static CONVOPS_THREAD_LOCAL int convops_on_helper = 0;

static void convops_job_release(convops_job* job)
{
    if (convops_int_add(&job->refs, -1, acq_rel) == 1)
        free(job);
}

/* Claim and run chunks until none are left; returns how many this thread ran. */
static ptrdiff_t convops_job_work(convops_job* job)
{
    ptrdiff_t c, ran = 0, begin, end;
    for (;;) {
        c = convops_size_add(&job->next, 1, relaxed);
        if (c >= job->n_chunks)
            return ran;
        begin = c * job->chunk;
        end = begin + job->chunk < job->n_tasks ? begin + job->chunk : job->n_tasks;
        if (convops_on_helper) {
            /* How long a helper's chunk took once claimed (not counting how late it woke). */
            double t0 = convops_now();
            job->fn(job->ctx, begin, end);
            convops_size_add(&job->helper_ns, (ptrdiff_t)((convops_now() - t0) * 1e9), relaxed);
            convops_size_add(&job->helper_runs, 1, relaxed);
        } else {
            job->fn(job->ctx, begin, end);
        }
        ran++;
        if (convops_size_add(&job->finished, 1, acq_rel) + 1 == job->n_chunks) {
            convops_lock(&convops_pool_lock);
            convops_cond_broadcast(&convops_pool_done);
            convops_unlock(&convops_pool_lock);
        }
    }
}

/* After a job a helper watches for the next one for this long before it sleeps: back-to-back
 * calls (a network's layers, a benchmark loop) then start in parallel at once instead of
 * paying a futex wake-up (tens of microseconds on a VM) each. Short enough to cost nothing
 * worth mentioning when the machine is busy. */
#define CONVOPS_SPIN_SECONDS 100e-6

static CONVOPS_HELPER_MAIN(convops_helper_main)
{
    /* Not a generation: a helper first looks at the newest job, the call that started it (it
     * was started under the lock, before that call published its job; had it waited for the
     * next generation, a call at a new, higher thread count would run without its new helpers). */
    ptrdiff_t seen = -1;
    convops_job* job;
    double until;
    int i;
    (void)unused;
    convops_on_helper = 1;
    convops_lock(&convops_pool_lock);
    for (;;) {
        if (convops_size_load(&convops_pool_generation, seq_cst) == seen) {
            convops_unlock(&convops_pool_lock);
            until = convops_now() + CONVOPS_SPIN_SECONDS;
            while (convops_size_load(&convops_pool_generation, relaxed) == seen) {
                for (i = 0; i < 64; i++)
                    CONVOPS_PAUSE();
                if (convops_now() > until)
                    break;
            }
            convops_lock(&convops_pool_lock);
        }
        while (convops_size_load(&convops_pool_generation, seq_cst) == seen)
            convops_cond_wait(&convops_pool_wake, &convops_pool_lock);
        seen = convops_size_load(&convops_pool_generation, seq_cst);
        job = convops_pool_job;
        if (job == NULL || convops_int_add(&job->helper_slots, -1, relaxed) <= 0)
            continue;
        convops_int_add(&job->refs, 1, relaxed);
        convops_unlock(&convops_pool_lock);
        convops_job_work(job);
        convops_job_release(job);
        convops_lock(&convops_pool_lock);
    }
    return CONVOPS_HELPER_RETURN;
}

#if CONVOPS_THREADS_POSIX
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
#endif

/* Back-off: when helpers keep the caller waiting (they claimed chunks, then lost their core to
 * another process), the next calls run on the caller alone for a while. Measured on a 2-core
 * machine with one core taken by another process: 2-thread calls were up to 7x slower than
 * 1-thread ones; with the back-off they cost what 1 thread costs, and on a quiet machine nothing
 * changes.
 *
 * "Late" means the call took longer than the caller alone would have: the wait exceeded the
 * caller's own time per chunk times the chunks the helpers ran. An earlier rule (a wait over a
 * quarter of the caller's share + 50 us) also fired on calls that parallelism still sped up --
 * a job of one chunk per thread whose helper woke 0.2-1 ms after the caller (a filter gradient
 * of 64x13x13x32->64 on 2 threads: 2.2 ms of own work, 0.7 ms of wait, 4.4 ms serial) -- and
 * each time held every kernel of the process at one thread for the next 0.1 s (a whole
 * benchmark of 20 calls ran at the 1-thread speed). convops.set_num_threads() ends a back-off:
 * a new count takes effect at once.
 *
 * How long: 10 ms after a late call that follows on-time ones, twice as long after each late
 * call that comes before 8 on-time calls of several threads, up to 160 ms; each 8 on-time calls
 * in a row halve it again. A core shared with another process's loop makes a call late every
 * few calls (the helper gets its core half the time): 10, 20, ... 160 ms, and then one slow call
 * per 160 ms. A helper slowed for a moment -- on a VM a vCPU may stall for milliseconds, the
 * guest cannot tell why -- costs 10 ms of one-thread calls. (Halving on every on-time call kept
 * it at 10 ms under such a loop: a fifth of the calls ran on one thread and the mean call was
 * 5% slower than on one thread.) Measured with a fixed 0.1 s (Zen 3, 2 vCPUs, no other
 * process): a loop of 64x13x13x32 filter gradients on 2 threads backed off 2-4 times a second,
 * so that a third of its calls ran on one thread (median 2.3-2.9 ms against 1.8 in a second
 * without a back-off). */
#define CONVOPS_BACKOFF_MIN_SECONDS 0.01
#define CONVOPS_BACKOFF_MAX_SECONDS 0.16
#define CONVOPS_BACKOFF_CALM_CALLS 8
static convops_atomic_double convops_serial_until = 0;
static convops_atomic_double convops_backoff_seconds = CONVOPS_BACKOFF_MIN_SECONDS;  /* the next one's length */
static convops_atomic_size convops_backoff_calm = 0;  /* on-time calls since the last late one */

static inline void convops_pool_end_backoff(void)
{
    convops_double_store(&convops_serial_until, 0.0);
    convops_double_store(&convops_backoff_seconds, CONVOPS_BACKOFF_MIN_SECONDS);
    convops_size_store(&convops_backoff_calm, 0, relaxed);
}

/* The length the next back-off would have (seconds; for tests). */
static inline double convops_pool_next_backoff(void) { return convops_double_load(&convops_backoff_seconds); }

/* After a call of several threads: a late one starts a back-off of the current length and
 * doubles the next; every CONVOPS_BACKOFF_CALM_CALLS on-time ones in a row halve it.
 * (Concurrent callers may lose an update: the length is a hint, each value of it is valid.) */
static void convops_pool_note_call(int late, double t_end)
{
    double length = convops_double_load(&convops_backoff_seconds);
    if (late) {
        convops_double_store(&convops_serial_until, t_end + length);
        convops_size_store(&convops_backoff_calm, 0, relaxed);
        length *= 2.0;
    } else if (convops_size_add(&convops_backoff_calm, 1, relaxed) + 1 >= CONVOPS_BACKOFF_CALM_CALLS) {
        convops_size_store(&convops_backoff_calm, 0, relaxed);
        length *= 0.5;
    }
    if (length < CONVOPS_BACKOFF_MIN_SECONDS)
        length = CONVOPS_BACKOFF_MIN_SECONDS;
    if (length > CONVOPS_BACKOFF_MAX_SECONDS)
        length = CONVOPS_BACKOFF_MAX_SECONDS;
    convops_double_store(&convops_backoff_seconds, length);
}

/* Whether helpers made a call slower than the caller alone because they lost their core: `own`
 * seconds for the caller's `mine` of `n_chunks` chunks, then `wait` seconds for the helpers' last
 * ones, which took `helper_chunk` seconds each on average once claimed. Both must hold: the call
 * took longer than the caller alone would have, and a helper's chunk took more than twice the
 * caller's. A helper that only woke late (a sleeping vCPU takes up to ~1 ms to run again on a
 * VM) runs at full speed once awake, and a back-off would hold the next calls at one thread for
 * it: measured with back-offs of a fixed 0.1 s (five training steps of the tutorial's network),
 * 3 back-offs per 100 steps put 16% of its convolutions on one thread. */
static int convops_pool_helpers_late(double own, double wait, ptrdiff_t n_chunks, ptrdiff_t mine,
                                     double helper_chunk)
{
    double per_chunk;
    if (mine < 1)
        return 0;                          /* no time per chunk to compare with */
    per_chunk = own / (double)mine;
    return wait > per_chunk * (double)(n_chunks - mine) && helper_chunk > 2.0 * per_chunk;
}

/* The last call of parallel_for in the process (any thread; for tests): threads asked for,
 * threads allowed (1 in a back-off or for a single chunk), chunks, chunks the caller ran, 1 if
 * it started a back-off, and the caller's own time and its wait for helpers (microseconds).
 * Relaxed stores: each value is a plain observation. */
enum { CONVOPS_LAST_THREADS, CONVOPS_LAST_ALLOWED, CONVOPS_LAST_CHUNKS, CONVOPS_LAST_MINE, CONVOPS_LAST_BACKOFF,
       CONVOPS_LAST_OWN_US, CONVOPS_LAST_WAIT_US, CONVOPS_LAST_FIELDS };
static convops_atomic_size convops_pool_last[CONVOPS_LAST_FIELDS];

static void convops_pool_record(int threads, int allowed, ptrdiff_t n_chunks, ptrdiff_t mine, int backoff, double own,
                                double wait)
{
    convops_size_store(&convops_pool_last[CONVOPS_LAST_OWN_US], (ptrdiff_t)(own * 1e6), relaxed);
    convops_size_store(&convops_pool_last[CONVOPS_LAST_WAIT_US], (ptrdiff_t)(wait * 1e6), relaxed);
    convops_size_store(&convops_pool_last[CONVOPS_LAST_THREADS], threads, relaxed);
    convops_size_store(&convops_pool_last[CONVOPS_LAST_ALLOWED], allowed, relaxed);
    convops_size_store(&convops_pool_last[CONVOPS_LAST_CHUNKS], n_chunks, relaxed);
    convops_size_store(&convops_pool_last[CONVOPS_LAST_MINE], mine, relaxed);
    convops_size_store(&convops_pool_last[CONVOPS_LAST_BACKOFF], backoff, relaxed);
}

static inline ptrdiff_t convops_pool_last_call(int field)
{
    return field >= 0 && field < CONVOPS_LAST_FIELDS ? convops_size_load(&convops_pool_last[field], relaxed) : -1;
}

/* Run fn(ctx, begin, end) over [0, n_tasks) in chunks of `chunk` tasks on up to `threads`
 * threads (the caller included). Returns when every task has run. */
static void convops_parallel_for(convops_task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads)
{
    convops_job* job;
    convops_job* old;
    ptrdiff_t mine;
    int asked, late = 0;
    if (chunk < 1)
        chunk = 1;
    if (threads < 1)
        threads = 1;
    if (threads > CONVOPS_MAX_HELPERS + 1)
        threads = CONVOPS_MAX_HELPERS + 1;
    asked = threads;
    double t_start = 0.0, t_own = 0.0, t_end = 0.0;
    if (threads > 1 && n_tasks > chunk) {
        t_start = convops_now();
        if (t_start < convops_double_load(&convops_serial_until))
            threads = 1;
    }
    if (threads <= 1 || n_tasks <= chunk || (job = (convops_job*)malloc(sizeof(convops_job))) == NULL) {
        ptrdiff_t n_chunks = n_tasks > 0 ? (n_tasks + chunk - 1) / chunk : 0;
        convops_pool_record(asked, 1, n_chunks, n_chunks, 0, 0.0, 0.0);
        if (n_tasks > 0)
            fn(ctx, 0, n_tasks);
        return;
    }
    job->fn = fn;
    job->ctx = ctx;
    job->n_tasks = n_tasks;
    job->chunk = chunk;
    job->n_chunks = (n_tasks + chunk - 1) / chunk;
    convops_atomic_init(&job->next, 0);
    convops_atomic_init(&job->finished, 0);
    convops_atomic_init(&job->helper_slots, threads - 1);
    convops_atomic_init(&job->refs, 2);            /* the caller and the pool's pointer */
    convops_atomic_init(&job->helper_ns, 0);
    convops_atomic_init(&job->helper_runs, 0);

    convops_lock(&convops_pool_lock);
#if CONVOPS_THREADS_POSIX
    if (!convops_pool_atfork) {
        pthread_atfork(NULL, NULL, convops_pool_after_fork);
        convops_pool_atfork = 1;
    }
#endif
    while (convops_pool_helpers < threads - 1) {
        if (!convops_start_helper())
            break;                         /* fewer helpers: the caller does more */
        convops_pool_helpers++;
    }
    old = convops_pool_job;
    convops_pool_job = job;
    convops_size_add(&convops_pool_generation, 1, seq_cst);
    convops_cond_broadcast(&convops_pool_wake);
    convops_unlock(&convops_pool_lock);
    if (old != NULL)
        convops_job_release(old);

    mine = convops_job_work(job);
    t_own = t_end = convops_now();
    if (convops_size_load(&job->finished, acquire) < job->n_chunks) {
        /* Only chunks that helpers claimed are left: wait for them (briefly spin first). */
        int spins;
        for (spins = 0; spins < 2000 && convops_size_load(&job->finished, acquire) < job->n_chunks;
             spins++)
            convops_yield();
        convops_lock(&convops_pool_lock);
        while (convops_size_load(&job->finished, acquire) < job->n_chunks)
            convops_cond_wait(&convops_pool_done, &convops_pool_lock);
        convops_unlock(&convops_pool_lock);
        t_end = convops_now();
        {
            ptrdiff_t runs = convops_size_load(&job->helper_runs, relaxed);
            double helper_chunk = runs > 0 ? (double)convops_size_load(&job->helper_ns, relaxed) * 1e-9 / (double)runs : 0.0;
            late = convops_pool_helpers_late(t_own - t_start, t_end - t_own, job->n_chunks, mine, helper_chunk);
        }
    }
    convops_pool_note_call(late, t_end);
    convops_pool_record(asked, threads, job->n_chunks, mine, late, t_own - t_start, t_end - t_own);
    convops_job_release(job);
}

/* For tests: a job of two chunks that waits (at most `timeout` s) until two threads each hold
 * one, then keeps the chunk's thread busy for `caller_seconds` on the caller and
 * `helper_seconds` on a helper -- a call whose helper finishes a set time after the caller,
 * whatever the machine's scheduler does. Run on one thread, it just returns. */
typedef struct convops_probe {
    double caller_seconds, helper_seconds, timeout;
    convops_atomic_int started;
} convops_probe;

static void convops_probe_chunk(void* ctx, ptrdiff_t begin, ptrdiff_t end)
{
    convops_probe* probe = (convops_probe*)ctx;
    double t0, busy;
    if (end - begin != 1)
        return;                            /* both chunks on one thread: nothing to stagger */
    convops_int_add(&probe->started, 1, acq_rel);
    t0 = convops_now();
    while (convops_int_load(&probe->started, acquire) < 2 && convops_now() - t0 < probe->timeout)
        convops_yield();
    busy = convops_on_helper ? probe->helper_seconds : probe->caller_seconds;
    t0 = convops_now();
    while (convops_now() - t0 < busy)
        CONVOPS_PAUSE();
}

static inline void convops_pool_probe(double caller_seconds, double helper_seconds, double timeout)
{
    convops_probe probe;
    probe.caller_seconds = caller_seconds;
    probe.helper_seconds = helper_seconds;
    probe.timeout = timeout;
    convops_atomic_init(&probe.started, 0);
    convops_parallel_for(convops_probe_chunk, &probe, 2, 1, 2);
}

/* Helper threads started so far (for tests: one pool per process). */
static int convops_pool_helper_count(void)
{
    int n;
    convops_lock(&convops_pool_lock);
    n = convops_pool_helpers;
    convops_unlock(&convops_pool_lock);
    return n;
}

#else  /* none: every chunk on the caller */
#define CONVOPS_POOL_BACKEND "none"

static int convops_pool_helper_count(void) { return 0; }
static inline void convops_pool_end_backoff(void) {}
static inline double convops_pool_next_backoff(void) { return 0.0; }
static inline int convops_pool_helpers_late(double own, double wait, ptrdiff_t n_chunks, ptrdiff_t mine,
                                            double helper_chunk)
{
    (void)own;
    (void)wait;
    (void)n_chunks;
    (void)mine;
    (void)helper_chunk;
    return 0;
}
static inline ptrdiff_t convops_pool_last_call(int field)
{
    (void)field;
    return -1;                             /* nothing recorded: every call runs on the caller */
}
static inline void convops_pool_probe(double caller_seconds, double helper_seconds, double timeout)
{
    (void)caller_seconds;
    (void)helper_seconds;
    (void)timeout;
}

static void convops_parallel_for(convops_task_fn fn, void* ctx, ptrdiff_t n_tasks, ptrdiff_t chunk, int threads)
{
    (void)chunk;
    (void)threads;
    if (n_tasks > 0)
        fn(ctx, 0, n_tasks);
}

#endif
#endif /* CONVOPS_PARALLEL_H */
