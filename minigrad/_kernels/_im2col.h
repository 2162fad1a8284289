/* One column row of im2col for stride-1 columns, float32 on AVX-512: the row's segments
   (one per image and output row, Wo values each) moved with masked vector loads and
   stores instead of three scalar loops per segment. (col2im, its adjoint, stays scalar:
   the same masked way, adding into dx, was slower -- 4 x 4 and 8 x 8 dx 5-8 % -- since
   the taps' overlapping read-modify-writes defeat store forwarding.)

   Column row r = (channel c, kernel row i, kernel column j) of nb images side by side
   (image b's columns start at b * Pt), output rows [oh0, oh1): the segment of output row
   oh reads input row ih = oh * sh - ph + ioff (ioff = i * dh) from column iw0 + ow
   (iw0 = j * dw - pw), ow in [lo, hi) inside the image and zero outside -- exactly the
   values _conv.pyx's loops write. ``x`` is channel c's plane of image 0; images are
   ``istride`` apart. */
#ifndef MINIGRAD_IM2COL_H
#define MINIGRAD_IM2COL_H

#include "_sgemm.h"

#if MG_SGEMM_X86

/* lanes [from, to) of 16, clamped */
static inline __mmask16 mg_lane_range(long from, long to)
{
    return (__mmask16)(mg_lanes((int)(to < 16 ? (to < 0 ? 0 : to) : 16))
                       & ~mg_lanes((int)(from < 16 ? (from < 0 ? 0 : from) : 16)));
}

MG_AVX512 static inline void mg_im2col_row_f(const float *x, long istride, long H, long W,
                                             long nb, long Pt, long oh0, long oh1, long Wo,
                                             long sh, long ph, long ioff, long iw0, long lo,
                                             long hi, float *row)
{
    __m512 zero = _mm512_setzero_ps();
    for (long b = 0; b < nb; b++)
        for (long oh = oh0; oh < oh1; oh++) {
            float *dst = row + b * Pt + (oh - oh0) * Wo;
            long ih = oh * sh - ph + ioff;
            const float *src = x + b * istride + ih * W + iw0;
            int inside = ih >= 0 && ih < H;
            for (long w0 = 0; w0 < Wo; w0 += 16) {
                __mmask16 all = mg_lanes((int)(Wo - w0 < 16 ? Wo - w0 : 16));
                __m512 v = inside ? _mm512_maskz_loadu_ps(mg_lane_range(lo - w0, hi - w0),
                                                          src + w0) : zero;
                _mm512_mask_storeu_ps(dst + w0, all, v);
            }
        }
}

#else
static inline void mg_im2col_row_f(const float *x, long istride, long H, long W, long nb,
                                   long Pt, long oh0, long oh1, long Wo, long sh, long ph,
                                   long ioff, long iw0, long lo, long hi, float *row)
{
    /* never called: the caller checks mg_sgemm_ready() first */
}
#endif

#endif
