// C ABI of snncore's native fused time loops (loaded with ctypes by
// snncore/backends/_native.py; keep the argument lists in step with its _setup()).
//
// Every function returns 0 on success. Pointers are contiguous float32 arrays of M neurons
// (times T steps where a sequence is meant); a null pointer means "not used".
#ifndef SNNCORE_FUSED_LOOPS_H
#define SNNCORE_FUSED_LOOPS_H

#include <cstdint>

#define SNNCORE_FUSED_ABI_VERSION 10

extern "C" {

// ABI version of this library (SNNCORE_FUSED_ABI_VERSION).
int snncore_fused_abi_version();
// 1 when built with OpenMP.
int snncore_fused_openmp();
// Below this many neuron-steps a call runs on one thread (settable from Python).
extern int64_t snncore_fused_serial_work;
// Outputs of at least this many bytes are written with streaming (non-temporal) stores where
// the CPU has them (settable from Python).
extern int64_t snncore_fused_stream_bytes;

// Forward over T steps for neurons [m0, m1) of M: spikes, pre-reset membranes h (or
// checkpoints every K steps into ckpt), final state in mem/syn/sst; rmem/rsyn (when not null)
// receive the membrane/current after every step ([T, M]).
int snncore_fused_fwd_f32(int kind, int reset, int delay, int64_t T, int64_t M, int64_t m0,
                          int64_t m1, const float* x, float* spk, float* h, float* synseq,
                          float* mem, float* syn, float* sst, const float* beta,
                          const float* alpha, const float* V, const float* thr, const float* g,
                          int64_t K, float* ckpt, float* rmem, float* rsyn);
// Reverse loop over steps [t0, t1) from stored pre-reset membranes h; when gsum is not null,
// every step's input gradient is also added to gsum[m] (double, M neurons); grmem/grsyn (time
// strides gmts/gsts: M, or 0 for one row) are gradients of the recorded membrane/current.
int snncore_fused_bwd_f32(int kind, int reset, int delay, int sg, int64_t M, int64_t m0,
                          int64_t m1, int64_t t0, int64_t t1, int64_t gts, const float* gspk,
                          const float* h, const float* sgarr, const float* synseq,
                          const float* mem0, const float* syn0, const float* spk0, float* gx,
                          float* gmem, float* gsyn, float* gsst, double* gbeta, double* galpha,
                          double* gV, double* gthr, double* gg, const float* beta,
                          const float* alpha, const float* V, const float* thr, const float* g,
                          float sa, double* gsum, int64_t gmts, const float* grmem,
                          int64_t gsts, const float* grsyn);
// Reverse loop that recomputes h from the checkpoints written by the forward; gx may alias x;
// gsum as in snncore_fused_bwd_f32.
int snncore_fused_bwd_rc_f32(int kind, int reset, int delay, int sg, int64_t T, int64_t M,
                             int64_t m0, int64_t m1, int64_t K, const float* x,
                             const float* ckpt, int64_t gts, const float* gspk, float* gx,
                             float* gmem, float* gsyn, float* gsst, double* gbeta,
                             double* galpha, double* gV, double* gthr, double* gg,
                             const float* beta, const float* alpha, const float* V,
                             const float* thr, const float* g, float sa, double* gsum,
                             int64_t gmts, const float* grmem, int64_t gsts,
                             const float* grsyn);

// Max pooling of a channels-last [N, H, W, C] float32 input x over non-overlapping kh x kw
// windows (floor mode): y [N, H/kh, W/kw, C] and idx, the position dy * kw + dx of each
// window's maximum (as torch's max_pool2d picks it), for output rows r = n * (H/kh) + oh in
// [r0, r1). Returns 1 for arguments out of range (kh * kw > 256, a window larger than the
// input, rows outside [0, N * H/kh)).
int snncore_max_pool2d_fwd_f32(int64_t N, int64_t H, int64_t W, int64_t C, int64_t kh,
                               int64_t kw, int64_t r0, int64_t r1, const float* x, float* y,
                               uint8_t* idx);
// Its backward: gx [N, H, W, C] for input rows r = n * H + h in [r0, r1), from the output
// gradient g and idx: g at each window's recorded position, zero everywhere else.
int snncore_max_pool2d_bwd_f32(int64_t N, int64_t H, int64_t W, int64_t C, int64_t kh,
                               int64_t kw, int64_t r0, int64_t r1, const float* g,
                               const uint8_t* idx, float* gx);

}  // extern "C"

#endif  // SNNCORE_FUSED_LOOPS_H
