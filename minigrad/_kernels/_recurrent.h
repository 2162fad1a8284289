/* The LSTM cell's elementwise part, forward and backward, one pass over each row block.

   glibc's scalar exp and tanh made the forward slower than NumPy's SIMD ufuncs (float64:
   579 us against 200 us for a (64, 512) step), so exp here is Cephes' branch-free
   reduction and polynomial (float, 1-2 ulp) or Pade form (double, 1 ulp), which the
   compiler vectorizes; sigmoid is 1 / (1 + exp(-x)), as NumPy's rule computes it, and tanh
   is Cephes' odd polynomial (float) or rational form (double) below |x| = 0.625 and
   1 - 2 / (exp(2|x|) + 1) above. Every loop is compiled for AVX-512, AVX2+FMA and baseline
   x86-64, chosen at load time (GCC's target_clones), since the build has no -march.

   2^n is applied as two factors so that exp underflows through the subnormals to 0 and
   overflows to inf where libm's does; the clamps only keep n an int. NaN propagates: the
   clamps are comparisons, which keep a NaN. */
#ifndef MINIGRAD_RECURRENT_H
#define MINIGRAD_RECURRENT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_clones.h"
#include "_sgemm.h"

static inline float mg_pow2f(int32_t n) {
    int32_t bits = (n + 127) << 23;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static inline double mg_pow2d(int64_t n) {
    int64_t bits = (n + 1023) << 52;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static inline float mg_expf(float x) {
    x = x > 89.0f ? 89.0f : x;
    x = x < -104.0f ? -104.0f : x;
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (no rounding instruction needed) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t k = (int32_t)n, k1 = k >> 1;   /* (arithmetic shift: GCC's documented rule) */
    return p * mg_pow2f(k1) * mg_pow2f(k - k1);
}

static inline double mg_exp(double x) {
    x = x > 710.0 ? 710.0 : x;
    x = x < -746.0 ? -746.0 : x;
    double n = (x * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
    double r = x - n * 6.93145751953125e-1;
    r = r - n * 1.42860682030941723212e-6;
    double rr = r * r;
    double p = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr
                    + 9.99999999999999999910e-1);
    double q = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
                + 2.27265548208155028766e-1) * rr + 2.00000000000000000009e0;
    int64_t k = (int64_t)n, k1 = k >> 1;   /* (arithmetic shift: GCC's documented rule) */
    return (1 + 2 * (p / (q - p))) * mg_pow2d(k1) * mg_pow2d(k - k1);
}

static inline float mg_sigmoidf(float x) { return 1.0f / (1.0f + mg_expf(-x)); }

static inline double mg_sigmoid(double x) { return 1 / (1 + mg_exp(-x)); }

static inline float mg_tanhf(float x) {
    float a = fabsf(x), z = x * x;
    float big = 1.0f - 2.0f / (mg_expf(2.0f * a) + 1.0f);
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z
                    + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * a + a;
    return copysignf(a < 0.625f ? small : big, x);
}

static inline double mg_tanh(double x) {
    double a = fabs(x), z = x * x;
    double big = 1 - 2 / (mg_exp(2 * a) + 1);
    double small = a + a * z * ((-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                                - 1.61468768441708447952e3)
                   / (((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
                      + 4.84406305325125486048e3);
    return copysign(a < 0.625 ? small : big, x);
}

/* Rows [r0, r1) of an (N, 4H) ``gates`` and (N, H) ``cp`` (c_{t-1}): h, c, the activations
   act = (i, f, g, o) as (N, 4H), and tc = tanh(c). */
#define MG_LSTM_FORWARD(S, T, SIG, TANH)                                                   \
MG_CLONES                                                                                  \
static void mg_lstm_forward_##S(const T *gates, const T *cp, ptrdiff_t H, ptrdiff_t r0,    \
                                ptrdiff_t r1, T *h, T *c, T *act, T *tc) {                 \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                  \
        const T *q = gates + 4 * H * r;                                                    \
        T *a = act + 4 * H * r;                                                            \
        ptrdiff_t o = H * r;                                                               \
        _Pragma("omp simd")                                                                \
        for (ptrdiff_t j = 0; j < H; j++) {                                                \
            T i = SIG(q[j]), f = SIG(q[H + j]), g = TANH(q[2 * H + j]);                    \
            T og = SIG(q[3 * H + j]);                                                      \
            T cn = f * cp[o + j] + i * g;                                                  \
            T t = TANH(cn);                                                                \
            a[j] = i; a[H + j] = f; a[2 * H + j] = g; a[3 * H + j] = og;                   \
            c[o + j] = cn; tc[o + j] = t; h[o + j] = og * t;                               \
        }                                                                                  \
    }                                                                                      \
}
MG_LSTM_FORWARD(f, float, mg_sigmoidf, mg_tanhf)
MG_LSTM_FORWARD(d, double, mg_sigmoid, mg_tanh)

/* The backward of rows [r0, r1): dgates (N, 4H) and dcp = dc * f, from the gradients of h
   and c (either may be NULL: none arrived) and what the forward saved. The products are
   in the order of the NumPy rule (minigrad.backend.numpy_ref.lstm_gates_backward). The
   loop is written once with HAS_H / HAS_C as constants and instantiated for each case
   present: a pointer test inside it kept GCC from vectorizing it (19.5 us for a (64, 128)
   step, against 4.5 us vectorized). */
#define MG_LSTM_BACKWARD_ROWS(T, HAS_H, HAS_C)                                             \
    for (ptrdiff_t r = r0; r < r1; r++) {                                                  \
        const T *a = act + 4 * H * r;                                                      \
        T *d = dgates + 4 * H * r;                                                         \
        ptrdiff_t o = H * r;                                                               \
        _Pragma("omp simd")                                                                \
        for (ptrdiff_t j = 0; j < H; j++) {                                                \
            T i = a[j], f = a[H + j], g = a[2 * H + j], og = a[3 * H + j];                 \
            T t = tc[o + j], dh = HAS_H ? gh[o + j] : 0;                                   \
            T dc = HAS_C ? gc[o + j] : 0;                                                  \
            if (HAS_H) dc = dc + dh * og * (1 - t * t);                                    \
            d[j] = dc * g * i * (1 - i);                                                   \
            d[H + j] = dc * cp[o + j] * f * (1 - f);                                       \
            d[2 * H + j] = dc * i * (1 - g * g);                                           \
            d[3 * H + j] = HAS_H ? dh * t * og * (1 - og) : 0;   /* (0 as the rule: t NaN) */\
            dcp[o + j] = dc * f;                                                           \
        }                                                                                  \
    }
#define MG_LSTM_BACKWARD(S, T)                                                             \
MG_CLONES                                                                                  \
static void mg_lstm_backward_##S(const T *gh, const T *gc, const T *act, const T *tc,      \
                                 const T *cp, ptrdiff_t H, ptrdiff_t r0, ptrdiff_t r1,     \
                                 T *dgates, T *dcp) {                                      \
    if (gh && gc) {                                                                        \
        MG_LSTM_BACKWARD_ROWS(T, 1, 1)                                                     \
    } else if (gh) {                                                                       \
        MG_LSTM_BACKWARD_ROWS(T, 1, 0)                                                     \
    } else if (gc) {                                                                       \
        MG_LSTM_BACKWARD_ROWS(T, 0, 1)                                                     \
    } else {                                                                               \
        MG_LSTM_BACKWARD_ROWS(T, 0, 0)                                                     \
    }                                                                                      \
}
MG_LSTM_BACKWARD(f, float)
MG_LSTM_BACKWARD(d, double)

/* A whole float32 LSTM layer, for rows [r0, r1) of the batch: every step's recurrent GEMM
   (``mg_sgemm``) and cell, one thread from the first step to the last. Rows of a batch
   never meet in an LSTM, so a thread that owns a block of rows needs nothing from the
   others: one parallel region per layer instead of two per step, and each thread's h, c
   and pre-activations stay in its own core's cache (split by steps, a (64, 512) step lost
   about 20 us to the other core's cache lines: 101 us for GEMM + cell against 76 apart).
   The products are those of the step loop (``numpy_ref.lstm_layer_forward``) bit for bit:
   mg_sgemm sums k in order whatever rows it is given, and the cell is elementwise.

   gi (T, B, 4H): the input projection; wt (H, 4H): W_hh^T, row-major; pre: (B, 4H)
   scratch; hs, cs, tcs (T, B, H) and acts (T, B, 4H): every step's h, c, tanh(c) and
   activations. Returns -1 when mg_sgemm cannot run (no scratch memory), else 0. */
static int mg_lstm_layer_forward_f(const float *gi, const float *h0, const float *c0,
                                   const float *wt, ptrdiff_t T, ptrdiff_t B, ptrdiff_t H,
                                   int reverse, ptrdiff_t r0, ptrdiff_t r1, float *pre,
                                   float *hs, float *cs, float *acts, float *tcs) {
    ptrdiff_t m = r1 - r0, G = 4 * H;
    const float *hp = h0 + H * r0, *cp = c0 + H * r0;
    float *q = pre + G * r0;
    for (ptrdiff_t s = 0; s < T; s++) {
        ptrdiff_t t = reverse ? T - 1 - s : s, o = (t * B + r0) * H;
        if (mg_sgemm((int)m, (int)G, (int)H, hp, H, 1, wt, G, 1, q, G, 0) != 0)
            return -1;
        const float *g = gi + (t * B + r0) * G;
        for (ptrdiff_t k = 0; k < m * G; k++)    /* h W^T, then + gi[t], as the loop */
            q[k] += g[k];
        mg_lstm_forward_f(q, cp, H, 0, m, hs + o, cs + o, acts + (t * B + r0) * G, tcs + o);
        hp = hs + o;
        cp = cs + o;
    }
    return 0;
}

/* The backward's product dgates[t] W_hh has K = 4H and each thread's few rows: reading
   W_hh in place rather than packing it at every step measured faster up to K = 1024 (28
   steps of (64, 128): 1.51 -> 1.32 ms; H = 256: 3.04 -> 2.87 ms) and slower at 2048
   (H = 512: 12.4 -> 13.3 ms). */
enum { MG_LSTM_DIRECT_K = 1024 };

/* Its backward for rows [r0, r1): dgates (T, B, 4H) of every step, and dh, dc (B, H) the
   gradients of h0 and c0, from the gradients of hs (T, B, H), h_T and c_T (each may be
   NULL: none arrived) and what the forward saved; w: W_hh (4H, H), row-major; dc2: (B, H)
   scratch. As the step loop (``numpy_ref.lstm_layer_backward``): at each step, backwards,
   dh += the gradient of hs[t], the cell's backward, then dh = dgates[t] W_hh. */
static int mg_lstm_layer_backward_f(const float *g_hs, const float *g_h, const float *g_c,
                                    const float *acts, const float *tcs, const float *cs,
                                    const float *c0, const float *w, ptrdiff_t T, ptrdiff_t B,
                                    ptrdiff_t H, int reverse, ptrdiff_t r0, ptrdiff_t r1,
                                    float *dgates, float *dh, float *dc, float *dc2) {
    ptrdiff_t m = r1 - r0, G = 4 * H, n = m * H;
    float *dhr = dh + H * r0, *dcr = dc + H * r0, *dcn = dc2 + H * r0, *swap;
    int have_h = g_h != NULL, have_c = g_c != NULL;
    if (have_h)
        memcpy(dhr, g_h + H * r0, n * sizeof(float));
    if (have_c)
        memcpy(dcr, g_c + H * r0, n * sizeof(float));
    for (ptrdiff_t s = 0; s < T; s++) {
        ptrdiff_t t = reverse ? s : T - 1 - s, o = (t * B + r0) * H;
        ptrdiff_t before = reverse ? t + 1 : t - 1;   /* the step the forward ran before t */
        if (g_hs != NULL) {
            const float *x = g_hs + o;
            if (have_h)
                for (ptrdiff_t k = 0; k < n; k++)
                    dhr[k] = dhr[k] + x[k];
            else
                memcpy(dhr, x, n * sizeof(float));
            have_h = 1;
        }
        const float *cp = before < 0 || before >= T ? c0 + H * r0 : cs + (before * B + r0) * H;
        float *dg = dgates + (t * B + r0) * G;
        mg_lstm_backward_f(have_h ? dhr : NULL, have_c ? dcr : NULL, acts + (t * B + r0) * G,
                           tcs + o, cp, H, 0, m, dg, dcn);
        swap = dcr; dcr = dcn; dcn = swap;
        have_c = 1;
        if (mg_sgemm_k((int)m, (int)H, (int)G, dg, G, 1, w, H, 1, dhr, H, 0, MG_LSTM_DIRECT_K))
            return -1;
        have_h = 1;
    }
    if (dcr != dc + H * r0)
        memcpy(dc + H * r0, dcr, n * sizeof(float));
    return 0;
}

#endif
