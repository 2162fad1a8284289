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
}                                                                                        \
/* dx = g where y > 0, else 0, as a select of loaded values: ReLU's sign pattern is      \
   random, and a branch (or a conditional load, which SSE cannot vectorize) mispredicts  \
   half the time, 6x slower */                                                           \
static inline void mg_relu_backward_##S(const T *g, const T *y, T *dx, ptrdiff_t n) {    \
    _Pragma("omp simd")                                                                  \
    for (ptrdiff_t i = 0; i < n; i++) { T gi = g[i]; dx[i] = y[i] <= 0 ? (T)0 : gi; }    \
}                                                                                          \
/* One output row of max pooling whose windows lie inside the image: the maximum of each  \
   kh x kw window (the last NaN wins, else the first maximum) and its flat index. Branch-free: \
   which element wins is random, and mispredicted branches made this 3x slower. The       \
   maximum is `v > best ? v : best` (one maxss), the index an integer select over the      \
   window walked backwards so the first match stays; NaN windows (rare) are searched.     */ \
static inline void mg_max_pool_row_##S(const T *plane, ptrdiff_t W, ptrdiff_t row0,       \
                                       int kh, int kw, int sw, ptrdiff_t Wo,               \
                                       T *out, long long *index) {                         \
    for (ptrdiff_t ow = 0; ow < Wo; ow++) {                                                \
        ptrdiff_t start = row0 + ow * sw;                                                  \
        T best = plane[start];                                                             \
        int nan = 0;                                                                       \
        for (int i = 0; i < kh; i++)                                                       \
            for (int j = 0; j < kw; j++) {                                                 \
                T v = plane[start + i * W + j];                                            \
                best = v > best ? v : best;                                                \
                nan |= (v != v);                                                           \
            }                                                                              \
        long long at = start;                                                              \
        if (nan) {  /* the last NaN, as PyTorch's CPU kernel takes it */                   \
            for (int i = 0; i < kh; i++)                                                   \
                for (int j = 0; j < kw; j++)                                               \
                    if (plane[start + i * W + j] != plane[start + i * W + j])              \
                        at = start + i * W + j;                                            \
        } else {                                                                           \
            for (int i = kh - 1; i >= 0; i--)                                              \
                for (int j = kw - 1; j >= 0; j--) {                                        \
                    ptrdiff_t pos = start + i * W + j;                                     \
                    at = (plane[pos] == best) ? (long long)pos : at;                       \
                }                                                                          \
        }                                                                                  \
        out[ow] = nan ? plane[at] : best;                                                  \
        index[ow] = at;                                                                    \
    }                                                                                      \
}

MG_SIMD_FUNCTIONS(float, f)
MG_SIMD_FUNCTIONS(double, d)
#endif
