// Register-tile interpreter for the generic fused loops (see snncore/_kernel.py and snncore/backends/_generic.py).
//
// A neuron's step is described as a straight-line program of elementwise float32 operations
// (traced from the neuron's own step function). The interpreter runs that program over tiles of
// TILE neurons at a time, with the whole time loop inside the tile, so the state of a tile stays
// in cache between steps; each instruction is a short vectorisable loop over the tile.
//
// Every operation rounds exactly as PyTorch's CPU kernel does for add, sub, mul, div, neg,
// comparisons, min/max, where, sqrt and reciprocal (the build disables floating-point
// contraction), so a program made of those reproduces the eager step bit for bit. exp (and
// sigmoid) use snn_expf (kernel_vm.h, vectorisable); the other transcendental functions (log,
// tanh, ...) use the C library; both may differ from PyTorch's vectorised versions in the last
// bit.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernel_vm.h"

namespace {

constexpr int64_t TILE = 1024;

enum Op : int32_t {
    COPY = 0, ADD, SUB, MUL, DIV, NEG, EXP, LOG, SQRT, RECIP, ABS, SIGMOID, TANH, ERF, ATAN,
    SIN, COS, FLOOR, CEIL, ROUND, TRUNC, SIGN, RELU, MIN, MAX, POW, GT, GE, LT, LE, EQ, NE,
    AND, OR, XOR, NOT, WHERE, SIGMOID_BWD, TANH_BWD, NE0, EXPM1, LOG1P, RSQRT
};

#define LOOP1(EXPR) for (int64_t j = 0; j < w; ++j) { const float u = a[j]; d[j] = (EXPR); } break;
#define LOOP2(EXPR) for (int64_t j = 0; j < w; ++j) { const float u = a[j], v = b[j]; d[j] = (EXPR); } break;

// P[r] points at register r's TILE floats: normally its slot in the register file, but the
// input and output rows of a step are pointed at directly in memory (no copies).
void run(const int32_t* code, int64_t n, float* const* P, int64_t w) {
    for (int64_t i = 0; i < n; ++i) {
        const int32_t* c = code + 5 * i;
        float* __restrict d = P[c[1]];
        const float* a = P[c[2]];
        const float* b = P[c[3]];
        const float* e = P[c[4]];
        switch (c[0]) {
            case COPY: LOOP1(u)
            case ADD: LOOP2(u + v)
            case SUB: LOOP2(u - v)
            case MUL: LOOP2(u * v)
            case DIV: LOOP2(u / v)
            case NEG: LOOP1(-u)
            case EXP: LOOP1(snn_expf(u))
            case LOG: LOOP1(std::log(u))
            case SQRT: LOOP1(std::sqrt(u))
            case RECIP: LOOP1(1.0f / u)
            case ABS: LOOP1(std::fabs(u))
            case SIGMOID: LOOP1(1.0f / (1.0f + snn_expf(-u)))
            case TANH: LOOP1(std::tanh(u))
            case ERF: LOOP1(std::erf(u))
            case ATAN: LOOP1(std::atan(u))
            case SIN: LOOP1(std::sin(u))
            case COS: LOOP1(std::cos(u))
            case FLOOR: LOOP1(std::floor(u))
            case CEIL: LOOP1(std::ceil(u))
            case ROUND: LOOP1(std::nearbyint(u))
            case TRUNC: LOOP1(std::trunc(u))
            case SIGN: LOOP1(float((u > 0.0f) - (u < 0.0f)))
            case RELU: LOOP1(u > 0.0f ? u : (std::isnan(u) ? u : 0.0f))
            case MIN: LOOP2((std::isnan(u) || std::isnan(v)) ? NAN : (u < v ? u : v))
            case MAX: LOOP2((std::isnan(u) || std::isnan(v)) ? NAN : (u > v ? u : v))
            case POW: LOOP2(std::pow(u, v))
            case GT: LOOP2(u > v ? 1.0f : 0.0f)
            case GE: LOOP2(u >= v ? 1.0f : 0.0f)
            case LT: LOOP2(u < v ? 1.0f : 0.0f)
            case LE: LOOP2(u <= v ? 1.0f : 0.0f)
            case EQ: LOOP2(u == v ? 1.0f : 0.0f)
            case NE: LOOP2(u != v ? 1.0f : 0.0f)
            case AND: LOOP2((u != 0.0f && v != 0.0f) ? 1.0f : 0.0f)
            case OR: LOOP2((u != 0.0f || v != 0.0f) ? 1.0f : 0.0f)
            case XOR: LOOP2(((u != 0.0f) != (v != 0.0f)) ? 1.0f : 0.0f)
            case NOT: LOOP1(u == 0.0f ? 1.0f : 0.0f)
            case WHERE:
                for (int64_t j = 0; j < w; ++j) d[j] = a[j] != 0.0f ? b[j] : e[j];
                break;
            case SIGMOID_BWD: LOOP2(u * (1.0f - v) * v)
            case TANH_BWD: LOOP2(u * (1.0f - v * v))
            case NE0: LOOP1(u != 0.0f ? 1.0f : 0.0f)
            case EXPM1: LOOP1(std::expm1(u))
            case LOG1P: LOOP1(std::log1p(u))
            case RSQRT: LOOP1(1.0f / std::sqrt(u))
            default: break;
        }
    }
}

inline void load(float* r, const float* src, int64_t stride, int64_t w) {
    if (stride == 0) {
        for (int64_t j = 0; j < TILE; ++j) r[j] = src[0];
    } else {
        std::memcpy(r, src, sizeof(float) * w);
    }
}

// A thread's register file and the pointer table over it.
struct Regs {
    std::vector<float> data;
    std::vector<float*> P;
    Regs(int32_t n, const float* consts, int32_t nconst)
        : data(size_t(n) * TILE, 0.0f), P(size_t(n)) {
        for (int32_t k = 0; k < n; ++k) P[k] = data.data() + int64_t(k) * TILE;
        for (int32_t k = 0; k < nconst; ++k)
            for (int64_t j = 0; j < TILE; ++j) P[k][j] = consts[k];
    }
    float* slot(int32_t k) { return data.data() + int64_t(k) * TILE; }
};

// Copy registers from[k] -> to[k] for k < n through scratch registers (the two sets may overlap).
inline void shuffle(Regs& R, const int32_t* from, const int32_t* to, int32_t n, int32_t tmp0,
                    int64_t w) {
    if (n == 1) {
        if (R.P[from[0]] != R.P[to[0]]) std::memcpy(R.P[to[0]], R.P[from[0]], 4 * w);
        return;
    }
    for (int32_t k = 0; k < n; ++k) std::memcpy(R.slot(tmp0 + k), R.P[from[k]], 4 * w);
    for (int32_t k = 0; k < n; ++k) std::memcpy(R.P[to[k]], R.slot(tmp0 + k), 4 * w);
}

}  // namespace

extern "C" {

int snncore_vm_abi_version() { return 4; }

int snncore_vm_fwd(const SnnVmFwd* A) {
    const int64_t M = A->M, T = A->T, ntiles = (M + TILE - 1) / TILE;
    const int32_t nr = A->nregs + A->ns;
    // the output register is pointed at the output row when it is a temporary of the program
    bool direct_out = A->rout >= A->nconst;
    for (int32_t k = 0; k < A->ns; ++k) if (A->rs_in[k] == A->rout) direct_out = false;
    for (int32_t k = 0; k < A->np; ++k) if (A->rp[k] == A->rout) direct_out = false;
    if (A->rout == A->rx) direct_out = false;
    const bool stream = SNN_CAN_STREAM && A->stream;
    if (stream) direct_out = false;  // the output row is streamed out of its register
#ifdef _OPENMP
#pragma omp parallel num_threads(A->nthreads) if (A->nthreads > 1)
#endif
    {
        Regs R(nr, A->consts, A->nconst);
        float* const* P = R.P.data();
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t tile = 0; tile < ntiles; ++tile) {
            const int64_t a = tile * TILE, w = (a + TILE <= M) ? TILE : M - a;
            for (int32_t k = 0; k < A->np; ++k)
                load(R.P[A->rp[k]], A->params[k] + a * A->pstride[k], A->pstride[k], w);
            run(A->pre, A->npre, P, w);
            for (int32_t k = 0; k < A->ns; ++k) load(R.P[A->rs_in[k]], A->state[k] + a, 1, w);
            for (int64_t t = 0; t < T; ++t) {
                if (A->ckpt && t % A->K == 0) {
                    float* c = A->ckpt + (t / A->K) * A->ns * M;
                    for (int32_t k = 0; k < A->ns; ++k)
                        std::memcpy(c + k * M + a, R.P[A->rs_in[k]], 4 * w);
                }
                R.P[A->rx] = const_cast<float*>(A->x) + t * M + a;
                if (direct_out) R.P[A->rout] = A->out + t * M + a;
                run(A->code, A->ncode, P, w);
                if (stream) {
                    snn_stream_row(A->out + t * M + a, R.P[A->rout], w);
                    for (int32_t k = 0; k < A->ns; ++k)
                        if (A->rec[k]) snn_stream_row(A->rec[k] + t * M + a, R.P[A->rs_out[k]], w);
                } else {
                    if (!direct_out) std::memcpy(A->out + t * M + a, R.P[A->rout], 4 * w);
                    for (int32_t k = 0; k < A->ns; ++k)
                        if (A->rec[k])
                            std::memcpy(A->rec[k] + t * M + a, R.P[A->rs_out[k]], 4 * w);
                }
                shuffle(R, A->rs_out, A->rs_in, A->ns, A->nregs, w);
            }
            if (direct_out) R.P[A->rout] = R.slot(A->rout);
            for (int32_t k = 0; k < A->ns; ++k)
                std::memcpy(A->state[k] + a, R.P[A->rs_in[k]], 4 * w);
            if (stream) snn_stream_fence();
        }
    }
    return 0;
}

int snncore_vm_bwd(const SnnVmBwd* A) {
    const int64_t M = A->M, T = A->T, K = A->K, ntiles = (M + TILE - 1) / TILE;
    const int32_t ns = A->ns, np = A->np;
    const int32_t fnr = A->fnregs + ns, bnr = A->bnregs + ns;
    const int64_t nblk = (T + K - 1) / K;
    bool direct_gx = A->gx && A->brgx >= A->nbconst && A->brgx != A->brx && A->brgx != A->brgout;
    for (int32_t k = 0; k < ns && direct_gx; ++k)
        if (A->brgx == A->brs_in[k] || A->brgx == A->brgs_out[k] || A->brgx == A->brgs_in[k])
            direct_gx = false;
    for (int32_t k = 0; k < np && direct_gx; ++k)
        if (A->brgx == A->brp[k] || A->brgx == A->brgp[k]) direct_gx = false;
    const bool stream = SNN_CAN_STREAM && A->stream && A->gx;
    if (stream) direct_gx = false;  // the gradient row is streamed out of its register
#ifdef _OPENMP
#pragma omp parallel num_threads(A->nthreads) if (A->nthreads > 1)
#endif
    {
        Regs F(fnr, A->fconsts, A->nfconst), B(bnr, A->bconsts, A->nbconst);
        std::vector<float> sbuf(size_t(K) * ns * TILE + 1);
        std::vector<float> zero(TILE, 0.0f);
        float* const* FP = F.P.data();
        float* const* BP = B.P.data();
#ifdef _OPENMP
#pragma omp for schedule(static)
#endif
        for (int64_t tile = 0; tile < ntiles; ++tile) {
            const int64_t a = tile * TILE, w = (a + TILE <= M) ? TILE : M - a;
            for (int32_t k = 0; k < np; ++k) {
                const float* src = A->params[k] + a * A->pstride[k];
                load(F.P[A->frp[k]], src, A->pstride[k], w);
                load(B.P[A->brp[k]], src, A->pstride[k], w);
            }
            run(A->fpre, A->nfpre, FP, w);
            run(A->bpre, A->nbpre, BP, w);
            for (int32_t k = 0; k < ns; ++k) load(B.P[A->brgs_out[k]], A->gstate[k] + a, 1, w);
            for (int64_t blk = nblk - 1; blk >= 0; --blk) {
                const int64_t t0 = blk * K, t1 = (t0 + K < T) ? t0 + K : T;
                // without checkpoints the gradient program reads no state: no recomputation
                const float* c = A->ckpt ? A->ckpt + blk * ns * M : nullptr;
                if (c)
                    for (int32_t k = 0; k < ns; ++k)
                        load(F.P[A->frs_in[k]], c + k * M + a, 1, w);
                for (int64_t t = t0; t < t1 && c; ++t) {
                    float* sb = sbuf.data() + (t - t0) * ns * TILE;
                    for (int32_t k = 0; k < ns; ++k)
                        std::memcpy(sb + k * TILE, F.P[A->frs_in[k]], 4 * w);
                    if (t + 1 == t1) break;  // the last step's output state is not needed
                    F.P[A->frx] = const_cast<float*>(A->x) + t * M + a;
                    run(A->fcode, A->nfcode, FP, w);
                    shuffle(F, A->frs_out, A->frs_in, ns, A->fnregs, w);
                }
                for (int64_t t = t1 - 1; t >= t0; --t) {
                    float* sb = sbuf.data() + (t - t0) * ns * TILE;
                    for (int32_t k = 0; k < ns; ++k)
                        B.P[A->brs_in[k]] = c ? sb + k * TILE : zero.data();
                    B.P[A->brx] = A->x ? const_cast<float*>(A->x) + t * M + a : zero.data();
                    B.P[A->brgout] = A->gout ? const_cast<float*>(A->gout) + t * A->gout_ts + a
                                             : zero.data();
                    for (int32_t k = 0; k < ns; ++k) {
                        if (!A->grec[k]) continue;
                        float* g = B.P[A->brgs_out[k]];
                        const float* src = A->grec[k] + t * A->grec_ts[k] + a;
                        for (int64_t j = 0; j < w; ++j) g[j] = g[j] + src[j];
                    }
                    if (direct_gx) B.P[A->brgx] = A->gx + t * M + a;
                    run(A->bcode, A->nbcode, BP, w);
                    if (stream) snn_stream_row(A->gx + t * M + a, B.P[A->brgx], w);
                    else if (A->gx && !direct_gx)
                        std::memcpy(A->gx + t * M + a, B.P[A->brgx], 4 * w);
                    for (int32_t k = 0; k < np; ++k) {
                        if (!A->gp[k]) continue;
                        double* acc = A->gp[k] + a;
                        const float* g = B.P[A->brgp[k]];
                        for (int64_t j = 0; j < w; ++j) acc[j] += double(g[j]);
                    }
                    shuffle(B, A->brgs_in, A->brgs_out, ns, A->bnregs, w);
                }
            }
            for (int32_t k = 0; k < ns; ++k) B.P[A->brs_in[k]] = B.slot(A->brs_in[k]);
            B.P[A->brx] = B.slot(A->brx);
            B.P[A->brgout] = B.slot(A->brgout);
            if (direct_gx) B.P[A->brgx] = B.slot(A->brgx);
            F.P[A->frx] = F.slot(A->frx);
            for (int32_t k = 0; k < ns; ++k)
                std::memcpy(A->gstate[k] + a, B.P[A->brgs_out[k]], 4 * w);
            if (stream) snn_stream_fence();
        }
    }
    return 0;
}

}  // extern "C"
