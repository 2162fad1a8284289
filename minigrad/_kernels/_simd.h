/* Short reductions over one cache-resident piece that the compiler may vectorize.

   `omp simd reduction` lets the compiler keep one partial sum per SIMD lane (reassociating
   the sum, which -O3 alone never does for floating point). Pieces are short (PIECE
   elements), so sums in the data's own precision lose little; callers combine pieces in
   double. Without OpenMP the pragma is ignored and the loops run scalar. */
#ifndef MINIGRAD_SIMD_H
#define MINIGRAD_SIMD_H
#include <stddef.h>

#define MG_SIMD_FUNCTIONS(T, S)                                                          \
static inline T mg_sum_##S(const T *p, ptrdiff_t n) {                                    \
    T s = 0;                                                                             \
    _Pragma("omp simd reduction(+:s)")                                                   \
    for (ptrdiff_t i = 0; i < n; i++) s += p[i];                                         \
    return s;                                                                            \
}                                                                                        \
/* sum of (p - m) and of (p - m)^2 */                                                    \
static inline void mg_dev_sums_##S(const T *p, ptrdiff_t n, T m, T *s1, T *s2) {         \
    T s = 0, q = 0;                                                                      \
    _Pragma("omp simd reduction(+:s, q)")                                                \
    for (ptrdiff_t i = 0; i < n; i++) { T d = p[i] - m; s += d; q += d * d; }            \
    *s1 = s; *s2 = q;                                                                    \
}                                                                                        \
/* sum of g and of g * (x - c) */                                                        \
static inline void mg_grad_sums_##S(const T *g, const T *x, ptrdiff_t n, T c,            \
                                    T *s1, T *s2) {                                      \
    T s = 0, q = 0;                                                                      \
    _Pragma("omp simd reduction(+:s, q)")                                                \
    for (ptrdiff_t i = 0; i < n; i++) { s += g[i]; q += g[i] * (x[i] - c); }             \
    *s1 = s; *s2 = q;                                                                    \
}

MG_SIMD_FUNCTIONS(float, f)
MG_SIMD_FUNCTIONS(double, d)
#endif
