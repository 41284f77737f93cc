// Native time loops of the fused backend: see fused_loops.h for the C ABI.
#include "fused_loops.h"
#include "streaming.h"
#include "max_pool.h"

#include <atomic>
#include <cstdint>
#include <cmath>
#include <type_traits>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <vector>

namespace {

constexpr int64_t TILE = 1024;

// -- streaming stores (snn_stream_row, streaming.h) ------------------------------------------
// An output of at least snncore_fused_stream_bytes is written with streaming stores; a row that
// aliases an input (an in-place output) is always written directly.
// Whether a loop over T steps of M neurons streams its outputs.
template <typename F>
inline bool streams(int64_t T, int64_t M) {
    return SNN_CAN_STREAM && T * M * int64_t(sizeof(F)) >= snncore_fused_stream_bytes;
}

template <typename F>
inline F step_fn(F x) { return x > F(0) ? F(1) : F(0); }

template <typename F, int SG>
inline F surrogate(F x, F a) {
    if (SG == 1) {  // atan: (alpha/2) / (1 + (pi/2*alpha*x)^2); a = alpha
        F c = F(1.5707963267948966) * a * x;
        return (a / F(2)) / (F(1) + c * c);
    } else {  // SG == 2, fast sigmoid: 1 / (k|x| + 1)^2
        F d = a * std::fabs(x) + F(1);
        return F(1) / (d * d);
    }
}

// KIND: 0 leaky, 1 synaptic, 2 rleaky, 3 rsynaptic. RESET: 0 subtract, 1 zero, 2 none.
// DELAY: reset_delay. Operation order is that of the eager step functions.
template <int KIND> struct Kind {
    static constexpr bool SYN = KIND == 1 || KIND == 3;
    static constexpr bool REC = KIND == 2 || KIND == 3;
    // checkpoint layout: NS rows of M per block: mem, then syn (SYN), then spk (REC)
    static constexpr int64_t NS = 1 + (SYN ? 1 : 0) + (REC ? 1 : 0);
    static constexpr int64_t SPK_ROW = SYN ? 2 : 1;
};

// One forward step of one neuron. Updates the state (u: post-reset membrane, I: current,
// S: last emitted spike), writes the emitted spike to o and returns the pre-reset membrane.
template <typename F, int KIND, int RESET, int DELAY>
inline F fstep(F xv, F& u, F& I, F& S, F bt, F al, F vv, F th, F gf, F& o) {
    F d;
    if (Kind<KIND>::SYN) {
        F cur = al * I + xv;
        if (Kind<KIND>::REC) cur = cur + vv * S;
        I = cur;
        d = cur;
    } else if (Kind<KIND>::REC) {
        d = xv + vv * S;
    } else {
        d = xv;
    }
    F hv;
    if (DELAY && RESET != 2) {
        const F r = step_fn(u - th);
        if (RESET == 0) hv = bt * u + d - r * th;
        else hv = bt * ((F(1) - r) * u) + d;
    } else {
        hv = bt * u + d;
    }
    const F s = step_fn(hv - th);
    o = s * gf;
    F un = hv;
    if (!DELAY && RESET != 2) {
        if (RESET == 0) un = hv - s * th;
        else un = hv * (F(1) - s);
    }
    u = un;
    if (Kind<KIND>::REC) S = o;
    return hv;
}

// The post-reset membrane of a step from its pre-reset membrane.
template <typename F, int RESET, int DELAY>
inline F post_reset(F hv, F th) {
    if (DELAY || RESET == 2) return hv;
    const F s = step_fn(hv - th);
    return RESET == 0 ? hv - s * th : hv * (F(1) - s);
}

// One reverse step of one neuron; returns the gradient of the input X_t. hv: pre-reset membrane
// of step t; up, sp, ip: membrane, emitted spike and current after step t-1; gext: gradient of
// the spike output of step t; gmem, gsyn, gsst: gradients carried from step t+1 (in/out).
struct Acc { double *beta, *alpha, *V, *thr, *g; };

template <typename F> struct Par { const F *beta, *alpha, *V, *thr, *g; };

template <typename F>
inline Par<F> shift(Par<F> p, int64_t a) {
    return {p.beta + a, p.alpha ? p.alpha + a : nullptr, p.V ? p.V + a : nullptr, p.thr + a,
            p.g + a};
}

inline Acc shift(Acc c, int64_t a) {
    return {c.beta ? c.beta + a : nullptr, c.alpha ? c.alpha + a : nullptr,
            c.V ? c.V + a : nullptr, c.thr ? c.thr + a : nullptr, c.g ? c.g + a : nullptr};
}

template <typename F, int KIND, int RESET, int DELAY, bool LEARN>
inline F bstep(F hv, F up, F sp, F ip, F gext, F sgv, F& gmem, F& gsyn, F& gsst, Acc acc,
               int64_t j, F bt, F al, F vv, F th, F gf) {
    const F s = step_fn(hv - th);
    F gS = gext;
    if (Kind<KIND>::REC) gS = gS + gsst;
    if (LEARN) acc.g[j] += double(gS * s);
    const F gfire = gS * gf * sgv;
    const F gU = gmem;
    F gh, gth = -gfire, keep = F(1);
    if (DELAY) {
        gh = gU + gfire;
        if (RESET == 0) gth = gth - gh * step_fn(up - th);
        if (RESET == 1) keep = F(1) - step_fn(up - th);
    } else {
        gh = (RESET == 1 ? gU * (F(1) - s) : gU) + gfire;
        if (RESET == 0) gth = gth - gU * s;
    }
    if (LEARN) {
        acc.thr[j] += double(gth);
        acc.beta[j] += double(gh * (keep * up));
    }
    gmem = gh * bt * keep;
    F gd = gh;
    if (Kind<KIND>::SYN) {
        gd = gh + gsyn;
        if (LEARN) acc.alpha[j] += double(gd * ip);
        gsyn = gd * al;
    }
    if (Kind<KIND>::REC) {
        if (LEARN) acc.V[j] += double(gd * sp);
        gsst = gd * vv;
    }
    return gd;
}

// One forward step for n neurons (every pointer starts at the first of them). WSPK: write the
// spikes to st; STORE: 0 nothing else, 1 also h to ht, 2 also the current to it.
template <typename F, int KIND, int RESET, int DELAY, bool WSPK, int STORE>
inline void frow(int64_t n, const F* xt, F* st, F* ht, F* it, F* mem, F* syn, F* sst,
                 Par<F> p) {
#pragma GCC ivdep
    for (int64_t j = 0; j < n; ++j) {  // row loop: vectorised (test_native_build.py checks)
        F u = mem[j];
        F I = Kind<KIND>::SYN ? syn[j] : F(0);
        F S = Kind<KIND>::REC ? sst[j] : F(0);
        F o;
        const F hv = fstep<F, KIND, RESET, DELAY>(
            xt[j], u, I, S, p.beta[j], Kind<KIND>::SYN ? p.alpha[j] : F(0),
            Kind<KIND>::REC ? p.V[j] : F(0), p.thr[j], p.g[j], o);
        if (WSPK) st[j] = o;
        if (STORE >= 1) ht[j] = hv;
        if (STORE == 2) it[j] = I;
        mem[j] = u;
        if (Kind<KIND>::SYN) syn[j] = I;
        if (Kind<KIND>::REC) sst[j] = S;
    }
}

// One reverse step for n neurons. FIRST: the previous state comes from (mem0, syn0, spk0)
// instead of the previous pre-reset membrane hp (and current ipp).
template <typename F, int KIND, int RESET, int DELAY, int SG, bool LEARN, bool FIRST,
          bool SUM = false>
inline void brow(int64_t n, const F* ht, const F* hp, const F* ipp, const F* mem0,
                 const F* syn0, const F* spk0, const F* gt, const F* sgt, F* gxt, F* gmem,
                 F* gsyn, F* gsst, Acc acc, Par<F> p, F sa, double* gsum = nullptr) {
#pragma GCC ivdep
    for (int64_t j = 0; j < n; ++j) {  // row loop: vectorised (test_native_build.py checks)
        const F th = p.thr[j], gf = p.g[j], hv = ht[j];
        F up, sp = F(0), ip = F(0);
        if (FIRST) {
            up = mem0[j];
            if (Kind<KIND>::REC) sp = spk0[j];
            if (Kind<KIND>::SYN && LEARN) ip = syn0[j];
        } else {
            const F hpv = hp[j];
            up = post_reset<F, RESET, DELAY>(hpv, th);
            if (Kind<KIND>::REC) sp = step_fn(hpv - th) * gf;
            if (Kind<KIND>::SYN && LEARN) ip = ipp[j];
        }
        const F sgv = SG == 0 ? sgt[j] : surrogate<F, SG>(hv - th, sa);
        F gsy = Kind<KIND>::SYN ? gsyn[j] : F(0);
        F gss = Kind<KIND>::REC ? gsst[j] : F(0);
        F gm = gmem[j];
        const F gxv = bstep<F, KIND, RESET, DELAY, LEARN>(
            hv, up, sp, ip, gt[j], sgv, gm, gsy, gss, acc, j, p.beta[j],
            Kind<KIND>::SYN ? p.alpha[j] : F(0), Kind<KIND>::REC ? p.V[j] : F(0), th, gf);
        gxt[j] = gxv;
        if (SUM) gsum[j] += double(gxv);
        gmem[j] = gm;
        if (Kind<KIND>::SYN) gsyn[j] = gsy;
        if (Kind<KIND>::REC) gsst[j] = gss;
    }
}

// Recorded states: copy a row of n neurons into rec + o (rec may be null).
template <typename F>
inline void record_row(int64_t n, F* rec, int64_t o, const F* row) {
    if (!rec) return;
    F* r = rec + o;
    for (int64_t j = 0; j < n; ++j) r[j] = row[j];
}

// Gradients of recorded states: add the row of n neurons at g + o to the carried gradient acc.
template <typename F>
inline void add_row(int64_t n, const F* g, int64_t o, F* acc) {
    if (!g) return;
    const F* r = g + o;
    for (int64_t j = 0; j < n; ++j) acc[j] += r[j];
}

// Forward over neurons [m0, m1) and all T steps; optionally stores h (pre-reset membrane),
// synseq (current) and ckpt (the state before every K-th step: [ceil(T/K), NS, M], rows mem,
// then syn and spk where the kind has them).
template <typename F, int KIND, int RESET, int DELAY, int STORE>
void fwd(int64_t T, int64_t M, int64_t m0, int64_t m1, const F* x, F* spk, F* h, F* synseq,
         F* mem, F* syn, F* sst, Par<F> p, int64_t K, F* ckpt, F* rmem, F* rsyn, bool stream) {
    alignas(64) F sb[TILE], hb[TILE], ib[TILE];
    const bool ss = stream && spk != x, sh = stream && STORE >= 1 && h != x;
    const bool si = stream && STORE == 2;
    for (int64_t a = m0; a < m1; a += TILE) {
        const int64_t b = a + TILE < m1 ? a + TILE : m1;
        const int64_t n = b - a;
        const Par<F> pa = shift(p, a);
        for (int64_t t = 0; t < T; ++t) {
            if (ckpt && t % K == 0) {
                F* c = ckpt + (t / K) * Kind<KIND>::NS * M;
                for (int64_t i = a; i < b; ++i) {
                    c[i] = mem[i];
                    if (Kind<KIND>::SYN) c[M + i] = syn[i];
                    if (Kind<KIND>::REC) c[Kind<KIND>::SPK_ROW * M + i] = sst[i];
                }
            }
            const int64_t o = t * M + a;
            frow<F, KIND, RESET, DELAY, true, STORE>(
                n, x + o, ss ? sb : spk + o, STORE >= 1 ? (sh ? hb : h + o) : nullptr,
                STORE == 2 ? (si ? ib : synseq + o) : nullptr, mem + a,
                Kind<KIND>::SYN ? syn + a : nullptr, Kind<KIND>::REC ? sst + a : nullptr, pa);
            if (ss) snn_stream_row(spk + o, sb, n);
            if (sh) snn_stream_row(h + o, hb, n);
            if (si) snn_stream_row(synseq + o, ib, n);
            if (stream) {
                if (rmem) snn_stream_row(rmem + o, mem + a, n);
                if (Kind<KIND>::SYN && rsyn) snn_stream_row(rsyn + o, syn + a, n);
            } else {
                record_row(n, rmem, o, mem + a);
                if (Kind<KIND>::SYN) record_row(n, rsyn, o, syn + a);
            }
        }
    }
    if (stream) snn_stream_fence();
}

// Reverse loop over steps [t0, t1) (descending) for neurons [m0, m1), from the stored pre-reset
// membrane h (and current synseq when LEARN and the kind has one), indexed by absolute step.
// gspk has time stride gts (M, or 0 for one row used at every step) and sgarr (derivatives
// computed outside when SG == 0) are relative to t0. gx may alias h: each element of h is read
// before the same element of gx is written, and h[t-1] is read at step t before step t-1
// overwrites it. SUM: also add every step's input gradient to gsum (per neuron, in double; the
// gradient of a bias added to the input at every step).
template <typename F, int KIND, int RESET, int DELAY, int SG, bool LEARN, bool SUM>
void bwd(int64_t M, int64_t m0, int64_t m1, int64_t t0, int64_t t1, int64_t gts, const F* gspk,
         const F* h, const F* sgarr, const F* synseq, const F* mem0, const F* syn0,
         const F* spk0, F* gx, F* gmem, F* gsyn, F* gsst, Acc acc, Par<F> p, F sa,
         double* gsum, int64_t gmts, const F* grmem, int64_t gsts, const F* grsyn, bool stream) {
    alignas(64) F gb[TILE];
    const bool sgx = stream && gx != h;
    for (int64_t a = m0; a < m1; a += TILE) {
        const int64_t b = a + TILE < m1 ? a + TILE : m1;
        const int64_t n = b - a;
        const Par<F> pa = shift(p, a);
        const Acc ca = shift(acc, a);
        F* gm = gmem + a;
        F* gy = Kind<KIND>::SYN ? gsyn + a : nullptr;
        F* gz = Kind<KIND>::REC ? gsst + a : nullptr;
        double* gu = SUM ? gsum + a : nullptr;
        for (int64_t t = t1 - 1; t >= t0; --t) {
            const F* ht = h + t * M + a;
            const F* gt = gspk + (t - t0) * gts + a;
            const F* sgt = SG == 0 ? sgarr + (t - t0) * M + a : nullptr;
            F* const gxo = gx + t * M + a;
            F* gxt = sgx ? gb : gxo;
            add_row(n, grmem, (t - t0) * gmts + a, gm);
            if (Kind<KIND>::SYN) add_row(n, grsyn, (t - t0) * gsts + a, gy);
            if (t > 0) {
                const F* ipp = (Kind<KIND>::SYN && LEARN) ? synseq + (t - 1) * M + a : nullptr;
                brow<F, KIND, RESET, DELAY, SG, LEARN, false, SUM>(
                    n, ht, ht - M, ipp, nullptr, nullptr, nullptr, gt, sgt, gxt, gm, gy, gz, ca,
                    pa, sa, gu);
            } else {
                brow<F, KIND, RESET, DELAY, SG, LEARN, true, SUM>(
                    n, ht, nullptr, nullptr, mem0 + a, Kind<KIND>::SYN ? syn0 + a : nullptr,
                    Kind<KIND>::REC ? spk0 + a : nullptr, gt, sgt, gxt, gm, gy, gz, ca, pa, sa,
                    gu);
            }
            if (sgx) snn_stream_row(gxo, gb, n);
        }
    }
    if (sgx) snn_stream_fence();
}

// Reverse loop that recomputes the forward block by block from the checkpoints written by fwd
// (every K steps) and the input x, so that nothing of size T is kept between the passes.
// gx may alias x: a block's inputs are all read (recomputing its membranes) before any of its
// gradients is written, and earlier blocks are not touched yet. SUM: as in bwd.
template <typename F, int KIND, int RESET, int DELAY, int SG, bool LEARN, bool SUM>
void bwd_rc(int64_t T, int64_t M, int64_t m0, int64_t m1, int64_t K, const F* x, const F* ckpt,
            int64_t gts, const F* gspk, F* gx, F* gmem, F* gsyn, F* gsst, Acc acc, Par<F> p,
            F sa, double* gsum, int64_t gmts, const F* grmem, int64_t gsts, const F* grsyn,
            bool stream) {
    constexpr bool KEEP_I = Kind<KIND>::SYN && LEARN;
    std::vector<F> hbuf(K * TILE), ibuf(KEEP_I ? K * TILE : 1);
    F u[TILE], I[TILE], S[TILE];
    alignas(64) F gb[TILE];
    const bool sgx = stream && gx != x;
    const int64_t nb = (T + K - 1) / K;
    for (int64_t a = m0; a < m1; a += TILE) {
        const int64_t b = a + TILE < m1 ? a + TILE : m1;
        const int64_t n = b - a;
        const Par<F> pa = shift(p, a);
        const Acc ca = shift(acc, a);
        F* gm = gmem + a;
        F* gy = Kind<KIND>::SYN ? gsyn + a : nullptr;
        F* gz = Kind<KIND>::REC ? gsst + a : nullptr;
        double* gu = SUM ? gsum + a : nullptr;
        for (int64_t blk = nb - 1; blk >= 0; --blk) {
            const int64_t t0 = blk * K, t1 = t0 + K < T ? t0 + K : T;
            const F* c = ckpt + blk * Kind<KIND>::NS * M;
            const F* cm = c + a;
            const F* cy = Kind<KIND>::SYN ? c + M + a : nullptr;
            const F* cz = Kind<KIND>::REC ? c + Kind<KIND>::SPK_ROW * M + a : nullptr;
            for (int64_t j = 0; j < n; ++j) {
                u[j] = cm[j];
                I[j] = Kind<KIND>::SYN ? cy[j] : F(0);
                S[j] = Kind<KIND>::REC ? cz[j] : F(0);
            }
            for (int64_t t = t0; t < t1; ++t) {
                frow<F, KIND, RESET, DELAY, false, KEEP_I ? 2 : 1>(
                    n, x + t * M + a, nullptr, hbuf.data() + (t - t0) * TILE,
                    KEEP_I ? ibuf.data() + (t - t0) * TILE : nullptr, u, I, S, pa);
            }
            for (int64_t t = t1 - 1; t >= t0; --t) {
                const F* ht = hbuf.data() + (t - t0) * TILE;
                const F* gt = gspk + t * gts + a;
                F* const gxo = gx + t * M + a;
                F* gxt = sgx ? gb : gxo;
                add_row(n, grmem, t * gmts + a, gm);
                if (Kind<KIND>::SYN) add_row(n, grsyn, t * gsts + a, gy);
                if (t > t0) {
                    const F* ipp = KEEP_I ? ibuf.data() + (t - 1 - t0) * TILE : nullptr;
                    brow<F, KIND, RESET, DELAY, SG, LEARN, false, SUM>(
                        n, ht, ht - TILE, ipp, nullptr, nullptr, nullptr, gt, nullptr, gxt, gm,
                        gy, gz, ca, pa, sa, gu);
                } else {
                    brow<F, KIND, RESET, DELAY, SG, LEARN, true, SUM>(
                        n, ht, nullptr, nullptr, cm, cy, cz, gt, nullptr, gxt, gm, gy, gz, ca,
                        pa, sa, gu);
                }
                if (sgx) snn_stream_row(gxo, gb, n);
            }
        }
    }
    if (sgx) snn_stream_fence();
}

// Runtime -> compile-time dispatch over (kind, reset, delay) and one more small integer.
template <int NX, typename Fn>
int dispatch(int kind, int reset, int delay, int extra, Fn&& fn) {
    auto with_x = [&](auto k, auto r, auto d) -> int {
        static_assert(NX >= 1 && NX <= 6, "");
        switch (extra) {
            case 0: fn(k, r, d, std::integral_constant<int, 0>{}); return 0;
            case 1: if (NX > 1) { fn(k, r, d, std::integral_constant<int, 1>{}); return 0; } break;
            case 2: if (NX > 2) { fn(k, r, d, std::integral_constant<int, (NX > 2 ? 2 : 0)>{});
                                  return 0; } break;
            case 3: if (NX > 3) { fn(k, r, d, std::integral_constant<int, (NX > 3 ? 3 : 0)>{});
                                  return 0; } break;
            case 4: if (NX > 4) { fn(k, r, d, std::integral_constant<int, (NX > 4 ? 4 : 0)>{});
                                  return 0; } break;
            case 5: if (NX > 5) { fn(k, r, d, std::integral_constant<int, (NX > 5 ? 5 : 0)>{});
                                  return 0; } break;
        }
        return 1;
    };
    auto with_d = [&](auto k, auto r) -> int {
        return delay ? with_x(k, r, std::integral_constant<int, 1>{})
                     : with_x(k, r, std::integral_constant<int, 0>{});
    };
    auto with_r = [&](auto k) -> int {
        switch (reset) {
            case 0: return with_d(k, std::integral_constant<int, 0>{});
            case 1: return with_d(k, std::integral_constant<int, 1>{});
            case 2: return with_d(k, std::integral_constant<int, 2>{});
        }
        return 1;
    };
    switch (kind) {
        case 0: return with_r(std::integral_constant<int, 0>{});
        case 1: return with_r(std::integral_constant<int, 1>{});
        case 2: return with_r(std::integral_constant<int, 2>{});
        case 3: return with_r(std::integral_constant<int, 3>{});
    }
    return 1;
}

// Run body(a, b) over neuron ranges covering [m0, m1), TILE neurons at a time. With OpenMP (the
// same runtime, and so the same threads, as PyTorch's own when it is loaded) every thread owns
// one contiguous share of the tiles and takes them from its front; a thread done with its own
// share takes the remaining tiles of the others from their backs, so a thread delayed by a busy
// machine does not hold up the others. Contiguous shares matter: measured on a 2-core VM, tiles
// dealt out alternately to the threads (neighbouring 4 KiB of every step on different cores)
// made a Leaky forward over 500 x 8192 neurons 1.45x slower than contiguous shares.
template <typename Body>
void split(int64_t m0, int64_t m1, int64_t work, Body&& body) {
#ifdef _OPENMP
    const int nt = omp_get_max_threads();
    const int64_t tiles = (m1 - m0 + TILE - 1) / TILE;
    if (nt > 1 && work >= snncore_fused_serial_work && tiles > 1 && tiles < (int64_t(1) << 31)) {
        const int parts = int(tiles < nt ? tiles : nt);
        // share r: tiles [front, back) packed as front << 32 | back
        std::vector<std::atomic<uint64_t>> share(parts);
        for (int r = 0; r < parts; ++r) {
            const uint64_t lo = uint64_t(tiles * r / parts), hi = uint64_t(tiles * (r + 1) / parts);
            share[r].store(lo << 32 | hi, std::memory_order_relaxed);
        }
        // take one tile of share r (from its front or its back); false when it is empty
        auto take = [&](int r, bool front, int64_t& tile) {
            uint64_t cur = share[r].load(std::memory_order_relaxed);
            for (;;) {
                const uint64_t lo = cur >> 32, hi = cur & 0xffffffffu;
                if (lo >= hi) return false;
                const uint64_t nxt = front ? (lo + 1) << 32 | hi : lo << 32 | (hi - 1);
                if (share[r].compare_exchange_weak(cur, nxt, std::memory_order_relaxed)) {
                    tile = int64_t(front ? lo : hi - 1);
                    return true;
                }
            }
        };
#pragma omp parallel num_threads(parts)
        {
            const int me = omp_get_thread_num();
            int64_t tile;
            for (int k = 0; k < parts; ++k) {
                const int r = (me + k) % parts;
                while (take(r, k == 0, tile)) {
                    const int64_t a = m0 + tile * TILE;
                    body(a, a + TILE < m1 ? a + TILE : m1);
                }
            }
        }
        return;
    }
#endif
    body(m0, m1);
}

template <typename F>
int fwd_entry(int kind, int reset, int delay, int64_t T, int64_t M, int64_t m0, int64_t m1,
              const F* x, F* spk, F* h, F* synseq, F* mem, F* syn, F* sst, const F* beta,
              const F* alpha, const F* V, const F* thr, const F* g, int64_t K, F* ckpt,
              F* rmem, F* rsyn) {
    Par<F> p{beta, alpha, V, thr, g};
    const int store = h ? (synseq ? 2 : 1) : 0;
    const bool stream = streams<F>(T, M);
    return dispatch<3>(kind, reset, delay, store, [&](auto k, auto r, auto d, auto s) {
        split(m0, m1, T * (m1 - m0), [&](int64_t a, int64_t b) {
            fwd<F, decltype(k)::value, decltype(r)::value, decltype(d)::value,
                decltype(s)::value>(T, M, a, b, x, spk, h, synseq, mem, syn, sst, p, K, ckpt,
                                    rmem, rsyn, stream);
        });
    });
}

// extra = surrogate code (0..2) + 3 * learn (0/1)
template <typename F>
int bwd_entry(int kind, int reset, int delay, int sg, int64_t M, int64_t m0, int64_t m1,
              int64_t t0, int64_t t1, int64_t gts, const F* gspk, const F* h, const F* sgarr,
              const F* synseq, const F* mem0, const F* syn0, const F* spk0, F* gx, F* gmem,
              F* gsyn, F* gsst, double* gbeta, double* galpha, double* gV, double* gthr,
              double* gg, const F* beta, const F* alpha, const F* V, const F* thr, const F* g,
              F sa, double* gsum, int64_t gmts, const F* grmem, int64_t gsts,
              const F* grsyn) {
    Par<F> p{beta, alpha, V, thr, g};
    Acc acc{gbeta, galpha, gV, gthr, gg};
    const int learn = gbeta ? 1 : 0;
    const bool stream = streams<F>(t1 - t0, M);
    auto run = [&](auto sum) {
        return dispatch<6>(kind, reset, delay, sg + 3 * learn,
                           [&](auto k, auto r, auto d, auto x) {
            constexpr int XV = decltype(x)::value;
            split(m0, m1, (t1 - t0) * (m1 - m0), [&](int64_t a, int64_t b) {
                bwd<F, decltype(k)::value, decltype(r)::value, decltype(d)::value, XV % 3,
                    (XV >= 3), decltype(sum)::value>(M, a, b, t0, t1, gts, gspk, h, sgarr,
                                                     synseq, mem0, syn0, spk0, gx, gmem, gsyn,
                                                     gsst, acc, p, sa, gsum, gmts, grmem, gsts,
                                                     grsyn, stream);
            });
        });
    };
    return gsum ? run(std::true_type{}) : run(std::false_type{});
}

template <typename F>
int bwd_rc_entry(int kind, int reset, int delay, int sg, int64_t T, int64_t M, int64_t m0,
                 int64_t m1, int64_t K, const F* x, const F* ckpt, int64_t gts, const F* gspk,
                 F* gx, F* gmem, F* gsyn, F* gsst, double* gbeta, double* galpha, double* gV,
                 double* gthr, double* gg, const F* beta, const F* alpha, const F* V,
                 const F* thr, const F* g, F sa, double* gsum, int64_t gmts,
                 const F* grmem, int64_t gsts, const F* grsyn) {
    if (sg != 1 && sg != 2) return 2;  // needs a native surrogate
    Par<F> p{beta, alpha, V, thr, g};
    Acc acc{gbeta, galpha, gV, gthr, gg};
    const int learn = gbeta ? 1 : 0;
    const bool stream = streams<F>(T, M);
    // extra = (surrogate code - 1) + 2 * learn
    auto run = [&](auto sum) {
        return dispatch<4>(kind, reset, delay, (sg - 1) + 2 * learn,
                           [&](auto k, auto r, auto d, auto xx) {
            constexpr int XV = decltype(xx)::value;
            split(m0, m1, T * (m1 - m0), [&](int64_t a, int64_t b) {
                bwd_rc<F, decltype(k)::value, decltype(r)::value, decltype(d)::value,
                       XV % 2 + 1, (XV >= 2), decltype(sum)::value>(
                    T, M, a, b, K, x, ckpt, gts, gspk, gx, gmem, gsyn, gsst, acc, p, sa, gsum,
                    gmts, grmem, gsts, grsyn, stream);
            });
        });
    };
    return gsum ? run(std::true_type{}) : run(std::false_type{});
}

}  // namespace

// The library is compiled as three parts in parallel (SNN_PART 0, 1, 2) and linked.
#define EXPORT_FWD(SUFFIX, F) \
extern "C" int snncore_fused_fwd_##SUFFIX(int kind, int reset, int delay, int64_t T, int64_t M, \
        int64_t m0, int64_t m1, const F* x, F* spk, F* h, F* synseq, F* mem, F* syn, F* sst, \
        const F* beta, const F* alpha, const F* V, const F* thr, const F* g, int64_t K, \
        F* ckpt, F* rmem, F* rsyn) { \
    return fwd_entry<F>(kind, reset, delay, T, M, m0, m1, x, spk, h, synseq, mem, syn, sst, \
                        beta, alpha, V, thr, g, K, ckpt, rmem, rsyn); }
#define EXPORT_BWD(SUFFIX, F) \
extern "C" int snncore_fused_bwd_##SUFFIX(int kind, int reset, int delay, int sg, int64_t M, \
        int64_t m0, int64_t m1, int64_t t0, int64_t t1, int64_t gts, const F* gspk, \
        const F* h, const F* sgarr, const F* synseq, const F* mem0, const F* syn0, \
        const F* spk0, F* gx, F* gmem, F* gsyn, F* gsst, double* gbeta, double* galpha, \
        double* gV, double* gthr, double* gg, const F* beta, const F* alpha, const F* V, \
        const F* thr, const F* g, F sa, double* gsum, int64_t gmts, const F* grmem, \
        int64_t gsts, const F* grsyn) { \
    return bwd_entry<F>(kind, reset, delay, sg, M, m0, m1, t0, t1, gts, gspk, h, sgarr, \
                        synseq, mem0, syn0, spk0, gx, gmem, gsyn, gsst, gbeta, galpha, gV, \
                        gthr, gg, beta, alpha, V, thr, g, sa, gsum, gmts, grmem, gsts, \
                        grsyn); }
#define EXPORT_BWD_RC(SUFFIX, F) \
extern "C" int snncore_fused_bwd_rc_##SUFFIX(int kind, int reset, int delay, int sg, int64_t T, \
        int64_t M, int64_t m0, int64_t m1, int64_t K, const F* x, const F* ckpt, int64_t gts, \
        const F* gspk, F* gx, F* gmem, F* gsyn, F* gsst, double* gbeta, double* galpha, \
        double* gV, double* gthr, double* gg, const F* beta, const F* alpha, const F* V, \
        const F* thr, const F* g, F sa, double* gsum, int64_t gmts, const F* grmem, \
        int64_t gsts, const F* grsyn) { \
    return bwd_rc_entry<F>(kind, reset, delay, sg, T, M, m0, m1, K, x, ckpt, gts, gspk, gx, \
                           gmem, gsyn, gsst, gbeta, galpha, gV, gthr, gg, beta, alpha, V, thr, \
                           g, sa, gsum, gmts, grmem, gsts, grsyn); }

#if !defined(SNN_PART) || SNN_PART == 0
EXPORT_FWD(f32, float)
extern "C" int snncore_fused_abi_version() { return SNNCORE_FUSED_ABI_VERSION; }
extern "C" int64_t snncore_fused_serial_work = int64_t(1) << 21;
extern "C" int64_t snncore_fused_stream_bytes = INT64_MAX;
extern "C" int snncore_fused_openmp() {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}
extern "C" int snncore_max_pool2d_fwd_f32(int64_t N, int64_t H, int64_t W, int64_t C,
                                          int64_t kh, int64_t kw, int64_t r0, int64_t r1,
                                          const float* x, float* y, uint8_t* idx) {
    if (!snn_pool::valid(N, H, W, C, kh, kw, r0, r1, N * (H / kh))) return 1;
    const snn_pool::Shape s{H, W, C, kh, kw, H / kh, W / kw};
    snn_pool::rows(r0, r1, (r1 - r0) * kh * W * C, snncore_fused_serial_work,
                   [&](int64_t a, int64_t b) {
        snn_pool::by_width<snn_pool::Fwd>(s, a, b, x, y, idx);
    });
    return 0;
}
extern "C" int snncore_max_pool2d_bwd_f32(int64_t N, int64_t H, int64_t W, int64_t C,
                                          int64_t kh, int64_t kw, int64_t r0, int64_t r1,
                                          const float* g, const uint8_t* idx, float* gx) {
    if (!snn_pool::valid(N, H, W, C, kh, kw, r0, r1, N * H)) return 1;
    const snn_pool::Shape s{H, W, C, kh, kw, H / kh, W / kw};
    snn_pool::rows(r0, r1, (r1 - r0) * W * C, snncore_fused_serial_work,
                   [&](int64_t a, int64_t b) {
        snn_pool::by_width<snn_pool::Bwd>(s, a, b, g, idx, gx);
    });
    return 0;
}
#endif
#if !defined(SNN_PART) || SNN_PART == 1
EXPORT_BWD(f32, float)
#endif
#if !defined(SNN_PART) || SNN_PART == 2
EXPORT_BWD_RC(f32, float)
#endif

