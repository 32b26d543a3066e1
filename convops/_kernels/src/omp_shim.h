/* OpenMP queries that compile with or without OpenMP (the build may opt out). */
#ifndef CONVOPS_OMP_SHIM_H
#define CONVOPS_OMP_SHIM_H
#ifdef _OPENMP
#include <omp.h>
#define CONVOPS_OPENMP 1
static int convops_omp_max_threads(void) { return omp_get_max_threads(); }
#else
#define CONVOPS_OPENMP 0
static int convops_omp_max_threads(void) { return 1; }
#endif
#endif
