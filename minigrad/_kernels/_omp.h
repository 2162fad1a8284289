/* OpenMP when the build has it, a one-thread stand-in when it does not, so the kernels
   compile either way. MG_OPENMP records which one this module was built with. */
#ifndef MINIGRAD_OMP_H
#define MINIGRAD_OMP_H
#ifdef _OPENMP
#include <omp.h>
#define MG_OPENMP 1
#else
#define MG_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline void omp_set_num_threads(int n) { (void)n; }
#endif
#endif
