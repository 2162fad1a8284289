/* Our own float32 GEMM for CPUs with AVX-512: row-major C (M x N) = A (M x K) B (K x N),
   or C += A B.

   Why: the BLAS SciPy ships (OpenBLAS, SkylakeX kernels) runs the products our layers make
   -- 64 to 1000 rows and columns, K of 28 to 1152, one thread each -- at 80-105 GFLOP/s on
   these 2-core Xeons, half of one core's AVX-512 peak (208 GFLOP/s measured with 24
   independent FMA chains); PyTorch's MKL reaches 120-130 on the same shapes. This is the
   textbook blocked GEMM (Goto & van de Geijn, "Anatomy of high-performance matrix
   multiplication", 2008): B is packed into panels of NR = 32 columns by at most KC rows,
   A into panels of MR = 12 rows, and a 12 x 32 register tile (24 zmm accumulators,
   two B vectors, one broadcast A value per FMA pair) runs over the shared K.

   Packing reads either layout: a row- or column-major operand goes through 16 x 16
   in-register transposes when its contiguous axis is not the one the panel wants, so a
   transposed view (W^T of a Linear layer, col^T of a convolution's dW) costs no copy.

   Each output value is the sum over k in increasing order, in blocks of KC, with one FMA
   per term: its bits depend on K and the data only, never on how a caller tiles M or N
   across threads. They differ from BLAS's in the last bits (float32 rounding; the tests
   compare both with float64 references).

   ``mg_sgemm`` returns -1 (and computes nothing) when the CPU lacks AVX-512F, the compiler
   is not GCC or Clang on x86-64, or scratch memory cannot be had: callers then use BLAS. */
#ifndef MINIGRAD_SGEMM_H
#define MINIGRAD_SGEMM_H

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MG_SGEMM_X86 1
#include <immintrin.h>
#else
#define MG_SGEMM_X86 0
#endif

/* Block sizes: a packed B panel (KC x 32, 32 KB) stays in L1 while the A panels of an MC
   block (144 KB) stream from L2. KC 192-512, MC 48-192 and NC 1024-4096 measured within
   5 % of each other on the shapes above; these were among the best. */
enum { MG_MR = 12, MG_NR = 32, MG_KC = 256, MG_MC = 144, MG_NC = 1024 };

#if MG_SGEMM_X86
#define MG_AVX512 __attribute__((target("avx512f")))

/* 1 when the CPU runs AVX-512F (checked once per module). */
static int mg_sgemm_ready(void)
{
    static int ready = -1;
    if (ready < 0)
        ready = __builtin_cpu_supports("avx512f") ? 1 : 0;
    return ready;
}

/* 1 when the kernels should use mg_sgemm: AVX-512F is there and the environment variable
   MINIGRAD_SGEMM is not "blas" (a switch for measuring one against the other). */
static int mg_sgemm_enabled(void)
{
    static int enabled = -1;
    if (enabled < 0) {
        const char *v = getenv("MINIGRAD_SGEMM");
        enabled = mg_sgemm_ready() && !(v != NULL && strcmp(v, "blas") == 0);
    }
    return enabled;
}

/* The first n of 16 lanes (n clamped to 0..16). */
static inline __mmask16 mg_lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* C[0:m, 0:n] (row stride ldc) = (or +=) the 12 x 32 tile of Ap (kc x 12) times Bp (kc x 32).
   Rows past m and columns past n of the tile are computed on zero padding and dropped.
   (The accumulators are named variables, not an array, so none lives on the stack.) */
MG_AVX512 static inline __attribute__((always_inline))
void mg_tile_12x32_any(int kc, const float *restrict Ap, const float *restrict Bp, long ldbp,
                       int masked, float *C, long ldc, int m, int n, int accumulate)
{
#define MG_ZERO2(r) __m512 r##a = _mm512_setzero_ps(), r##b = _mm512_setzero_ps();
    MG_ZERO2(c0) MG_ZERO2(c1) MG_ZERO2(c2) MG_ZERO2(c3) MG_ZERO2(c4) MG_ZERO2(c5)
    MG_ZERO2(c6) MG_ZERO2(c7) MG_ZERO2(c8) MG_ZERO2(c9) MG_ZERO2(c10) MG_ZERO2(c11)
    if (accumulate)   /* (C's tile is read at the end: start fetching it now) */
        for (int i = 0; i < m; i++) {
            _mm_prefetch((const char *)(C + i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(C + i * ldc + 16), _MM_HINT_T0);
        }
    __mmask16 m0 = mg_lanes(n), m1 = mg_lanes(n - 16);
    for (int k = 0; k < kc; k++, Ap += MG_MR, Bp += ldbp) {
        __m512 b0 = masked ? _mm512_maskz_loadu_ps(m0, Bp) : _mm512_loadu_ps(Bp);
        __m512 b1 = masked ? _mm512_maskz_loadu_ps(m1, Bp + 16) : _mm512_loadu_ps(Bp + 16);
        __m512 a;
#define MG_FMA2(i, r) a = _mm512_set1_ps(Ap[i]); r##a = _mm512_fmadd_ps(a, b0, r##a); \
        r##b = _mm512_fmadd_ps(a, b1, r##b);
        MG_FMA2(0, c0) MG_FMA2(1, c1) MG_FMA2(2, c2) MG_FMA2(3, c3) MG_FMA2(4, c4)
        MG_FMA2(5, c5) MG_FMA2(6, c6) MG_FMA2(7, c7) MG_FMA2(8, c8) MG_FMA2(9, c9)
        MG_FMA2(10, c10) MG_FMA2(11, c11)
    }
#define MG_STORE2(i, r) if (i < m) { \
        float *row = C + i * ldc; \
        if (accumulate) { \
            r##a = _mm512_add_ps(r##a, _mm512_maskz_loadu_ps(m0, row)); \
            r##b = _mm512_add_ps(r##b, _mm512_maskz_loadu_ps(m1, row + 16)); \
        } \
        _mm512_mask_storeu_ps(row, m0, r##a); \
        _mm512_mask_storeu_ps(row + 16, m1, r##b); \
    }
    MG_STORE2(0, c0) MG_STORE2(1, c1) MG_STORE2(2, c2) MG_STORE2(3, c3) MG_STORE2(4, c4)
    MG_STORE2(5, c5) MG_STORE2(6, c6) MG_STORE2(7, c7) MG_STORE2(8, c8) MG_STORE2(9, c9)
    MG_STORE2(10, c10) MG_STORE2(11, c11)
#undef MG_ZERO2
#undef MG_FMA2
#undef MG_STORE2
}

/* The tile on a packed B panel (kc x 32, aligned). */
MG_AVX512 static void mg_tile_12x32(int kc, const float *restrict Ap, const float *restrict Bp,
                                    float *C, long ldc, int m, int n, int accumulate)
{
    mg_tile_12x32_any(kc, Ap, Bp, MG_NR, 0, C, ldc, m, n, accumulate);
}

/* The tile reading B in place: row k of its n (<= 32) columns at B + k * ldb. */
MG_AVX512 static void mg_tile_12x32_direct(int kc, const float *restrict Ap,
                                           const float *restrict B, long ldb, float *C,
                                           long ldc, int m, int n, int accumulate)
{
    if (n == MG_NR)
        mg_tile_12x32_any(kc, Ap, B, ldb, 0, C, ldc, m, n, accumulate);
    else
        mg_tile_12x32_any(kc, Ap, B, ldb, 1, C, ldc, m, n, accumulate);
}

/* The same for an 8 x 48 tile (24 accumulators again, three B vectors, eight broadcasts
   per k), for mg_sgemm_taps: for M a multiple of 8 but not of 12 (16, 32, 64 channels) it
   wastes no rows, where 12-row tiles compute 16 rows as 24, and there it ran 10-20 % faster
   than 12 x 32 even at 128 rows (mg_sgemm keeps 12 x 32: with packed 48-wide B panels it
   was slower). Each output is the same sum, term by term: the bits do not depend on the
   tile. */
MG_AVX512 static inline __attribute__((always_inline))
void mg_tile_8x48_any(int kc, const float *restrict Ap, const float *restrict Bp, long ldbp,
                      int masked, float *C, long ldc, int m, int n, int accumulate)
{
#define MG_ZERO3(r) __m512 r##a = _mm512_setzero_ps(), r##b = _mm512_setzero_ps(), \
        r##c = _mm512_setzero_ps();
    MG_ZERO3(c0) MG_ZERO3(c1) MG_ZERO3(c2) MG_ZERO3(c3)
    MG_ZERO3(c4) MG_ZERO3(c5) MG_ZERO3(c6) MG_ZERO3(c7)
    if (accumulate)
        for (int i = 0; i < m; i++)
            for (int h = 0; h < 3; h++)
                _mm_prefetch((const char *)(C + i * ldc + 16 * h), _MM_HINT_T0);
    __mmask16 m0 = mg_lanes(n), m1 = mg_lanes(n - 16), m2 = mg_lanes(n - 32);
    for (int k = 0; k < kc; k++, Ap += 8, Bp += ldbp) {
        __m512 b0 = masked ? _mm512_maskz_loadu_ps(m0, Bp) : _mm512_loadu_ps(Bp);
        __m512 b1 = masked ? _mm512_maskz_loadu_ps(m1, Bp + 16) : _mm512_loadu_ps(Bp + 16);
        __m512 b2 = masked ? _mm512_maskz_loadu_ps(m2, Bp + 32) : _mm512_loadu_ps(Bp + 32);
        __m512 a;
#define MG_FMA3(i, r) a = _mm512_set1_ps(Ap[i]); r##a = _mm512_fmadd_ps(a, b0, r##a); \
        r##b = _mm512_fmadd_ps(a, b1, r##b); r##c = _mm512_fmadd_ps(a, b2, r##c);
        MG_FMA3(0, c0) MG_FMA3(1, c1) MG_FMA3(2, c2) MG_FMA3(3, c3)
        MG_FMA3(4, c4) MG_FMA3(5, c5) MG_FMA3(6, c6) MG_FMA3(7, c7)
    }
#define MG_STORE3(i, r) if (i < m) { \
        float *row = C + i * ldc; \
        if (accumulate) { \
            r##a = _mm512_add_ps(r##a, _mm512_maskz_loadu_ps(m0, row)); \
            r##b = _mm512_add_ps(r##b, _mm512_maskz_loadu_ps(m1, row + 16)); \
            r##c = _mm512_add_ps(r##c, _mm512_maskz_loadu_ps(m2, row + 32)); \
        } \
        _mm512_mask_storeu_ps(row, m0, r##a); \
        _mm512_mask_storeu_ps(row + 16, m1, r##b); \
        _mm512_mask_storeu_ps(row + 32, m2, r##c); \
    }
    MG_STORE3(0, c0) MG_STORE3(1, c1) MG_STORE3(2, c2) MG_STORE3(3, c3)
    MG_STORE3(4, c4) MG_STORE3(5, c5) MG_STORE3(6, c6) MG_STORE3(7, c7)
#undef MG_ZERO3
#undef MG_FMA3
#undef MG_STORE3
}

/* The 8 x 48 tile reading B in place: row k of its n (<= 48) columns at B + k * ldb. */
MG_AVX512 static inline void mg_tile_8x48_direct(int kc, const float *restrict Ap,
                                          const float *restrict B, long ldb, float *C, long ldc,
                                          int m, int n, int accumulate)
{
    if (n == 48)
        mg_tile_8x48_any(kc, Ap, B, ldb, 0, C, ldc, m, n, accumulate);
    else
        mg_tile_8x48_any(kc, Ap, B, ldb, 1, C, ldc, m, n, accumulate);
}

/* out[c] = column c of the 16 x 16 block at src (row stride ld), for rows < rows and
   columns < cols (the rest read as zeros; nothing outside them is touched). */
MG_AVX512 static inline void mg_transpose16(const float *src, long ld, int rows, int cols,
                                            __m512 out[16])
{
    __m512 r[16], t[16];
    __mmask16 cm = mg_lanes(cols);
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(cm, src + i * ld) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {          /* interleave pairs of rows */
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {          /* then pairs of pairs */
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {              /* then 128-bit lanes, twice */
        t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
        t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xDD);
        t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
        t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xDD);
    }
    for (int i = 0; i < 4; i++) {
        out[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
        out[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xDD);
        out[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
        out[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xDD);
    }
}

/* Pack rows [0, mc) x k [0, kc) of A (element (i, k) at A[i*rsa + k*csa]) into panels of
   mr_tile (12 or 8) rows: Ap[panel][k][i], zero rows past mc. */
MG_AVX512 static void mg_pack_a(int mc, int kc, const float *A, long rsa, long csa, float *Ap,
                                int mr_tile)
{
    __mmask16 panel = mg_lanes(mr_tile);
    for (int i0 = 0; i0 < mc; i0 += mr_tile, Ap += mr_tile * kc) {
        int mr = mc - i0 < mr_tile ? mc - i0 : mr_tile;
        const float *a = A + i0 * rsa;
        if (csa == 1) {                       /* rows contiguous: transpose 16 k at a time */
            __m512 col[16];
            for (int k0 = 0; k0 < kc; k0 += 16) {
                int kk = kc - k0 < 16 ? kc - k0 : 16;
                mg_transpose16(a + k0, rsa, mr, kk, col);
                for (int k = 0; k < kk; k++)
                    _mm512_mask_storeu_ps(Ap + (k0 + k) * mr_tile, panel, col[k]);
            }
        } else if (rsa == 1) {                /* columns contiguous: mr_tile values per k */
            __mmask16 m = mg_lanes(mr);
            for (int k = 0; k < kc; k++)
                _mm512_mask_storeu_ps(Ap + k * mr_tile, panel,
                                      _mm512_maskz_loadu_ps(m, a + k * csa));
        } else {
            for (int k = 0; k < kc; k++)
                for (int i = 0; i < mr_tile; i++)
                    Ap[k * mr_tile + i] = i < mr ? a[i * rsa + k * csa] : 0.0f;
        }
    }
}

/* Pack k [0, kc) x columns [0, nc) of B (element (k, j) at B[k*rsb + j*csb]) into panels of
   NR columns: Bp[panel][k][j], zero columns past nc. */
MG_AVX512 static void mg_pack_b(int kc, int nc, const float *B, long rsb, long csb, float *Bp)
{
    for (int j0 = 0; j0 < nc; j0 += MG_NR, Bp += MG_NR * kc) {
        int nr = nc - j0 < MG_NR ? nc - j0 : MG_NR;
        const float *b = B + j0 * csb;
        if (csb == 1) {                       /* rows contiguous: two vectors per k */
            __mmask16 m0 = mg_lanes(nr), m1 = mg_lanes(nr - 16);
            for (int k = 0; k < kc; k++) {
                _mm512_store_ps(Bp + k * MG_NR, _mm512_maskz_loadu_ps(m0, b + k * rsb));
                _mm512_store_ps(Bp + k * MG_NR + 16, _mm512_maskz_loadu_ps(m1, b + k * rsb + 16));
            }
        } else if (rsb == 1) {                /* columns contiguous: transpose 16 x 16 */
            __m512 row[16];
            for (int h = 0; h < 2; h++) {
                int nh = nr - 16 * h;
                for (int k0 = 0; k0 < kc; k0 += 16) {
                    int kk = kc - k0 < 16 ? kc - k0 : 16;
                    if (nh > 0)
                        mg_transpose16(b + (long)(16 * h) * csb + k0, csb, nh, kk, row);
                    for (int k = 0; k < kk; k++)
                        _mm512_store_ps(Bp + (k0 + k) * MG_NR + 16 * h,
                                        nh > 0 ? row[k] : _mm512_setzero_ps());
                }
            }
        } else {
            for (int k = 0; k < kc; k++)
                for (int j = 0; j < MG_NR; j++)
                    Bp[k * MG_NR + j] = j < nr ? b[k * rsb + j * csb] : 0.0f;
        }
    }
}

/* The calling thread's packing buffer of at least n floats, 64-byte aligned (kept for the
   thread's next call; NULL when memory is short). */
static float *mg_sgemm_scratch(size_t n)
{
    static __thread float *buf = NULL;
    static __thread size_t cap = 0;
    if (n > cap) {
        float *p = NULL;
        if (posix_memalign((void **)&p, 64, n * sizeof(float)) != 0)
            return NULL;
        free(buf);
        buf = p;
        cap = n;
    }
    return buf;
}

/* C = A B (accumulate == 0) or C += A B (accumulate == 1), in the calling thread. A's
   element (i, k) is at A[i*rsa + k*csa], B's (k, j) at B[k*rsb + j*csb], C's (i, j) at
   C[i*ldc + j]. Returns 0, or -1 when this path cannot run (see the top of the file).
   ``direct_k``: the largest K at which a row-major B is read in place (see below); the
   bits do not depend on it. */
static int mg_sgemm_k(int M, int N, int K, const float *A, long rsa, long csa,
                      const float *B, long rsb, long csb, float *C, long ldc, int accumulate,
                      int direct_k)
{
    if (!mg_sgemm_ready() || M <= 0 || N <= 0 || K <= 0)
        return -1;
    int kc_max = K < MG_KC ? K : MG_KC;
    int mc_max = M < MG_MC ? M : MG_MC, nc_max = N < MG_NC ? N : MG_NC;
    size_t a_len = ((size_t)((mc_max + MG_MR - 1) / MG_MR) * MG_MR * kc_max + 15) / 16 * 16;
    size_t b_len = (size_t)((nc_max + MG_NR - 1) / MG_NR) * MG_NR * kc_max;
    float *Ap = mg_sgemm_scratch(a_len + b_len);
    if (Ap == NULL)
        return -1;
    float *Bp = Ap + a_len;                   /* (a multiple of 16 floats: aligned) */
    /* With few rows of A, B's panels are used by few tiles and packing them costs as much
       as it saves: a row-major B is then read in place (measured for M = 64: 121 -> 132
       GFLOP/s at K = 64, 124 -> 132 at K = 128; with K above a few hundred the rows it
       reads span too many pages, and packing wins again: mg_sgemm's MG_DIRECT_K). */
    int direct = csb == 1 && M <= 96 && K <= direct_k;
    for (int jc = 0; jc < N; jc += MG_NC) {
        int nc = N - jc < MG_NC ? N - jc : MG_NC;
        for (int pc = 0; pc < K; pc += MG_KC) {
            int kc = K - pc < MG_KC ? K - pc : MG_KC;
            int acc = accumulate || pc > 0;
            const float *Bk = B + pc * rsb + jc * csb;
            if (!direct)
                mg_pack_b(kc, nc, Bk, rsb, csb, Bp);
            for (int ic = 0; ic < M; ic += MG_MC) {
                int mc = M - ic < MG_MC ? M - ic : MG_MC;
                mg_pack_a(mc, kc, A + ic * rsa + pc * csa, rsa, csa, Ap, MG_MR);
                for (int jr = 0; jr < nc; jr += MG_NR)
                    for (int ir = 0; ir < mc; ir += MG_MR) {
                        float *Ct = C + (long)(ic + ir) * ldc + jc + jr;
                        int mr = mc - ir < MG_MR ? mc - ir : MG_MR;
                        int nr = nc - jr < MG_NR ? nc - jr : MG_NR;
                        if (direct)
                            mg_tile_12x32_direct(kc, Ap + ir * kc, Bk + jr, rsb, Ct, ldc, mr,
                                                 nr, acc);
                        else
                            mg_tile_12x32(kc, Ap + ir * kc, Bp + jr * kc, Ct, ldc, mr, nr, acc);
                    }
            }
        }
    }
    return 0;
}

enum { MG_DIRECT_K = 320 };

static int mg_sgemm(int M, int N, int K, const float *A, long rsa, long csa,
                    const float *B, long rsb, long csb, float *C, long ldc, int accumulate)
{
    return mg_sgemm_k(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate, MG_DIRECT_K);
}

/* A convolution's sum over kernel taps as one pass over C: for t = 0 .. T-1 in turn,

       C (+)= A_t B_t,   A_t (M x K) at A + t * tsa (element (i, k) at [i*rsa + k*csa]),
                         B_t (K x N) the row-major B read from column off[t] (row stride rsb),

   the first tap assigning (or adding, when ``accumulate``) and the others adding. Each
   tap's product is what mg_sgemm gives, summed and added to C in the same order, so the
   bits are those of T calls to mg_sgemm; but each C tile stays in L1 while all T taps add
   into it, where T calls would stream all of C through the cache T times. B is read in
   place (off[t] may be negative: the caller owns the memory the shifted columns reach).

   The A_t are packed once (mg_taps_pack, into mg_taps_packed_len(M, K, T) floats) for
   every call that shares them: a convolution's images all have the same weight. */
enum { MG_TAPS_MR = 8, MG_TAPS_NR = 48 };   /* the pass's tile: mg_tile_8x48_direct */

/* M rounded up to whole tiles: the rows of each packed tap */
static inline size_t mg_taps_rows(int M)
{
    return (size_t)((M + MG_TAPS_MR - 1) / MG_TAPS_MR * MG_TAPS_MR);
}

static inline size_t mg_taps_packed_len(int M, int K, int T)
{
    return (size_t)T * K * mg_taps_rows(M);
}

MG_AVX512 static inline void mg_taps_pack(int M, int K, int T, const float *A, long rsa,
                                          long csa, long tsa, float *Ap)
{
    size_t mpad = mg_taps_rows(M);
    for (int t = 0; t < T; t++)               /* Ap[t][k block][panel][k][i] */
        for (int pc = 0; pc < K; pc += MG_KC)
            mg_pack_a(M, K - pc < MG_KC ? K - pc : MG_KC, A + t * tsa + pc * csa, rsa, csa,
                      Ap + ((size_t)t * K + pc) * mpad, MG_TAPS_MR);
}

/* Returns -1 (nothing computed) where mg_sgemm could not run. */
static inline int mg_sgemm_taps(int M, int N, int K, int T, const float *Ap, const float *B,
                                long rsb, const long *off, float *C, long ldc, int accumulate)
{
    if (!mg_sgemm_ready() || M <= 0 || N <= 0 || K <= 0 || T <= 0)
        return -1;
    const int mr_t = MG_TAPS_MR, nr_t = MG_TAPS_NR;
    size_t mpad = mg_taps_rows(M);
    for (int ic = 0; ic < M; ic += MG_MC) {
        int mc = M - ic < MG_MC ? M - ic : MG_MC;
        for (int jr = 0; jr < N; jr += nr_t)
            for (int ir = ic; ir < ic + mc; ir += mr_t) {
                float *Ct = C + (long)ir * ldc + jr;
                int mr = ic + mc - ir < mr_t ? ic + mc - ir : mr_t;
                int nr = N - jr < nr_t ? N - jr : nr_t;
                for (int t = 0; t < T; t++)
                    for (int pc = 0; pc < K; pc += MG_KC) {
                        int kc = K - pc < MG_KC ? K - pc : MG_KC;
                        mg_tile_8x48_direct(kc, Ap + ((size_t)t * K + pc) * mpad + (size_t)ir * kc,
                                            B + pc * rsb + off[t] + jr, rsb, Ct, ldc, mr, nr,
                                            accumulate || t > 0 || pc > 0);
                    }
            }
    }
    return 0;
}

#else   /* not x86-64 GCC/Clang: BLAS always */
static int mg_sgemm_ready(void) { return 0; }
static int mg_sgemm_enabled(void) { return 0; }
static int mg_sgemm_k(int M, int N, int K, const float *A, long rsa, long csa,
                      const float *B, long rsb, long csb, float *C, long ldc, int accumulate,
                      int direct_k)
{
    return -1;
}
static int mg_sgemm(int M, int N, int K, const float *A, long rsa, long csa,
                    const float *B, long rsb, long csb, float *C, long ldc, int accumulate)
{
    return -1;
}
static inline size_t mg_taps_packed_len(int M, int K, int T) { return 0; }
static inline void mg_taps_pack(int M, int K, int T, const float *A, long rsa, long csa,
                                long tsa, float *Ap) {}
static inline int mg_sgemm_taps(int M, int N, int K, int T, const float *Ap, const float *B,
                                long rsb, const long *off, float *C, long ldc, int accumulate)
{
    return -1;
}
#endif

#endif
