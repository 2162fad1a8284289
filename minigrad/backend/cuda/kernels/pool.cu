// Max and average pooling over the last two axes of (P, H, W), P the leading axes
// flattened; forward one thread per output, backward one thread per input pixel (gather
// form: no atomics, deterministic).
#include "mg_common.cuh"

struct PoolGeometry {
    idx_t P, H, W, Ho, Wo;
    int kh, kw, sh, sw, ph, pw, dh, dw;
};

#define MG_POOL_PARAMS idx_t P, idx_t H, idx_t W, idx_t Ho, idx_t Wo, int kh, int kw, int sh, \
                       int sw, int ph, int pw, int dh, int dw
#define MG_POOL_GEOMETRY PoolGeometry g = {P, H, W, Ho, Wo, kh, kw, sh, sw, ph, pw, dh, dw}

// out and index at output e = (p*Ho + oh)*Wo + ow: the first maximum of the window in
// (row, column) order, or its last NaN (PyTorch's CPU rule); a window of padding only
// gives -inf and the index -1.
template <typename T>
MG_HD void max_pool_element(idx_t e, const T* x, T* out, idx_t* index, const PoolGeometry& g) {
    idx_t ow = e % g.Wo, r = e / g.Wo;
    idx_t oh = r % g.Ho, p = r / g.Ho;
    const T* plane = x + p * g.H * g.W;
    idx_t pick = -1;
    T best = T(0);
    bool nan_seen = false;
    idx_t ih, iw;
    for (int i = 0; i < g.kh; ++i) {
        if (!mg_tap_of(oh, i, g.sh, g.ph, g.dh, g.H, &ih)) continue;
        for (int j = 0; j < g.kw; ++j) {
            if (!mg_tap_of(ow, j, g.sw, g.pw, g.dw, g.W, &iw)) continue;
            T v = plane[ih * g.W + iw];
            if (mg_isnan(v)) {
                nan_seen = true;
                pick = ih * g.W + iw;
                best = v;
            } else if (!nan_seen && (pick < 0 || v > best)) {
                pick = ih * g.W + iw;
                best = v;
            }
        }
    }
    index[e] = pick;
    out[e] = pick < 0 ? -(T)mg_inf() : best;
}

// dx at input pixel e = (p*H + ih)*W + iw: the gradients of the outputs that picked it
template <typename T>
MG_HD T max_pool_backward_element(idx_t e, const T* grad, const idx_t* index,
                                   const PoolGeometry& g) {
    idx_t iw = e % g.W, r = e / g.W;
    idx_t ih = r % g.H, p = r / g.H;
    idx_t me = ih * g.W + iw;
    double acc = 0;
    idx_t oh, ow;
    for (int i = 0; i < g.kh; ++i) {
        if (!mg_window_of(ih, i, g.sh, g.ph, g.dh, g.Ho, &oh)) continue;
        for (int j = 0; j < g.kw; ++j) {
            if (!mg_window_of(iw, j, g.sw, g.pw, g.dw, g.Wo, &ow)) continue;
            idx_t o = (p * g.Ho + oh) * g.Wo + ow;
            if (index[o] == me) acc += (double)grad[o];
        }
    }
    return (T)acc;
}

// average pooling over windows the caller computed (PyTorch's ceil_mode and padding rules
// live in one place, minigrad/ops/pool.py): rows [hs[oh], he[oh]), columns [ws[ow],
// we[ow]), divisor div[oh, ow]. The starts and ends never decrease.
template <typename T>
MG_HD T avg_pool_element(idx_t e, const T* x, const idx_t* hs, const idx_t* he,
                         const idx_t* ws, const idx_t* we, const double* div,
                         const PoolGeometry& g) {
    idx_t ow = e % g.Wo, r = e / g.Wo;
    idx_t oh = r % g.Ho, p = r / g.Ho;
    const T* plane = x + p * g.H * g.W;
    double acc = 0;
    for (idx_t ih = hs[oh]; ih < he[oh]; ++ih)
        for (idx_t iw = ws[ow]; iw < we[ow]; ++iw) acc += (double)plane[ih * g.W + iw];
    return (T)(acc / div[oh * g.Wo + ow]);
}

template <typename T>
MG_HD T avg_pool_backward_element(idx_t e, const T* grad, const idx_t* hs, const idx_t* he,
                                  const idx_t* ws, const idx_t* we, const double* div,
                                  const PoolGeometry& g) {
    idx_t iw = e % g.W, r = e / g.W;
    idx_t ih = r % g.H, p = r / g.H;
    double acc = 0;
    for (idx_t oh = 0; oh < g.Ho && hs[oh] <= ih; ++oh) {
        if (he[oh] <= ih) continue;
        for (idx_t ow = 0; ow < g.Wo && ws[ow] <= iw; ++ow) {
            if (we[ow] <= iw) continue;
            acc += (double)grad[(p * g.Ho + oh) * g.Wo + ow] / div[oh * g.Wo + ow];
        }
    }
    return (T)acc;
}

#ifdef __CUDACC__
#define MG_DEFINE_POOL(T, SUFFIX)                                                           \
extern "C" __global__ void max_pool_##SUFFIX(const T* x, T* out, idx_t* index,              \
                                             MG_POOL_PARAMS) {                              \
    MG_POOL_GEOMETRY;                                                                       \
    MG_GRID_LOOP(e, P * Ho * Wo) max_pool_element(e, x, out, index, g);                     \
}                                                                                           \
extern "C" __global__ void max_pool_backward_##SUFFIX(const T* grad, const idx_t* index,    \
                                                      T* dx, MG_POOL_PARAMS) {              \
    MG_POOL_GEOMETRY;                                                                       \
    MG_GRID_LOOP(e, P * H * W) dx[e] = max_pool_backward_element(e, grad, index, g);        \
}                                                                                           \
extern "C" __global__ void avg_pool_##SUFFIX(const T* x, T* out, const idx_t* hs,           \
                                             const idx_t* he, const idx_t* ws,              \
                                             const idx_t* we, const double* div,            \
                                             MG_POOL_PARAMS) {                              \
    MG_POOL_GEOMETRY;                                                                       \
    MG_GRID_LOOP(e, P * Ho * Wo) out[e] = avg_pool_element(e, x, hs, he, ws, we, div, g);   \
}                                                                                           \
extern "C" __global__ void avg_pool_backward_##SUFFIX(const T* grad, T* dx, const idx_t* hs,\
                                                      const idx_t* he, const idx_t* ws,     \
                                                      const idx_t* we, const double* div,   \
                                                      MG_POOL_PARAMS) {                     \
    MG_POOL_GEOMETRY;                                                                       \
    MG_GRID_LOOP(e, P * H * W)                                                              \
        dx[e] = avg_pool_backward_element(e, grad, hs, he, ws, we, div, g);                 \
}
MG_FOR_FLOATS(MG_DEFINE_POOL)
#endif
