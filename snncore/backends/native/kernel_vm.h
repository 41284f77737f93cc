// Argument blocks of the generic fused loops (shared by the interpreter in kernel_vm.cpp and
// the kernels generated from a neuron's programs, see snncore/_generic.py).
#pragma once
#include <cstdint>
#include <cstring>

#include "streaming.h"

extern "C" {

struct SnnVmFwd {
    const int32_t* code; int64_t ncode; const int32_t* pre; int64_t npre; int32_t nregs;
    const float* consts; int32_t nconst;
    int64_t T; int64_t M; int32_t nthreads;
    const float* x; int32_t rx;
    int32_t ns; const int32_t* rs_in; const int32_t* rs_out; float* const* state;
    int32_t np; const int32_t* rp; const float* const* params; const int64_t* pstride;
    int32_t rout; float* out;
    float* const* rec;
    int64_t K; float* ckpt;
    int32_t stream;  // write out and rec with streaming stores (streaming.h)
};

struct SnnVmBwd {
    const int32_t* fcode; int64_t nfcode; const int32_t* fpre; int64_t nfpre; int32_t fnregs;
    const float* fconsts; int32_t nfconst;
    int32_t frx; const int32_t* frs_in; const int32_t* frs_out; const int32_t* frp;
    const int32_t* bcode; int64_t nbcode; const int32_t* bpre; int64_t nbpre; int32_t bnregs;
    const float* bconsts; int32_t nbconst;
    int32_t brx; const int32_t* brs_in; const int32_t* brp; int32_t brgout;
    const int32_t* brgs_out; int32_t brgx; const int32_t* brgs_in; const int32_t* brgp;
    int64_t T; int64_t M; int64_t K; int32_t nthreads; int32_t ns; int32_t np;
    const float* x; const float* ckpt; const float* const* params; const int64_t* pstride;
    const float* gout; int64_t gout_ts;
    const float* const* grec; const int64_t* grec_ts;
    float* const* gstate;
    float* gx;
    double* const* gp;
    int32_t stream;  // write gx with streaming stores (streaming.h)
};

}  // extern "C"

// exp in float32 that the compiler can vectorise (the C library's expf is a call per element,
// which keeps a whole step's loop scalar): e^x = 2^n e^r with n = round(x / ln 2) and
// |r| <= ln(2)/2, e^r by its Taylor series to r^8 in double (relative error below 3e-10), and one
// rounding to float32 at the end, so the result is the correctly rounded e^x except in rare
// near-halfway cases (at most 0.51 ulp; PyTorch's vectorised exp is within 1 ulp). Overflow
// gives inf, underflow rounds to a subnormal or zero, NaN stays NaN. Used by the interpreter
// and by the generated kernels alike, so both give the same bits.
static inline float snn_expf(float x) {
    double xd = double(x);
    xd = xd < -160.0 ? -160.0 : xd;
    xd = xd > 100.0 ? 100.0 : xd;
    const double magic = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
    const double t = xd * 1.4426950408889634 + magic;
    const double n = t - magic;
    const double r = xd - n * 0.6931471805599453;
    double p = 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t tb, mb;
    std::memcpy(&tb, &t, 8);
    std::memcpy(&mb, &magic, 8);
    const int64_t sb = (tb - mb + 1023) * (int64_t(1) << 52);  // 2^n as a double's bits
    double s;
    std::memcpy(&s, &sb, 8);
    const float y = float(p * s);
    return x != x ? x : y;
}
