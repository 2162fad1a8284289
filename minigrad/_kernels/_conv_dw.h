/* A 3 x 3 convolution's weight gradient for one image, read straight from the padded input
   (stride 1, float32, AVX-512), with no im2col:

       dw[o, c, t] += sum_j dyp[o, j] * xp[c, shift[t] + j],   j < n,

   where xp is the image padded (channel planes Sp apart), dyp is dy at the padded row width
   with its junk columns zero (so they add nothing) and shift[t] is tap t's offset in xp:
   the same layout the shifted forward GEMMs read (_conv.pyx).

   Why: im2col copies the image nine times for a GEMM whose output, (Kg, 9 Cg), is small
   and whose inner dimension, the pixels, is long -- the shape BLAS and our GEMM run worst.
   Here each pass over a row of x feeds the nine taps of three output channels at once: 27
   accumulators, 12 loads per 27 FMAs, so the loop is bound by the FMAs, not by memory.

   Each sum runs over j in 16 lanes in increasing order, then the lanes are added in a
   fixed order: dw is the same at any thread count and across runs (it differs from the
   im2col path's in the last bits). out[o * so + (c * 9 + t) * sr] receives the sums, so
   both of the kernel's partial layouts, dw (Kg, R) and dw^T (R, Kg), can be written. */
#ifndef MINIGRAD_CONV_DW_H
#define MINIGRAD_CONV_DW_H

#include "_sgemm.h"

#if MG_SGEMM_X86

/* keep v in a register: without this GCC folds each tap's load into both FMAs that use it,
   loading it twice (measured: 71 GFLOP/s against 110+) */
#define MG_IN_REGISTER(v) __asm__("" : "+v"(v))

/* The sums for output channels o .. o + rows - 1 (rows <= 3) and input channel c. */
MG_AVX512 static inline __attribute__((always_inline))
void mg_dw3x3_rows(const float *d0, const float *d1, const float *d2, const float *x,
                   const long *shift, long n, int rows, float *out, long so, long sr)
{
    const float *x0 = x + shift[0], *x1 = x + shift[1], *x2 = x + shift[2];
    const float *x3 = x + shift[3], *x4 = x + shift[4], *x5 = x + shift[5];
    const float *x6 = x + shift[6], *x7 = x + shift[7], *x8 = x + shift[8];
#define MG_ZERO3(t) __m512 a##t = _mm512_setzero_ps(), b##t = _mm512_setzero_ps(), \
        c##t = _mm512_setzero_ps();
    MG_ZERO3(0) MG_ZERO3(1) MG_ZERO3(2) MG_ZERO3(3) MG_ZERO3(4) MG_ZERO3(5) MG_ZERO3(6)
    MG_ZERO3(7) MG_ZERO3(8)
#define MG_TAP(t, LOAD) xv = LOAD(x##t + j); MG_IN_REGISTER(xv); \
    a##t = _mm512_fmadd_ps(v0, xv, a##t); b##t = _mm512_fmadd_ps(v1, xv, b##t); \
    c##t = _mm512_fmadd_ps(v2, xv, c##t);
#define MG_TAPS(LOAD) v0 = LOAD(d0 + j); v1 = LOAD(d1 + j); v2 = LOAD(d2 + j); \
    MG_TAP(0, LOAD) MG_TAP(1, LOAD) MG_TAP(2, LOAD) MG_TAP(3, LOAD) MG_TAP(4, LOAD) \
    MG_TAP(5, LOAD) MG_TAP(6, LOAD) MG_TAP(7, LOAD) MG_TAP(8, LOAD)
    __m512 v0, v1, v2, xv;
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        MG_TAPS(_mm512_loadu_ps)
    }
    if (j < n) {                               /* the last 1-15 columns, masked */
        __mmask16 m = mg_lanes((int)(n - j));
#define MG_MASKED(p) _mm512_maskz_loadu_ps(m, p)
        MG_TAPS(MG_MASKED)
#undef MG_MASKED
    }
#define MG_OUT(t) out[(c * 9 + t) * sr] += _mm512_reduce_add_ps(a##t); \
    if (rows > 1) out[so + (c * 9 + t) * sr] += _mm512_reduce_add_ps(b##t); \
    if (rows > 2) out[2 * so + (c * 9 + t) * sr] += _mm512_reduce_add_ps(c##t);
    long c = 0;   /* (out is already at channel c: MG_OUT's c * 9 is 0) */
    MG_OUT(0) MG_OUT(1) MG_OUT(2) MG_OUT(3) MG_OUT(4) MG_OUT(5) MG_OUT(6) MG_OUT(7) MG_OUT(8)
#undef MG_ZERO3
#undef MG_TAP
#undef MG_TAPS
#undef MG_OUT
}

MG_AVX512 static void mg_dw3x3_f(const float *dyp, const float *xp, long n, long Sp, long Kg,
                                 long Cg, const long *shift, float *out, long so, long sr)
{
    for (long o = 0; o < Kg; o += 3) {
        int rows = Kg - o < 3 ? (int)(Kg - o) : 3;
        const float *d0 = dyp + o * n;
        const float *d1 = rows > 1 ? d0 + n : d0, *d2 = rows > 2 ? d0 + 2 * n : d0;
        for (long c = 0; c < Cg; c++)
            mg_dw3x3_rows(d0, d1, d2, xp + c * Sp, shift, n, rows,
                          out + o * so + c * 9 * sr, so, sr);
    }
}

#else
static void mg_dw3x3_f(const float *dyp, const float *xp, long n, long Sp, long Kg, long Cg,
                       const long *shift, float *out, long so, long sr)
{
    /* never called: the caller checks mg_sgemm_ready() first */
}
#endif

#endif
