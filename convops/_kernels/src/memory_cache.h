/* A NumPy data allocator that keeps freed large blocks for reuse, for convops/_kernels/memory.pyx.
 *
 * Why: a training step allocates the same large arrays every time (each layer's output, each
 * gradient), about 20 MiB for the tutorial's network at batch 64. glibc's malloc returns freed
 * memory to the system once the free space at the top of its heap passes a threshold, and takes
 * it back on the next step as new pages, each a page fault on first touch. In a fresh process the
 * tutorial's step took ~2,400 page faults and 16 ms instead of 10 (AMD EPYC Zen 3 VM, where a
 * fault costs ~3.5 us). Keras's TensorFlow keeps its own pool for the same reason. convops.nn
 * installs this allocator (NumPy's PyDataMem_Handler, NEP 49) around each training step; arrays
 * remember the allocator that made them, so they come back here whenever they are freed.
 *
 * Blocks of at least CONVOPS_CACHE_MIN_BYTES are kept on free and handed out again to a request
 * of exactly their size -- a training step asks for the same sizes each time. At most
 * CONVOPS_CACHE_SLOTS blocks and CONVOPS_CACHE_MAX_BYTES in all are kept: a block freed into a
 * full cache pushes out the oldest ones, so that what is kept follows the sizes in use now (a
 * process that stops training, or trains another model, holds at most the limit, then the last
 * blocks it freed). Each block
 * carries its size in a header, so nothing depends on the size NumPy reports when it frees.
 * Smaller blocks go straight to malloc and free (malloc's own bins keep them). A calloc served
 * from the cache is zeroed. One lock (a spin lock: held for a scan of at most 64 slots) guards the
 * cache; NumPy calls its allocator with the GIL held, the lock makes no assumption about it.
 *
 * Every block's data starts on a 64-byte boundary: a cache line, and one AVX-512 vector. NumPy's
 * own allocator promises 16 bytes (glibc puts a large block 16 bytes past a page), so three in
 * four 64-byte loads or stores of such an array touch two cache lines. The kernels that read an
 * operand with vector loads many times over paid for it: the tutorial's second conv2d took
 * 1.07-1.11x and its filter gradient 1.06-1.23x as long with their inputs 16 bytes past a line as
 * on a line (Intel Emerald Rapids, AVX-512, 1 thread). The header -- the caller's size, then the distance
 * back to malloc's pointer -- is in the 16 bytes before the data. */
#ifndef CONVOPS_MEMORY_CACHE_H
#define CONVOPS_MEMORY_CACHE_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONVOPS_CACHE_MIN_BYTES ((size_t)256 << 10)
#define CONVOPS_CACHE_SLOTS 64
#define CONVOPS_CACHE_MAX_BYTES ((size_t)256 << 20)
/* The data's alignment, the header before it (size, distance to malloc's pointer) and the bytes
 * asked of malloc beyond the caller's: the header and the slack to reach the boundary after it. */
#define CONVOPS_CACHE_ALIGN ((uintptr_t)64)
#define CONVOPS_CACHE_HEADER ((size_t)16)
#define CONVOPS_CACHE_EXTRA (CONVOPS_CACHE_HEADER + (size_t)CONVOPS_CACHE_ALIGN - 1)

typedef struct {
    void* base; /* malloc's pointer (the header) */
    size_t size; /* the caller's size */
} convops_cached_block;

static convops_cached_block convops_cache_blocks[CONVOPS_CACHE_SLOTS];
static int convops_cache_count = 0;
static size_t convops_cache_bytes = 0;
static size_t convops_cache_hits = 0, convops_cache_misses = 0;
static volatile int convops_cache_busy = 0;

#if defined(_MSC_VER)
#include <intrin.h>
#define CONVOPS_CACHE_TRY_LOCK() (_InterlockedExchange((volatile long*)&convops_cache_busy, 1) == 0)
#define CONVOPS_CACHE_UNLOCK() _InterlockedExchange((volatile long*)&convops_cache_busy, 0)
#else
#define CONVOPS_CACHE_TRY_LOCK() (__atomic_exchange_n(&convops_cache_busy, 1, __ATOMIC_ACQUIRE) == 0)
#define CONVOPS_CACHE_UNLOCK() __atomic_store_n(&convops_cache_busy, 0, __ATOMIC_RELEASE)
#endif

static void convops_cache_lock(void)
{
    while (!CONVOPS_CACHE_TRY_LOCK()) {
    }
}

/* The data of the block malloc returned at `base` (the first 64-byte boundary at least a header
 * past it), with the header written: the same address every time for the same base. */
static void* convops_cache_header(void* base, size_t size)
{
    const uintptr_t data = ((uintptr_t)base + CONVOPS_CACHE_HEADER + CONVOPS_CACHE_ALIGN - 1) & ~(CONVOPS_CACHE_ALIGN - 1);
    ((size_t*)data)[-2] = size;
    ((size_t*)data)[-1] = (size_t)(data - (uintptr_t)base);
    return (void*)data;
}

static size_t convops_cache_size(const void* ptr) { return ((const size_t*)ptr)[-2]; }

static void* convops_cache_base(void* ptr) { return (char*)ptr - ((const size_t*)ptr)[-1]; }

/* A kept block of exactly `size` bytes (its header's pointer; the newest of that size), or NULL.
 * The blocks stay in the order they were freed, oldest first. */
static void* convops_cache_take(size_t size)
{
    void* base = NULL;
    int i;
    if (size < CONVOPS_CACHE_MIN_BYTES)
        return NULL;
    convops_cache_lock();
    for (i = convops_cache_count - 1; i >= 0; i--) {
        if (convops_cache_blocks[i].size == size) {
            base = convops_cache_blocks[i].base;
            convops_cache_count--;
            memmove(convops_cache_blocks + i, convops_cache_blocks + i + 1,
                    (size_t)(convops_cache_count - i) * sizeof(convops_cache_blocks[0]));
            convops_cache_bytes -= size;
            break;
        }
    }
    if (base != NULL)
        convops_cache_hits++;
    else
        convops_cache_misses++;
    CONVOPS_CACHE_UNLOCK();
    return base;
}

static void* convops_cache_malloc(void* ctx, size_t size)
{
    void* base = convops_cache_take(size);
    (void)ctx;
    if (base == NULL) {
        if (size > (size_t)-1 - CONVOPS_CACHE_EXTRA)
            return NULL;
        base = malloc(size + CONVOPS_CACHE_EXTRA);
        if (base == NULL)
            return NULL;
    }
    return convops_cache_header(base, size);
}

static void* convops_cache_calloc(void* ctx, size_t nelem, size_t elsize)
{
    size_t size;
    void* base;
    void* data;
    (void)ctx;
    if (elsize != 0 && nelem > ((size_t)-1 - CONVOPS_CACHE_EXTRA) / elsize)
        return NULL;
    size = nelem * elsize;
    base = convops_cache_take(size);
    if (base != NULL) {
        data = convops_cache_header(base, size);
        memset(data, 0, size);
        return data;
    }
    base = calloc(1, size + CONVOPS_CACHE_EXTRA);
    if (base == NULL)
        return NULL;
    return convops_cache_header(base, size);
}

static void convops_cache_free(void* ctx, void* ptr, size_t size_numpy_reports);

/* A new block and a copy, not realloc: realloc may move the data to an address of another
 * alignment relative to malloc's pointer, which the header could not follow. On failure the old
 * block stays valid, as realloc's contract says. */
static void* convops_cache_realloc(void* ctx, void* ptr, size_t new_size)
{
    void* fresh;
    size_t old_size;
    if (ptr == NULL)
        return convops_cache_malloc(ctx, new_size);
    fresh = convops_cache_malloc(ctx, new_size);
    if (fresh == NULL)
        return NULL;
    old_size = convops_cache_size(ptr);
    memcpy(fresh, ptr, old_size < new_size ? old_size : new_size);
    convops_cache_free(ctx, ptr, old_size);
    return fresh;
}

static void convops_cache_free(void* ctx, void* ptr, size_t size_numpy_reports)
{
    void* base;
    void* evicted[CONVOPS_CACHE_SLOTS];
    size_t size;
    int n_evicted = 0, i;
    (void)ctx;
    (void)size_numpy_reports; /* the header's size is the block's */
    if (ptr == NULL)
        return;
    base = convops_cache_base(ptr);
    size = convops_cache_size(ptr);
    if (size < CONVOPS_CACHE_MIN_BYTES || size > CONVOPS_CACHE_MAX_BYTES) {
        free(base);
        return;
    }
    convops_cache_lock();
    /* The oldest blocks (the front) make room; the rest move up, the order kept. */
    while (convops_cache_count == CONVOPS_CACHE_SLOTS || convops_cache_bytes + size > CONVOPS_CACHE_MAX_BYTES) {
        evicted[n_evicted++] = convops_cache_blocks[0].base;
        convops_cache_bytes -= convops_cache_blocks[0].size;
        convops_cache_count--;
        memmove(convops_cache_blocks, convops_cache_blocks + 1, (size_t)convops_cache_count * sizeof(convops_cache_blocks[0]));
    }
    convops_cache_blocks[convops_cache_count].base = base;
    convops_cache_blocks[convops_cache_count].size = size;
    convops_cache_count++;
    convops_cache_bytes += size;
    CONVOPS_CACHE_UNLOCK();
    for (i = 0; i < n_evicted; i++)
        free(evicted[i]);
}

/* Free every kept block; returns the bytes released. */
static size_t convops_cache_release(void)
{
    size_t released;
    int i;
    convops_cache_lock();
    for (i = 0; i < convops_cache_count; i++)
        free(convops_cache_blocks[i].base);
    released = convops_cache_bytes;
    convops_cache_count = 0;
    convops_cache_bytes = 0;
    CONVOPS_CACHE_UNLOCK();
    return released;
}

#endif /* CONVOPS_MEMORY_CACHE_H */
