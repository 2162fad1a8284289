// Convolution as im2col + one GEMM (cupy.matmul, cuBLAS), and col2im in gather form.
//
// x (N, C, H, W); cols (N, C*kh*kw, Ho*Wo) with row (c*kh + i)*kw + j holding the input
// pixel that kernel tap (i, j) of channel c meets at each output position; zero where the
// tap falls in the padding. Groups are contiguous blocks of rows, so a grouped conv is a
// batched GEMM over (N, groups).
#include "mg_common.cuh"

struct ConvGeometry {
    idx_t N, C, H, W, Ho, Wo;
    int kh, kw, sh, sw, ph, pw, dh, dw;
};

// kernels take the geometry as scalars (what a launch passes most simply) and build it
#define MG_CONV_PARAMS idx_t N, idx_t C, idx_t H, idx_t W, idx_t Ho, idx_t Wo, int kh, int kw, \
                       int sh, int sw, int ph, int pw, int dh, int dw
#define MG_CONV_GEOMETRY ConvGeometry g = {N, C, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw}

template <typename T>
MG_HD T im2col_element(idx_t e, const T* x, const ConvGeometry& g) {
    idx_t L = g.Ho * g.Wo;
    idx_t l = e % L, r = e / L;
    int j = (int)(r % g.kw); r /= g.kw;
    int i = (int)(r % g.kh); r /= g.kh;
    idx_t c = r % g.C, n = r / g.C;
    idx_t ih, iw;
    if (!mg_tap_of(l / g.Wo, i, g.sh, g.ph, g.dh, g.H, &ih) ||
        !mg_tap_of(l % g.Wo, j, g.sw, g.pw, g.dw, g.W, &iw)) return T(0);
    return x[((n * g.C + c) * g.H + ih) * g.W + iw];
}

// dx at input pixel e = ((n*C + c)*H + ih)*W + iw: the sum of the cols gradient over the
// (tap, output) pairs that read it. One thread per input pixel, a fixed order: no atomics,
// the same result on every run.
template <typename T>
MG_HD T col2im_element(idx_t e, const T* dcols, const ConvGeometry& g) {
    idx_t iw = e % g.W, r = e / g.W;
    idx_t ih = r % g.H; r /= g.H;
    idx_t c = r % g.C, n = r / g.C;
    idx_t L = g.Ho * g.Wo;
    double acc = 0;
    idx_t oh, ow;
    for (int i = 0; i < g.kh; ++i) {
        if (!mg_window_of(ih, i, g.sh, g.ph, g.dh, g.Ho, &oh)) continue;
        for (int j = 0; j < g.kw; ++j) {
            if (!mg_window_of(iw, j, g.sw, g.pw, g.dw, g.Wo, &ow)) continue;
            idx_t row = (c * g.kh + i) * g.kw + j;
            acc += (double)dcols[(n * g.C * g.kh * g.kw + row) * L + oh * g.Wo + ow];
        }
    }
    return (T)acc;
}

#ifdef __CUDACC__
#define MG_DEFINE_CONV(T, SUFFIX)                                                                 \
extern "C" __global__ void im2col_##SUFFIX(const T* x, T* cols, MG_CONV_PARAMS) {            \
    MG_CONV_GEOMETRY;                                                                        \
    idx_t total = g.N * g.C * g.kh * g.kw * g.Ho * g.Wo;                                     \
    MG_GRID_LOOP(e, total) cols[e] = im2col_element(e, x, g);                                \
}                                                                                            \
extern "C" __global__ void col2im_##SUFFIX(const T* dcols, T* dx, MG_CONV_PARAMS) {          \
    MG_CONV_GEOMETRY;                                                                        \
    idx_t total = g.N * g.C * g.H * g.W;                                                     \
    MG_GRID_LOOP(e, total) dx[e] = col2im_element(e, dcols, g);                              \
}
MG_FOR_FLOATS(MG_DEFINE_CONV)
#endif
