/* 3 x 3 stride-1 float32 convolution by Winograd's minimal filtering, F(4 x 4, 3 x 3)
   (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016).

   The output is cut into 4 x 4 tiles; tile t of image n reads the 6 x 6 input patch d at
   (4 ti - ph, 4 tj - pw) (zeros outside the image), and for every pair of channels

       y_tile = A^T [ sum over input channels c of  U_c (.) V_c ] A,
       U_c = G g_c G^T  (g_c the 3 x 3 filter),   V_c = B^T d_c B,

   (.) the elementwise product of 6 x 6 matrices. For each of the 36 positions xi of the
   6 x 6 the sum over c is a matrix product: with V[xi] (tiles x C) and U[xi] (C x K),

       M[xi] = V[xi] U[xi]           (tiles x K), on _sgemm.h's mg_sgemm,

   36 products of C K multiply-adds per tile against 9 C K per output pixel, 16 to a tile:
   a quarter of the direct method's multiplications. The transforms are adds and small
   multiples, run 16 channels at a time in AVX-512 lanes, so tiles keep their channels
   contiguous: each image is first copied into a zero-margined (rows, columns, channels)
   buffer. The filter transform runs once per call in double.

   Rounding: the transforms scale values by up to 100 (B^T's 4, 5 and A^T's 8 on both
   axes), so the float32 result carries more rounding error than a direct sum (RMS about
   ten times); tests/test_kernels.py holds every output within the algorithm's own
   first-order bound against float64. Each output's bits depend on the data and C only:
   the GEMM's order is fixed by its K (= C), and a tile is computed alone, whatever group,
   band or thread it falls in.

   dx of the same convolution is one too: the convolution of dy, padded by 2 - p, with
   each filter turned by 180 degrees and the channel roles swapped (mg_wino_filter's
   ``for_dx``). dw runs the algorithm backwards: with P = A dY A^T per tile of dy (the
   4 x 4 outputs' gradient),

       dw = G^T [ sum over tiles of P_k (.) V_c ] G,

   the 36 sums again products, S[xi] (K x C) += P[xi]^T V[xi], accumulated group by group
   (so dw's bits follow the group size, which the shapes fix, never the threads).

   Requires AVX-512F and channel counts that are multiples of 16; the caller checks
   (mg_sgemm_ready, cpu.py's _winograd_fits). */
#ifndef MINIGRAD_WINOGRAD_H
#define MINIGRAD_WINOGRAD_H

#include <string.h>
#include "_sgemm.h"

enum { MG_WINO_LANES = 16 };   /* channels to a vector; the 6 x 6 has 36 positions (xi) */

/* Floats from one of V's (or M's) 36 planes to the next: T rows of n channels and a
   cache line more, so that the 36 planes a tile writes do not share one cache set (at
   T n a multiple of 1024 they did, and the input transform ran 2.5 times slower). */
static inline long mg_wino_plane(long T, long n) { return T * n + 16; }

/* Tiles down (or across) an output of n_out rows (columns). */
static inline long mg_wino_tiles(long n_out) { return (n_out + 3) / 4; }

/* Floats of a thread's scratch for bands of ``rows`` tile rows: the input rows they read
   (zero-margined, channels last) for Cin channels, dy's rows for dw's Cout, or one tile
   row's outputs. */
static inline size_t mg_wino_band_len(long rows, long Cin, long Cout, long Wo)
{
    long tw = mg_wino_tiles(Wo);
    size_t in = (size_t)(4 * rows + 2) * (4 * tw + 2) * Cin, dy = (size_t)16 * rows * tw * Cout;
    size_t out = (size_t)16 * tw * 16;
    return in > dy ? (in > out ? in : out) : (dy > out ? dy : out);
}

#if MG_SGEMM_X86

/* U[xi][ci][co] = (G g G^T)[xi] for input channels ci in [ci0, ci1) and every output
   channel co, in double, rounded once. w is (K, C, 3, 3). Forward: ci over C, co over K,
   g = w[co][ci]. dx (for_dx): ci over K, co over C, g = w[ci][co] turned by 180 degrees.
   Runs 16 output channels at a time so that each of U's rows is written in order. */
MG_AVX512 static void mg_wino_filter(const float *w, long K, long C, int for_dx, long ci0,
                                     long ci1, float *U)
{
    static const double G[6][3] = {{1.0 / 4, 0, 0}, {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    long cin = for_dx ? K : C, cout = for_dx ? C : K;
    for (long ci = ci0; ci < ci1; ci++)
        for (long c0 = 0; c0 < cout; c0 += 16) {
            int nc = cout - c0 < 16 ? (int)(cout - c0) : 16;
            double g[3][3][16], t[6][3][16];
            for (int l = 0; l < nc; l++) {
                long co = c0 + l;
                const float *f = for_dx ? w + (ci * C + co) * 9 : w + (co * C + ci) * 9;
                for (int i = 0; i < 3; i++)
                    for (int j = 0; j < 3; j++)
                        g[i][j][l] = for_dx ? f[(2 - i) * 3 + (2 - j)] : f[i * 3 + j];
            }
            for (int r = 0; r < 6; r++)            /* t = G g */
                for (int j = 0; j < 3; j++)
                    for (int l = 0; l < 16; l++)
                        t[r][j][l] = G[r][0] * g[0][j][l] + G[r][1] * g[1][j][l]
                                     + G[r][2] * g[2][j][l];
            for (int r = 0; r < 6; r++)            /* (t G^T)[r][q] */
                for (int q = 0; q < 6; q++) {
                    float *u = U + ((long)(r * 6 + q) * cin + ci) * cout + c0;
                    for (int l = 0; l < nc; l++)
                        u[l] = (float)(t[r][0][l] * G[q][0] + t[r][1][l] * G[q][1]
                                       + t[r][2][l] * G[q][2]);
                }
        }
}

/* The 1-D transforms, 16 channels a lane each: B^T z (6 -> 6) and A^T z (6 -> 4). */
#define MG_FMA _mm512_fmadd_ps
#define MG_SET1 _mm512_set1_ps
MG_AVX512 static inline __attribute__((always_inline))
void mg_wino_bt(__m512 z0, __m512 z1, __m512 z2, __m512 z3, __m512 z4, __m512 z5, __m512 *t)
{
    t[0] = MG_FMA(MG_SET1(4.0f), z0, MG_FMA(MG_SET1(-5.0f), z2, z4));
    t[1] = MG_FMA(MG_SET1(-4.0f), _mm512_add_ps(z1, z2), _mm512_add_ps(z3, z4));
    t[2] = MG_FMA(MG_SET1(4.0f), _mm512_sub_ps(z1, z2), _mm512_sub_ps(z4, z3));
    t[3] = MG_FMA(MG_SET1(2.0f), _mm512_sub_ps(z3, z1), _mm512_sub_ps(z4, z2));
    t[4] = MG_FMA(MG_SET1(2.0f), _mm512_sub_ps(z1, z3), _mm512_sub_ps(z4, z2));
    t[5] = MG_FMA(MG_SET1(4.0f), z1, MG_FMA(MG_SET1(-5.0f), z3, z5));
}

MG_AVX512 static inline __attribute__((always_inline))
void mg_wino_at(__m512 z0, __m512 z1, __m512 z2, __m512 z3, __m512 z4, __m512 z5, __m512 *t)
{
    __m512 a = _mm512_add_ps(z1, z2), b = _mm512_sub_ps(z1, z2);
    __m512 c = _mm512_add_ps(z3, z4), d = _mm512_sub_ps(z3, z4);
    t[0] = _mm512_add_ps(_mm512_add_ps(z0, a), c);
    t[1] = MG_FMA(MG_SET1(2.0f), d, b);
    t[2] = MG_FMA(MG_SET1(4.0f), c, a);
    t[3] = _mm512_add_ps(MG_FMA(MG_SET1(8.0f), d, b), z5);
}

/* For dw: A z (4 -> 6) and G^T z (6 -> 3). */
MG_AVX512 static inline __attribute__((always_inline))
void mg_wino_a(__m512 z0, __m512 z1, __m512 z2, __m512 z3, __m512 *t)
{
    __m512 e = _mm512_add_ps(z0, z2), o = _mm512_add_ps(z1, z3);
    __m512 e4 = MG_FMA(MG_SET1(4.0f), z2, z0), o2 = MG_FMA(MG_SET1(8.0f), z3, _mm512_add_ps(z1, z1));
    t[0] = z0;
    t[1] = _mm512_add_ps(e, o);
    t[2] = _mm512_sub_ps(e, o);
    t[3] = _mm512_add_ps(e4, o2);
    t[4] = _mm512_sub_ps(e4, o2);
    t[5] = z3;
}

MG_AVX512 static inline __attribute__((always_inline))
void mg_wino_gt(__m512 z0, __m512 z1, __m512 z2, __m512 z3, __m512 z4, __m512 z5, __m512 *t)
{
    __m512 a = _mm512_add_ps(z1, z2), b = _mm512_sub_ps(z2, z1);
    __m512 c = _mm512_add_ps(z3, z4), d = _mm512_sub_ps(z3, z4);
    t[0] = MG_FMA(MG_SET1(1.0f / 24), c, MG_FMA(MG_SET1(-1.0f / 6), a, _mm512_mul_ps(MG_SET1(0.25f), z0)));
    t[1] = MG_FMA(MG_SET1(1.0f / 12), d, _mm512_mul_ps(MG_SET1(1.0f / 6), b));
    t[2] = MG_FMA(MG_SET1(1.0f / 6), _mm512_sub_ps(c, a), z5);
}

/* A group's three phases. Tile t of a group is image t / (th tw), tile row t % (th tw) / tw,
   tile column t % tw; V is [xi][t][c] and M [xi][t][k], for the group's T tiles.

   Input: tile rows [ti0, ti1) of image ``n`` of the group (at x, Cin planes of H x W) into
   V, through ``xt`` (mg_wino_band_len floats): the rows those tiles read, zero-margined
   and channels last. */
MG_AVX512 static void mg_wino_input(const float *x, long Cin, long H, long W, long ph,
                                    long pw, long th, long tw, long n, long ti0, long ti1,
                                    long T, float *xt, float *V)
{
    long Wp = 4 * tw + 2, rs = Wp * Cin, r0 = 4 * ti0 - ph;   /* r0: xt's first row in x */
    long wmax = W < Wp - pw ? W : Wp - pw;
    for (long r = 0; r < 4 * (ti1 - ti0) + 2; r++) {
        long h = r0 + r;
        float *row = xt + r * rs;
        if (h < 0 || h >= H) {                 /* a padding row */
            memset(row, 0, (size_t)rs * sizeof(float));
            continue;
        }
        memset(row, 0, (size_t)pw * Cin * sizeof(float));
        memset(row + (pw + wmax) * Cin, 0, (size_t)(Wp - pw - wmax) * Cin * sizeof(float));
        /* 16 x 16 blocks of (channels, columns), transposed in registers */
        for (long c = 0; c < Cin; c += MG_WINO_LANES)
            for (long j0 = 0; j0 < wmax; j0 += 16) {
                __m512 col[16];
                int cols = wmax - j0 < 16 ? (int)(wmax - j0) : 16;
                mg_transpose16(x + (c * H + h) * W + j0, H * W, 16, cols, col);
                float *dst = row + (pw + j0) * Cin + c;
                for (int j = 0; j < cols; j++)
                    _mm512_storeu_ps(dst + j * Cin, col[j]);
            }
    }
    for (long tile = ti0 * tw; tile < ti1 * tw; tile++) {
        long t = n * th * tw + tile, ti = tile / tw, tj = tile % tw;
        const float *p0 = xt + ((4 * (ti - ti0)) * Wp + 4 * tj) * Cin;
        for (long c = 0; c < Cin; c += MG_WINO_LANES) {
            __m512 s[6][6], col[6];
            for (int q = 0; q < 6; q++) {          /* columns: (B^T d)[r][q] */
                const float *p = p0 + q * Cin + c;
                mg_wino_bt(_mm512_loadu_ps(p), _mm512_loadu_ps(p + rs),
                           _mm512_loadu_ps(p + 2 * rs), _mm512_loadu_ps(p + 3 * rs),
                           _mm512_loadu_ps(p + 4 * rs), _mm512_loadu_ps(p + 5 * rs), col);
                for (int r = 0; r < 6; r++)
                    s[r][q] = col[r];
            }
            for (int r = 0; r < 6; r++) {          /* rows: (B^T d B)[r][q] */
                mg_wino_bt(s[r][0], s[r][1], s[r][2], s[r][3], s[r][4], s[r][5], col);
                for (int q = 0; q < 6; q++)
                    _mm512_storeu_ps(V + (r * 6 + q) * mg_wino_plane(T, Cin) + t * Cin + c, col[q]);
            }
        }
    }
}

/* Products: M[xi] = V[xi] U[xi]. Returns -1 where mg_sgemm cannot run. */
static inline int mg_wino_product(int xi, long T, long Cin, long Cout, const float *V,
                                  const float *U, float *M)
{
    return mg_sgemm((int)T, (int)Cout, (int)Cin, V + xi * mg_wino_plane(T, Cin), Cin, 1,
                    U + (long)xi * Cin * Cout, Cout, 1, M + xi * mg_wino_plane(T, Cout), Cout,
                    0);
}

/* Output: tile rows [u0, u1) of the group (row u: image u / th, tile row u % th), A^T M A,
   16 output channels at a time. A tile row's outputs gather channels-last in ``buf``
   (4 (4 tw) 16 floats) and go to y (the group's first image, Cout planes of Ho x Wo) a
   channel row at a time, through 16 x 16 transposes: a scatter across 16 planes of 4 KB
   (32 x 32) each hit one cache set and ran at a quarter of this speed. */
MG_AVX512 static void mg_wino_output(const float *M, long T, long Cout, float *y, long Ho,
                                     long Wo, long th, long tw, long u0, long u1, float *buf)
{
    long plane = Ho * Wo, xs = mg_wino_plane(T, Cout), Wt = 4 * tw;
    for (long u = u0; u < u1; u++) {
        long n = u / th, ti = u % th, rows = Ho - 4 * ti < 4 ? Ho - 4 * ti : 4;
        for (long k = 0; k < Cout; k += MG_WINO_LANES) {
            for (long tj = 0; tj < tw; tj++) {
                __m512 s[4][6], out[4];
                const float *m = M + (u * tw + tj) * Cout + k;
                for (int q = 0; q < 6; q++) {      /* columns: (A^T M)[a][q] */
                    mg_wino_at(_mm512_loadu_ps(m + q * xs), _mm512_loadu_ps(m + (6 + q) * xs),
                               _mm512_loadu_ps(m + (12 + q) * xs),
                               _mm512_loadu_ps(m + (18 + q) * xs),
                               _mm512_loadu_ps(m + (24 + q) * xs),
                               _mm512_loadu_ps(m + (30 + q) * xs), out);
                    for (int a = 0; a < 4; a++)
                        s[a][q] = out[a];
                }
                for (int a = 0; a < rows; a++) {   /* rows: (A^T M A)[a][b] */
                    mg_wino_at(s[a][0], s[a][1], s[a][2], s[a][3], s[a][4], s[a][5], out);
                    for (int b = 0; b < 4; b++)
                        _mm512_storeu_ps(buf + ((a * Wt) + 4 * tj + b) * MG_WINO_LANES, out[b]);
                }
            }
            for (int a = 0; a < rows; a++)         /* (widths, channels) blocks transposed */
                for (long j0 = 0; j0 < Wo; j0 += 16) {
                    __m512 row[16];
                    int cols = Wo - j0 < 16 ? (int)(Wo - j0) : 16;
                    mg_transpose16(buf + (a * Wt + j0) * MG_WINO_LANES, MG_WINO_LANES, cols, 16,
                                   row);
                    float *dst = y + (n * Cout + k) * plane + (4 * ti + a) * Wo + j0;
                    for (int l = 0; l < MG_WINO_LANES; l++)
                        _mm512_mask_storeu_ps(dst + l * plane, mg_lanes(cols), row[l]);
                }
        }
    }
}
/* dw's phases. dy's tiles: tile rows [ti0, ti1) of image n of the group (at dy, K planes
   of Ho x Wo) into P[xi][t][k] = (A dY A^T)[xi], through ``buf`` (mg_wino_band_len
   floats): their rows, channels last, zeros past the edges (the forward dropped those
   outputs). */
MG_AVX512 static void mg_wino_dy(const float *dy, long K, long Ho, long Wo, long th, long tw,
                                 long n, long ti0, long ti1, long T, float *buf, float *P)
{
    long Wq = 4 * tw, rs = Wq * K;
    for (long r = 0; r < 4 * (ti1 - ti0); r++) {
        long h = 4 * ti0 + r;
        float *row = buf + r * rs;
        if (h >= Ho) {
            memset(row, 0, (size_t)rs * sizeof(float));
            continue;
        }
        memset(row + Wo * K, 0, (size_t)(Wq - Wo) * K * sizeof(float));
        for (long k = 0; k < K; k += MG_WINO_LANES)
            for (long j0 = 0; j0 < Wo; j0 += 16) {
                __m512 col[16];
                int cols = Wo - j0 < 16 ? (int)(Wo - j0) : 16;
                mg_transpose16(dy + (k * Ho + h) * Wo + j0, Ho * Wo, 16, cols, col);
                for (int j = 0; j < cols; j++)
                    _mm512_storeu_ps(row + (j0 + j) * K + k, col[j]);
            }
    }
    for (long tile = ti0 * tw; tile < ti1 * tw; tile++) {
        long t = n * th * tw + tile, ti = tile / tw, tj = tile % tw;
        const float *p0 = buf + (4 * (ti - ti0)) * rs + 4 * tj * K;
        for (long k = 0; k < K; k += MG_WINO_LANES) {
            __m512 s[6][4], col[6];
            for (int q = 0; q < 4; q++) {          /* columns: (A dY)[i][q] */
                const float *p = p0 + q * K + k;
                mg_wino_a(_mm512_loadu_ps(p), _mm512_loadu_ps(p + rs),
                          _mm512_loadu_ps(p + 2 * rs), _mm512_loadu_ps(p + 3 * rs), col);
                for (int i = 0; i < 6; i++)
                    s[i][q] = col[i];
            }
            for (int i = 0; i < 6; i++) {          /* rows: (A dY A^T)[i][j] */
                mg_wino_a(s[i][0], s[i][1], s[i][2], s[i][3], col);
                for (int j = 0; j < 6; j++)
                    _mm512_storeu_ps(P + (i * 6 + j) * mg_wino_plane(T, K) + t * K + k, col[j]);
            }
        }
    }
}

/* S[xi] (K x C) (+)= P[xi]^T V[xi]: the sum over the group's tiles. */
static inline int mg_wino_dw_product(int xi, long T, long K, long C, const float *P,
                                     const float *V, float *S, int accumulate)
{
    return mg_sgemm((int)K, (int)C, (int)T, P + xi * mg_wino_plane(T, K), 1, K,
                    V + xi * mg_wino_plane(T, C), C, 1, S + (long)xi * K * C, C, accumulate);
}

/* dw[k][c] = (G^T S G) for output channels k in [k0, k1), 16 input channels at a time. */
MG_AVX512 static void mg_wino_dw_out(const float *S, long K, long C, long k0, long k1,
                                     float *dw)
{
    long xs = K * C;
    for (long k = k0; k < k1; k++)
        for (long c = 0; c < C; c += MG_WINO_LANES) {
            __m512 r[3][6], out[3];
            float tmp[9][MG_WINO_LANES];
            const float *m = S + k * C + c;
            for (int j = 0; j < 6; j++) {          /* columns: (G^T S)[p][j] */
                mg_wino_gt(_mm512_loadu_ps(m + j * xs), _mm512_loadu_ps(m + (6 + j) * xs),
                           _mm512_loadu_ps(m + (12 + j) * xs), _mm512_loadu_ps(m + (18 + j) * xs),
                           _mm512_loadu_ps(m + (24 + j) * xs), _mm512_loadu_ps(m + (30 + j) * xs),
                           out);
                for (int p = 0; p < 3; p++)
                    r[p][j] = out[p];
            }
            for (int p = 0; p < 3; p++) {          /* rows: (G^T S G)[p][q] */
                mg_wino_gt(r[p][0], r[p][1], r[p][2], r[p][3], r[p][4], r[p][5], out);
                for (int q = 0; q < 3; q++)
                    _mm512_storeu_ps(tmp[p * 3 + q], out[q]);
            }
            for (int l = 0; l < MG_WINO_LANES; l++)
                for (int e = 0; e < 9; e++)
                    dw[(k * C + c + l) * 9 + e] = tmp[e][l];
        }
}
#undef MG_FMA
#undef MG_SET1

#else   /* no AVX-512 build: the caller never gets here (mg_sgemm_ready() is 0) */
static void mg_wino_filter(const float *w, long K, long C, int for_dx, long ci0, long ci1,
                           float *U) {}
static void mg_wino_input(const float *x, long Cin, long H, long W, long ph, long pw,
                          long th, long tw, long n, long ti0, long ti1, long T, float *xt,
                          float *V) {}
static inline int mg_wino_product(int xi, long T, long Cin, long Cout, const float *V,
                                  const float *U, float *M) { return -1; }
static void mg_wino_output(const float *M, long T, long Cout, float *y, long Ho, long Wo,
                           long th, long tw, long u0, long u1, float *buf) {}
static void mg_wino_dy(const float *dy, long K, long Ho, long Wo, long th, long tw, long n,
                       long ti0, long ti1, long T, float *buf, float *P) {}
static inline int mg_wino_dw_product(int xi, long T, long K, long C, const float *P,
                                     const float *V, float *S, int accumulate) { return -1; }
static void mg_wino_dw_out(const float *S, long K, long C, long k0, long k1, float *dw) {}
#endif

#endif
