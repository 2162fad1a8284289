// Per-channel statistics and the per-channel affine map: BatchNorm's kernels.
//
// x is (N, C, S) with S the spatial size; channel c's elements are x[(n*C + c)*S + s].
// Reductions run one block per channel; thread t of nt takes the channel's elements
// t, t + nt, t + 2 nt, ... and the block sums the partials in double. Moments are two-pass
// (the mean, then squared deviations from it), never E[x^2] - E[x]^2.
#include "mg_common.cuh"

struct ChannelShape {
    idx_t N, C, S;
};

#define MG_CHANNEL_PARAMS idx_t N, idx_t C, idx_t S
#define MG_CHANNEL_SHAPE ChannelShape s = {N, C, S}

MG_HD idx_t channel_offset(idx_t k, idx_t c, const ChannelShape& s) {
    return ((k / s.S) * s.C + c) * s.S + k % s.S;   // k: the k-th element of channel c
}

// thread t's partial sums over its elements of channel c:
// sum (x - shift), and with g: sum g and sum g * (x - shift)
template <typename T>
MG_HD double channel_partial(const T* x, idx_t c, idx_t t, idx_t nt, double shift,
                             bool squared, const ChannelShape& s) {
    double acc = 0;
    for (idx_t k = t; k < s.N * s.S; k += nt) {
        double d = (double)x[channel_offset(k, c, s)] - shift;
        acc += squared ? d * d : d;
    }
    return acc;
}

template <typename T>
MG_HD void channel_partial_backward(const T* g, const T* x, idx_t c, idx_t t, idx_t nt,
                                    double center, const ChannelShape& s, double* sum_g,
                                    double* sum_gx) {
    double a = 0, b = 0;
    for (idx_t k = t; k < s.N * s.S; k += nt) {
        idx_t o = channel_offset(k, c, s);
        a += (double)g[o];
        b += (double)g[o] * ((double)x[o] - center);
    }
    *sum_g = a;
    *sum_gx = b;
}

// y = (x - center[c]) * scale[c] + shift[c] (+ y when accumulate), in double
template <typename T>
MG_HD T channel_affine_element(idx_t e, const T* x, const T* y, const double* scale,
                               const double* shift, const double* center, bool accumulate,
                               const ChannelShape& s) {
    idx_t c = (e / s.S) % s.C;
    double v = ((double)x[e] - center[c]) * scale[c] + shift[c];
    if (accumulate) v += (double)y[e];
    return (T)v;
}

#ifdef __CUDACC__
#define MG_DEFINE_CHANNEL(T, SUFFIX)                                                        \
extern "C" __global__ void channel_moments_##SUFFIX(const T* x, T* mean, T* var,            \
                                                    MG_CHANNEL_PARAMS) {                    \
    MG_CHANNEL_SHAPE;                                                                       \
    __shared__ double shared[MG_BLOCK];                                                     \
    idx_t c = blockIdx.x;                                                                   \
    double n = (double)(N * S);                                                             \
    double m = mg_block_sum(channel_partial(x, c, threadIdx.x, MG_BLOCK, 0.0, false, s),    \
                            shared) / n;                                                    \
    double v = mg_block_sum(channel_partial(x, c, threadIdx.x, MG_BLOCK, m, true, s),       \
                            shared) / n;                                                    \
    if (threadIdx.x == 0) { mean[c] = (T)m; var[c] = (T)v; }                                \
}                                                                                           \
extern "C" __global__ void channel_sum_##SUFFIX(const T* x, T* out, MG_CHANNEL_PARAMS) {     \
    MG_CHANNEL_SHAPE;                                                                       \
    __shared__ double shared[MG_BLOCK];                                                     \
    double total = mg_block_sum(                                                            \
        channel_partial(x, (idx_t)blockIdx.x, threadIdx.x, MG_BLOCK, 0.0, false, s), shared);\
    if (threadIdx.x == 0) out[blockIdx.x] = (T)total;                                       \
}                                                                                           \
extern "C" __global__ void channel_affine_##SUFFIX(const T* x, T* y, const double* scale,   \
                                                   const double* shift,                     \
                                                   const double* center, int accumulate,    \
                                                   MG_CHANNEL_PARAMS) {                     \
    MG_CHANNEL_SHAPE;                                                                       \
    MG_GRID_LOOP(e, N * C * S)                                                              \
        y[e] = channel_affine_element(e, x, y, scale, shift, center, accumulate != 0, s);   \
}                                                                                           \
extern "C" __global__ void channel_affine_sums_##SUFFIX(const T* g, const T* x,             \
                                                        const double* center, T* sum_g,     \
                                                        T* sum_gx, MG_CHANNEL_PARAMS) {     \
    MG_CHANNEL_SHAPE;                                                                       \
    __shared__ double shared[MG_BLOCK];                                                     \
    idx_t c = blockIdx.x;                                                                   \
    double a, b;                                                                            \
    channel_partial_backward(g, x, c, threadIdx.x, MG_BLOCK, center[c], s, &a, &b);         \
    a = mg_block_sum(a, shared);                                                            \
    b = mg_block_sum(b, shared);                                                            \
    if (threadIdx.x == 0) { sum_g[c] = (T)a; sum_gx[c] = (T)b; }                            \
}
MG_FOR_FLOATS(MG_DEFINE_CHANNEL)
#endif
