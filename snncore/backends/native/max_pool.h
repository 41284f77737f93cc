// Max pooling over non-overlapping windows of a channels-last float tensor, keeping the
// position of each window's maximum in one byte (snncore_max_pool2d_*_f32, fused_loops.h).
//
// Semantics are those of torch.nn.functional.max_pool2d (floor mode, no padding, stride equal
// to the kernel): a window's first element (row-major) starts as the maximum; an element
// replaces it when it is greater or NaN. The backward writes every input element once: the
// output gradient at the recorded position of its window, zero elsewhere (also in the rows and
// columns that no window covers).
//
// Channels are processed VW lanes at a time with GCC/Clang vector extensions (VW the largest
// of 16, 8, 4, 2, 1 dividing C), so small channel counts (e.g. 12) vectorise too; the selects
// are bitwise, so random data costs no branch mispredictions.
#ifndef SNNCORE_MAX_POOL_H
#define SNNCORE_MAX_POOL_H

#include <cstdint>
#include <cstring>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace snn_pool {

template <int VW> struct Vec {
    typedef float f __attribute__((vector_size(VW * 4)));
    typedef int32_t i __attribute__((vector_size(VW * 4)));
    typedef uint8_t u8 __attribute__((vector_size(VW)));
    typedef int8_t s8 __attribute__((vector_size(VW)));
};

struct Shape {
    int64_t H, W, C, kh, kw, OH, OW;
};

// Whether the arguments describe a pool the kernels can run: positions fit a byte, the window
// fits the input, and rows [r0, r1) lie within [0, rows) (output rows for the forward, input
// rows for the backward).
inline bool valid(int64_t N, int64_t H, int64_t W, int64_t C, int64_t kh, int64_t kw,
                  int64_t r0, int64_t r1, int64_t rows) {
    return N >= 0 && kh >= 1 && kw >= 1 && kh * kw <= 256 && H >= kh && W >= kw && C >= 1
           && r0 >= 0 && r0 <= r1 && r1 <= rows;
}

// Output rows r = (n, oh) in [r0, r1); K: the window size when it is K x K, else 0.
template <int VW, int K>
void fwd_rows(const Shape& s, int64_t r0, int64_t r1, const float* x, float* y, uint8_t* idx) {
    typedef typename Vec<VW>::f vf;
    typedef typename Vec<VW>::i vi;
    const int64_t C = s.C, W = s.W, kh = K ? K : s.kh, kw = K ? K : s.kw;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / s.OH, oh = r % s.OH;
        const float* xr = x + (n * s.H + oh * kh) * W * C;
        float* yr = y + r * s.OW * C;
        uint8_t* ir = idx + r * s.OW * C;
        for (int64_t ow = 0; ow < s.OW; ++ow) {
            const float* x0 = xr + ow * kw * C;
            for (int64_t c = 0; c < C; c += VW) {
                vf b;
                std::memcpy(&b, x0 + c, sizeof b);
                vi p = {};
                for (int64_t dy = 0; dy < kh; ++dy)
                    for (int64_t dx = (dy == 0); dx < kw; ++dx) {
                        vf v;
                        std::memcpy(&v, x0 + (dy * W + dx) * C + c, sizeof v);
                        const vi m = (v > b) | (v != v);
                        b = (vf)(((vi)v & m) | ((vi)b & ~m));
                        p = (int32_t(dy * kw + dx) & m) | (p & ~m);
                    }
                std::memcpy(yr + ow * C + c, &b, sizeof b);
                const typename Vec<VW>::u8 pb = __builtin_convertvector(p, typename Vec<VW>::u8);
                std::memcpy(ir + ow * C + c, &pb, sizeof pb);
            }
        }
    }
}

// Input rows r = (n, h) in [r0, r1); K as for fwd_rows.
template <int VW, int K>
void bwd_rows(const Shape& s, int64_t r0, int64_t r1, const float* g, const uint8_t* idx,
              float* gx) {
    typedef typename Vec<VW>::f vf;
    typedef typename Vec<VW>::i vi;
    typedef typename Vec<VW>::u8 vu;
    typedef typename Vec<VW>::s8 vs;
    const int64_t C = s.C, W = s.W, kh = K ? K : s.kh, kw = K ? K : s.kw;
    for (int64_t r = r0; r < r1; ++r) {
        const int64_t n = r / s.H, h = r % s.H, oh = h / kh, dy = h % kh;
        float* gr = gx + r * W * C;
        int64_t done = 0;
        if (oh < s.OH) {
            const float* gg = g + (n * s.OH + oh) * s.OW * C;
            const uint8_t* ii = idx + (n * s.OH + oh) * s.OW * C;
            for (int64_t ow = 0; ow < s.OW; ++ow)
                for (int64_t c = 0; c < C; c += VW) {
                    vf gv;
                    std::memcpy(&gv, gg + ow * C + c, sizeof gv);
                    vu ib;
                    std::memcpy(&ib, ii + ow * C + c, sizeof ib);
                    for (int64_t dx = 0; dx < kw; ++dx) {
                        const vs mb = (vs)(ib == uint8_t(dy * kw + dx));
                        const vi m = __builtin_convertvector(mb, vi);
                        const vf o = (vf)((vi)gv & m);
                        std::memcpy(gr + (ow * kw + dx) * C + c, &o, sizeof o);
                    }
                }
            done = s.OW * kw * C;
        }
        std::memset(gr + done, 0, sizeof(float) * size_t(W * C - done));
    }
}

// Fn<VW, K>::run(a...) with VW the largest of 16, 8, 4, 2, 1 that divides C, and K = 2 for
// 2 x 2 windows (the common case, unrolled), else 0.
template <template <int, int> class Fn, int K, typename... A>
void by_width_k(int64_t C, A&&... a) {
    if (C % 16 == 0) Fn<16, K>::run(a...);
    else if (C % 8 == 0) Fn<8, K>::run(a...);
    else if (C % 4 == 0) Fn<4, K>::run(a...);
    else if (C % 2 == 0) Fn<2, K>::run(a...);
    else Fn<1, K>::run(a...);
}
template <template <int, int> class Fn, typename... A>
void by_width(const Shape& s, A&&... a) {
    if (s.kh == 2 && s.kw == 2) by_width_k<Fn, 2>(s.C, s, a...);
    else by_width_k<Fn, 0>(s.C, s, a...);
}
template <int VW, int K> struct Fwd {
    static void run(const Shape& s, int64_t a, int64_t b, const float* x, float* y,
                    uint8_t* idx) { fwd_rows<VW, K>(s, a, b, x, y, idx); }
};
template <int VW, int K> struct Bwd {
    static void run(const Shape& s, int64_t a, int64_t b, const float* g, const uint8_t* idx,
                    float* gx) { bwd_rows<VW, K>(s, a, b, g, idx, gx); }
};

// body(a, b) over rows [r0, r1) in contiguous shares, one per OpenMP thread when the work
// (elements touched) reaches serial_work.
template <typename Body>
void rows(int64_t r0, int64_t r1, int64_t work, int64_t serial_work, Body&& body) {
#ifdef _OPENMP
    const int nt = omp_get_max_threads();
    const int64_t n = r1 - r0;
    if (nt > 1 && n > 1 && work >= serial_work) {
        const int parts = int(n < nt ? n : nt);
#pragma omp parallel num_threads(parts)
        {
            const int me = omp_get_thread_num();
            body(r0 + n * me / parts, r0 + n * (me + 1) / parts);
        }
        return;
    }
#endif
    body(r0, r1);
}

}  // namespace snn_pool

#endif  // SNNCORE_MAX_POOL_H
