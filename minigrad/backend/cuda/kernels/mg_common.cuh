// Shared by every minigrad CUDA source.
//
// Each kernel is a grid-stride loop (or one block per channel) around an *element
// function* marked MG_HD: it compiles for the device (the kernel) and for the host, where
// tests/cuda_harness.cu runs the same element functions over every index on the CPU and
// compares them with the NumPy reference backend. So the index arithmetic is tested on a
// machine without a GPU; only the launch and the block reductions need a GPU to run.
//
// Indices are 64-bit (idx_t): a (128, 128, 56, 56) conv's im2col buffer has 4.6e8
// elements, and sizes past 2^31 must not wrap.
#pragma once

#ifdef __CUDACC__
#define MG_HD __host__ __device__ inline
#else
#define MG_HD inline
#endif

typedef long long idx_t;

template <typename T>
MG_HD bool mg_isnan(T v) { return v != v; }

// +inf without <cmath> (NVRTC compiles without the host's headers)
MG_HD double mg_inf() {
#ifdef __CUDA_ARCH__
    return __longlong_as_double(0x7ff0000000000000LL);
#else
    return __builtin_huge_val();
#endif
}

// The window arithmetic of convolution and pooling, along one axis, in both directions.
// Forward passes (im2col, max pooling) ask where tap t of output o's window lands; the
// gather-form backward passes (col2im, pooling) ask which output's tap t lands on input i.

// The input position *i that tap t of output o's window reads, when it is inside
// [0, size) (else it falls in the padding).
MG_HD bool mg_tap_of(idx_t o, int t, int stride, int pad, int dil, idx_t size, idx_t* i) {
    *i = o * stride - pad + (idx_t)t * dil;
    return *i >= 0 && *i < size;
}

// The output position *o whose window's tap t lands on input position i, when there is
// one inside [0, out_size).
MG_HD bool mg_window_of(idx_t i, int t, int stride, int pad, int dil, idx_t out_size,
                        idx_t* o) {
    idx_t shifted = i + pad - (idx_t)t * dil;
    if (shifted < 0 || shifted % stride) return false;
    *o = shifted / stride;
    return *o < out_size;
}

// every kernel exists for float32 and float64, as <name>_f32 and <name>_f64
#define MG_FOR_FLOATS(DEFINE) DEFINE(float, f32) DEFINE(double, f64)

// a grid-stride loop over [0, n)
#define MG_GRID_LOOP(e, n) \
    for (idx_t e = (idx_t)blockIdx.x * blockDim.x + threadIdx.x; e < (n); \
         e += (idx_t)blockDim.x * gridDim.x)

// per-channel reductions: one block of MG_BLOCK threads per channel, summed in double
#define MG_BLOCK 256

#ifdef __CUDACC__
// the sum of v over the block (all threads get it); shared must hold MG_BLOCK doubles
__device__ inline double mg_block_sum(double v, double* shared) {
    shared[threadIdx.x] = v;
    __syncthreads();
    for (int half = MG_BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    double total = shared[0];
    __syncthreads();
    return total;
}
#endif
