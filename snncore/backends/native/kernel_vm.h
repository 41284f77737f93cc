// Argument blocks of the generic fused loops (shared by the interpreter in kernel_vm.cpp and
// the kernels generated from a neuron's programs, see snncore/_generic.py).
#pragma once
#include <cstdint>

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
};

}  // extern "C"
