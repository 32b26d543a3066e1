/* OpenMP queries that compile with or without OpenMP (the build may opt out, and MSVC without
 * /openmp or Apple clang without libomp have none).
 *
 * OpenMP only supplies the default thread count (the kernels run on convops' own pool,
 * parallel.h). Without it the default is the number of processors online, so a build without
 * OpenMP (macOS without libomp, for one) still uses every core unless told otherwise. */
#ifndef CONVOPS_OMP_SHIM_H
#define CONVOPS_OMP_SHIM_H
#ifdef _OPENMP
#include <omp.h>
#define CONVOPS_OPENMP 1
static int convops_omp_max_threads(void) { return omp_get_max_threads(); }
#else
#define CONVOPS_OPENMP 0
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
static int convops_omp_max_threads(void)
{
#if defined(_WIN32_WINNT) && _WIN32_WINNT >= 0x0601
    DWORD n = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);  /* every group, as os.cpu_count() */
#else
    SYSTEM_INFO info;
    DWORD n;
    GetSystemInfo(&info);  /* before Windows 7: this process's group only */
    n = info.dwNumberOfProcessors;
#endif
    return n > 0 ? (n < 1024 ? (int)n : 1024) : 1;
}
#elif defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
static int convops_omp_max_threads(void)
{
#ifdef _SC_NPROCESSORS_ONLN
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (n < 1024 ? (int)n : 1024) : 1;
#else
    return 1;
#endif
}
#else
static int convops_omp_max_threads(void) { return 1; }
#endif
#endif
#endif
