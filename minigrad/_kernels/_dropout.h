/* Dropout's mask, drawn by a counter-based generator: element i's decision is a function
   of (seed, i) alone, so the threads split the array without sharing a state and the mask
   is the same for every thread count.

   The draw for elements 2k and 2k + 1 is z = SplitMix64's output for counter k + 1 from
   seed (Steele, Lea & Flood 2014: a Weyl sequence seed + (k + 1) * golden gamma, then
   the variant-13 finalizer); element 2k keeps when the high 32 bits of z are >= the
   threshold, element 2k + 1 when the low 32 bits are. A kept element is ``scale``
   (1 / (1 - p)), a dropped one 0. ``minigrad.backend.numpy_ref.dropout_mask`` computes the
   same bits with NumPy. */
#ifndef MINIGRAD_DROPOUT_H
#define MINIGRAD_DROPOUT_H

#include <stddef.h>
#include <stdint.h>
#include "_clones.h"

static inline uint64_t mg_splitmix(uint64_t seed, uint64_t k) {
    uint64_t z = seed + (k + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* elements [2 * k0, 2 * k1) of the mask, all inside the array */
#define MG_DROPOUT_MASK(S, T)                                                              \
MG_CLONES                                                                                  \
static void mg_dropout_pairs_##S(T *out, uint64_t seed, uint64_t threshold, T scale,       \
                                 ptrdiff_t k0, ptrdiff_t k1) {                             \
    _Pragma("omp simd")                                                                    \
    for (ptrdiff_t k = k0; k < k1; k++) {                                                  \
        uint64_t z = mg_splitmix(seed, (uint64_t)k);                                       \
        out[2 * k] = (z >> 32) >= threshold ? scale : (T)0;                                \
        out[2 * k + 1] = (z & 0xFFFFFFFFULL) >= threshold ? scale : (T)0;                  \
    }                                                                                      \
}

MG_DROPOUT_MASK(f, float)
MG_DROPOUT_MASK(d, double)

#endif
