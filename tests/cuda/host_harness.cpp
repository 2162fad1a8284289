// The CUDA kernels' element functions, run on the CPU over every index, as the kernels
// run them on a GPU (compiled with g++: __CUDACC__ is unset, so the __global__ kernels
// drop out and MG_HD is plain inline). tests/test_cuda_backend.py drives the CUDA
// backend's Python glue through these functions and compares it with the NumPy reference.
// Block reductions are emulated by summing the MG_BLOCK partials in thread order.
#include "conv.cu"
#include "pool.cu"
#include "channel.cu"

template <typename T>
void host_channel_moments(const T* x, T* mean, T* var, MG_CHANNEL_PARAMS) {
    MG_CHANNEL_SHAPE;
    double n = (double)(N * S);
    for (idx_t c = 0; c < C; ++c) {
        double m = 0, v = 0;
        for (int t = 0; t < MG_BLOCK; ++t) m += channel_partial(x, c, t, MG_BLOCK, 0.0, false, s);
        m /= n;
        for (int t = 0; t < MG_BLOCK; ++t) v += channel_partial(x, c, t, MG_BLOCK, m, true, s);
        mean[c] = (T)m;
        var[c] = (T)(v / n);
    }
}

template <typename T>
void host_channel_sum(const T* x, T* out, MG_CHANNEL_PARAMS) {
    MG_CHANNEL_SHAPE;
    for (idx_t c = 0; c < C; ++c) {
        double total = 0;
        for (int t = 0; t < MG_BLOCK; ++t) total += channel_partial(x, c, t, MG_BLOCK, 0.0, false, s);
        out[c] = (T)total;
    }
}

template <typename T>
void host_channel_affine_sums(const T* g, const T* x, const double* center, T* sum_g, T* sum_gx,
                              MG_CHANNEL_PARAMS) {
    MG_CHANNEL_SHAPE;
    for (idx_t c = 0; c < C; ++c) {
        double a = 0, b = 0;
        for (int t = 0; t < MG_BLOCK; ++t) {
            double pa, pb;
            channel_partial_backward(g, x, c, t, MG_BLOCK, center[c], s, &pa, &pb);
            a += pa;
            b += pb;
        }
        sum_g[c] = (T)a;
        sum_gx[c] = (T)b;
    }
}

#define MG_HOST(T, SUFFIX)                                                                  \
extern "C" void im2col_##SUFFIX(const T* x, T* cols, MG_CONV_PARAMS) {                      \
    MG_CONV_GEOMETRY;                                                                       \
    for (idx_t e = 0; e < N * C * kh * kw * Ho * Wo; ++e) cols[e] = im2col_element(e, x, g);\
}                                                                                           \
extern "C" void col2im_##SUFFIX(const T* dcols, T* dx, MG_CONV_PARAMS) {                    \
    MG_CONV_GEOMETRY;                                                                       \
    for (idx_t e = 0; e < N * C * H * W; ++e) dx[e] = col2im_element(e, dcols, g);          \
}                                                                                           \
extern "C" void max_pool_##SUFFIX(const T* x, T* out, idx_t* index, MG_POOL_PARAMS) {       \
    MG_POOL_GEOMETRY;                                                                       \
    for (idx_t e = 0; e < P * Ho * Wo; ++e) max_pool_element(e, x, out, index, g);          \
}                                                                                           \
extern "C" void max_pool_backward_##SUFFIX(const T* grad, const idx_t* index, T* dx,        \
                                           MG_POOL_PARAMS) {                                \
    MG_POOL_GEOMETRY;                                                                       \
    for (idx_t e = 0; e < P * H * W; ++e) dx[e] = max_pool_backward_element(e, grad, index, g); \
}                                                                                           \
extern "C" void avg_pool_##SUFFIX(const T* x, T* out, const idx_t* hs, const idx_t* he,     \
                                  const idx_t* ws, const idx_t* we, const double* div,      \
                                  MG_POOL_PARAMS) {                                         \
    MG_POOL_GEOMETRY;                                                                       \
    for (idx_t e = 0; e < P * Ho * Wo; ++e)                                                 \
        out[e] = avg_pool_element(e, x, hs, he, ws, we, div, g);                            \
}                                                                                           \
extern "C" void avg_pool_backward_##SUFFIX(const T* grad, T* dx, const idx_t* hs,           \
                                           const idx_t* he, const idx_t* ws,                \
                                           const idx_t* we, const double* div,              \
                                           MG_POOL_PARAMS) {                                \
    MG_POOL_GEOMETRY;                                                                       \
    for (idx_t e = 0; e < P * H * W; ++e)                                                   \
        dx[e] = avg_pool_backward_element(e, grad, hs, he, ws, we, div, g);                 \
}                                                                                           \
extern "C" void channel_moments_##SUFFIX(const T* x, T* mean, T* var, MG_CHANNEL_PARAMS) {  \
    host_channel_moments(x, mean, var, N, C, S);                                            \
}                                                                                           \
extern "C" void channel_sum_##SUFFIX(const T* x, T* out, MG_CHANNEL_PARAMS) {               \
    host_channel_sum(x, out, N, C, S);                                                      \
}                                                                                           \
extern "C" void channel_affine_##SUFFIX(const T* x, T* y, const double* scale,              \
                                        const double* shift, const double* center,          \
                                        int accumulate, MG_CHANNEL_PARAMS) {                \
    MG_CHANNEL_SHAPE;                                                                       \
    for (idx_t e = 0; e < N * C * S; ++e)                                                   \
        y[e] = channel_affine_element(e, x, y, scale, shift, center, accumulate != 0, s);   \
}                                                                                           \
extern "C" void channel_affine_sums_##SUFFIX(const T* g, const T* x, const double* center,  \
                                             T* sum_g, T* sum_gx, MG_CHANNEL_PARAMS) {      \
    host_channel_affine_sums(g, x, center, sum_g, sum_gx, N, C, S);                         \
}
MG_FOR_FLOATS(MG_HOST)
