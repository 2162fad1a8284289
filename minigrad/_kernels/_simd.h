/* Short reductions over one cache-resident piece that the compiler may vectorize.

   `omp simd reduction` lets the compiler keep one partial sum per SIMD lane (reassociating
   the sum, which -O3 alone never does for floating point). Pieces are short (PIECE
   elements), so sums in the data's own precision lose little; callers combine pieces in
   double. Without OpenMP the pragma is ignored and the loops run scalar. */
#ifndef MINIGRAD_SIMD_H
#define MINIGRAD_SIMD_H
#include <stddef.h>

#include "_clones.h"

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

/* The row loops of the channel kernels for an (N, C) input (S == 1): each runs along the
   C contiguous channels of a row, one independent sum per channel, so vectorizing them
   changes no bits; they are compiled for AVX-512, AVX2 and baseline x86-64 (``MG_CLONES``)
   with floating-point contraction off (and marked unused: not every module that
   includes this file calls them), so the FMA-capable clones round as the baseline
   does (no fused multiply-add where the source has a product and a sum). At BatchNorm1d's
   sizes (60 x 100) the baseline's SSE2 loops took 4-5 us a pass. Presence flags are
   constants of separate instantiations: a pointer test inside the loop stops GCC from
   vectorizing it. */
#if defined(__GNUC__) && !defined(__clang__)
#define MG_EXACT __attribute__((optimize("fp-contract=off"), unused))
#elif defined(__GNUC__)
#define MG_EXACT __attribute__((unused))
#else
#define MG_EXACT
#endif

/* rows [r0, r1) of x (rows of C): pm[c] = their mean, pq[c] = sum of squared deviations */
#define MG_ROWS_MOMENTS(T, S)                                                            \
MG_CLONES MG_EXACT                                                                       \
static void mg_rows_moments_##S(const T *restrict x, ptrdiff_t r0, ptrdiff_t r1,         \
                                ptrdiff_t C, double *restrict pm, double *restrict pq) { \
    for (ptrdiff_t c = 0; c < C; c++) { pm[c] = 0; pq[c] = 0; }                          \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                \
        const T *row = x + r * C;                                                        \
        for (ptrdiff_t c = 0; c < C; c++) pm[c] += row[c];                               \
    }                                                                                    \
    for (ptrdiff_t c = 0; c < C; c++) pm[c] /= (double)(r1 - r0);                        \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                \
        const T *row = x + r * C;                                                        \
        for (ptrdiff_t c = 0; c < C; c++) { double d = row[c] - pm[c]; pq[c] += d * d; } \
    }                                                                                    \
}

/* rows [r0, r1): p1[c] += g, p2[c] += g * (x - center[c]) (x given), dx = g * scale[c]
   (dx given) */
#define MG_ROWS_GRAD_LOOP(T, HAS_X, HAS_DX)                                              \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                \
        const T *gr = g + r * C, *xr = HAS_X ? x + r * C : g;                             \
        T *dr = HAS_DX ? dx + r * C : 0;                                                 \
        for (ptrdiff_t c = 0; c < C; c++) {                                              \
            T gv = gr[c];                                                                \
            p1[c] += gv;                                                                 \
            if (HAS_X) p2[c] += gv * (xr[c] - center[c]);                                \
            if (HAS_DX) dr[c] = gv * scale[c];                                           \
        }                                                                                \
    }
#define MG_ROWS_GRAD(T, S)                                                               \
MG_CLONES MG_EXACT                                                                       \
static void mg_rows_grad_##S(const T *restrict g, const T *restrict x,                   \
                             const T *restrict scale, const T *restrict center,          \
                             T *restrict dx, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t C,    \
                             double *restrict p1, double *restrict p2) {                 \
    if (x && dx) { MG_ROWS_GRAD_LOOP(T, 1, 1) }                                          \
    else if (x) { MG_ROWS_GRAD_LOOP(T, 1, 0) }                                           \
    else if (dx) { MG_ROWS_GRAD_LOOP(T, 0, 1) }                                          \
    else { MG_ROWS_GRAD_LOOP(T, 0, 0) }                                                  \
}

/* rows [r0, r1): y = (x - center[c]) * scale[c] + shift[c], or y += that */
#define MG_ROWS_AFFINE(T, S)                                                             \
MG_CLONES MG_EXACT                                                                       \
static void mg_rows_affine_##S(const T *x, const T *restrict scale,                      \
                               const T *restrict shift, const T *restrict center, T *y,  \
                               ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t C, int accumulate) { \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                \
        const T *src = x + r * C;                                                        \
        T *dst = y + r * C;                                                              \
        if (accumulate)                                                                  \
            for (ptrdiff_t c = 0; c < C; c++)                                            \
                dst[c] = dst[c] + ((src[c] - center[c]) * scale[c] + shift[c]);          \
        else                                                                             \
            for (ptrdiff_t c = 0; c < C; c++)                                            \
                dst[c] = (src[c] - center[c]) * scale[c] + shift[c];                     \
    }                                                                                    \
}

/* mg_max_pool_row's rule for 2 x 2 windows at stride 2 (MaxPool2d(2)) in float32, 16
   outputs at a time on AVX-512 (the window's four elements are the even and odd columns
   of two rows, split with two permutes each): best = e0, then each of e1, e2, e3 in turn
   replaces it when greater; the index is the last NaN's if the window has one, else the
   first element equal to best. The same comparisons in the same order, so the same
   values and indices (the last block of a row masked). Returns how many outputs it wrote:
   Wo, or 0 on a CPU without AVX-512 (mg_max_pool_row then takes the row). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
__attribute__((target("avx512f"), unused))
static ptrdiff_t mg_max_pool_row_2x2_f(const float *plane, ptrdiff_t W, ptrdiff_t row0,
                                       ptrdiff_t Wo, float *out, long long *index) {
    static int ready = -1;
    if (ready < 0)
        ready = __builtin_cpu_supports("avx512f") ? 1 : 0;
    if (!ready)
        return 0;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
    const __m512i three = _mm512_set1_epi32(3), zero = _mm512_setzero_si512();
    const __m512i step = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const float *r0 = plane + row0, *r1 = plane + row0 + W;
    ptrdiff_t ow = 0;
    for (; ow < Wo; ow += 16) {
        int n = Wo - ow < 16 ? (int)(Wo - ow) : 16;      /* (the last block: masked) */
        __mmask16 in0 = (__mmask16)(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
        __mmask16 in1 = (__mmask16)(n >= 16 ? 0xFFFF : n <= 8 ? 0 : (1u << (2 * n - 16)) - 1);
        __mmask16 keep = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
        __m512 a0 = _mm512_maskz_loadu_ps(in0, r0 + 2 * ow);
        __m512 a1 = _mm512_maskz_loadu_ps(in1, r0 + 2 * ow + 16);
        __m512 b0 = _mm512_maskz_loadu_ps(in0, r1 + 2 * ow);
        __m512 b1 = _mm512_maskz_loadu_ps(in1, r1 + 2 * ow + 16);
        __m512 e0 = _mm512_permutex2var_ps(a0, even, a1), e1 = _mm512_permutex2var_ps(a0, odd, a1);
        __m512 e2 = _mm512_permutex2var_ps(b0, even, b1), e3 = _mm512_permutex2var_ps(b0, odd, b1);
        __m512 best = e0;
        best = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(e1, best, _CMP_GT_OQ), best, e1);
        best = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(e2, best, _CMP_GT_OQ), best, e2);
        best = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(e3, best, _CMP_GT_OQ), best, e3);
        __m512i code = zero;                       /* the first element equal to best */
        code = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(e3, best, _CMP_EQ_OQ), code, three);
        code = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(e2, best, _CMP_EQ_OQ), code, two);
        code = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(e1, best, _CMP_EQ_OQ), code, one);
        code = _mm512_mask_blend_epi32(_mm512_cmp_ps_mask(e0, best, _CMP_EQ_OQ), code, zero);
        __mmask16 n0 = _mm512_cmp_ps_mask(e0, e0, _CMP_UNORD_Q);
        __mmask16 n1 = _mm512_cmp_ps_mask(e1, e1, _CMP_UNORD_Q);
        __mmask16 n2 = _mm512_cmp_ps_mask(e2, e2, _CMP_UNORD_Q);
        __mmask16 n3 = _mm512_cmp_ps_mask(e3, e3, _CMP_UNORD_Q);
        __m512i last = zero;                       /* the last NaN */
        __m512 nan_value = e0;
        last = _mm512_mask_blend_epi32(n1, last, one);
        nan_value = _mm512_mask_blend_ps(n1, nan_value, e1);
        last = _mm512_mask_blend_epi32(n2, last, two);
        nan_value = _mm512_mask_blend_ps(n2, nan_value, e2);
        last = _mm512_mask_blend_epi32(n3, last, three);
        nan_value = _mm512_mask_blend_ps(n3, nan_value, e3);
        __mmask16 nan = n0 | n1 | n2 | n3;
        _mm512_mask_storeu_ps(out + ow, keep, _mm512_mask_blend_ps(nan, best, nan_value));
        code = _mm512_mask_blend_epi32(nan, code, last);
        /* index = row0 + 2 ow + (code & 1) + (code >> 1) * W, in 64 bits */
        __m512i col = _mm512_and_si512(code, one), row = _mm512_srli_epi32(code, 1);
        __m512i base = _mm512_add_epi64(_mm512_set1_epi64(row0 + 2 * ow), step);
        __m512i wv = _mm512_set1_epi64(W);
        for (int h = 0; h < 2; h++) {
            __m256i c8 = h ? _mm512_extracti64x4_epi64(col, 1) : _mm512_castsi512_si256(col);
            __m256i r8 = h ? _mm512_extracti64x4_epi64(row, 1) : _mm512_castsi512_si256(row);
            __m512i at = _mm512_add_epi64(base, _mm512_cvtepi32_epi64(c8));
            __mmask8 lower = _mm512_cmpneq_epi64_mask(_mm512_cvtepi32_epi64(r8),
                                                     _mm512_setzero_si512());
            at = _mm512_mask_add_epi64(at, lower, at, wv);   /* (the second row: + W) */
            if (h)
                at = _mm512_add_epi64(at, _mm512_set1_epi64(16));
            _mm512_mask_storeu_epi64((void *)(index + ow + 8 * h),
                                     (__mmask8)(h ? keep >> 8 : keep & 0xFF), at);
        }
    }
    return ow;
}
#else
static ptrdiff_t mg_max_pool_row_2x2_f(const float *plane, ptrdiff_t W, ptrdiff_t row0,
                                       ptrdiff_t Wo, float *out, long long *index) {
    return 0;
}
#endif

MG_SIMD_FUNCTIONS(float, f)
MG_SIMD_FUNCTIONS(double, d)
MG_ROWS_MOMENTS(float, f)
MG_ROWS_MOMENTS(double, d)
MG_ROWS_GRAD(float, f)
MG_ROWS_GRAD(double, d)
MG_ROWS_AFFINE(float, f)
MG_ROWS_AFFINE(double, d)
#endif
