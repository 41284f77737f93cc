"""Triton kernels of the ``triton`` backend (imported only when that backend runs)."""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["fwd_kernel", "bwd_kernel"]


@triton.jit
def _step(x):
    return tl.where(x > 0.0, 1.0, 0.0)

@triton.jit
def fwd_kernel(x_ptr, spk_ptr, h_ptr, i_ptr, mem_ptr, syn_ptr, sst_ptr, beta_ptr, alpha_ptr,
               v_ptr, thr_ptr, g_ptr, T, M, SYN: tl.constexpr, REC: tl.constexpr,
               RESET: tl.constexpr, DELAYED: tl.constexpr, POST: tl.constexpr,
               STORE_H: tl.constexpr, STORE_I: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    Mw = offs * 0 + M  # M as an int64 vector: step offsets t * M never overflow int32
    u = tl.load(mem_ptr + offs, mask=mask, other=0.0)
    cur = tl.zeros([BLOCK], dtype=tl.float32)
    S = tl.zeros([BLOCK], dtype=tl.float32)
    al = tl.zeros([BLOCK], dtype=tl.float32)
    vv = tl.zeros([BLOCK], dtype=tl.float32)
    if SYN:
        cur = tl.load(syn_ptr + offs, mask=mask, other=0.0)
        al = tl.load(alpha_ptr + offs, mask=mask, other=0.0)
    if REC:
        S = tl.load(sst_ptr + offs, mask=mask, other=0.0)
        vv = tl.load(v_ptr + offs, mask=mask, other=0.0)
    bt = tl.load(beta_ptr + offs, mask=mask, other=0.0)
    th = tl.load(thr_ptr + offs, mask=mask, other=1.0)
    gf = tl.load(g_ptr + offs, mask=mask, other=0.0)
    for t in range(T):
        o_t = t * Mw + offs
        xv = tl.load(x_ptr + o_t, mask=mask, other=0.0)
        if SYN:
            cur = al * cur + xv
            if REC:
                cur = cur + vv * S
            d = cur
        elif REC:
            d = xv + vv * S
        else:
            d = xv
        if DELAYED:
            r = _step(u - th)
            if RESET == 0:
                hv = bt * u + d - r * th
            else:
                hv = bt * ((1.0 - r) * u) + d
        else:
            hv = bt * u + d
        s = _step(hv - th)
        o = s * gf
        tl.store(spk_ptr + o_t, o, mask=mask)
        if STORE_H:
            tl.store(h_ptr + o_t, hv, mask=mask)
        if STORE_I:
            tl.store(i_ptr + o_t, cur, mask=mask)
        if POST:
            if RESET == 0:
                hv = hv - s * th
            else:
                hv = hv * (1.0 - s)
        u = hv
        if REC:
            S = o
    tl.store(mem_ptr + offs, u, mask=mask)
    if SYN:
        tl.store(syn_ptr + offs, cur, mask=mask)
    if REC:
        tl.store(sst_ptr + offs, S, mask=mask)

@triton.jit
def bwd_kernel(gspk_ptr, gts, h_ptr, i_ptr, mem0_ptr, syn0_ptr, spk0_ptr, gx_ptr, gmem_ptr,
               gsyn_ptr, gsst_ptr, acc_ptr, beta_ptr, alpha_ptr, v_ptr, thr_ptr, g_ptr, sa,
               T, M, SYN: tl.constexpr, REC: tl.constexpr, RESET: tl.constexpr,
               DELAY: tl.constexpr, SG: tl.constexpr, LEARN: tl.constexpr,
               BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < M
    Mw = offs * 0 + M  # M as an int64 vector: step offsets t * M never overflow int32
    zero = tl.zeros([BLOCK], dtype=tl.float32)
    bt = tl.load(beta_ptr + offs, mask=mask, other=0.0)
    th = tl.load(thr_ptr + offs, mask=mask, other=1.0)
    gf = tl.load(g_ptr + offs, mask=mask, other=0.0)
    gm = tl.load(gmem_ptr + offs, mask=mask, other=0.0)
    m0 = tl.load(mem0_ptr + offs, mask=mask, other=0.0)
    al = zero
    vv = zero
    gy = zero
    gz = zero
    y0 = zero
    z0 = zero
    if SYN:
        al = tl.load(alpha_ptr + offs, mask=mask, other=0.0)
        gy = tl.load(gsyn_ptr + offs, mask=mask, other=0.0)
        y0 = tl.load(syn0_ptr + offs, mask=mask, other=0.0)
    if REC:
        vv = tl.load(v_ptr + offs, mask=mask, other=0.0)
        gz = tl.load(gsst_ptr + offs, mask=mask, other=0.0)
        z0 = tl.load(spk0_ptr + offs, mask=mask, other=0.0)
    a_beta = zero
    a_alpha = zero
    a_v = zero
    a_thr = zero
    a_g = zero
    # the pre-reset membrane of step t is carried from the previous iteration (its h[t-1]), so
    # each element of h is read once; gx[t] may overwrite h[t] after both were read
    hv = tl.load(h_ptr + (T - 1) * Mw + offs, mask=mask, other=0.0)
    for k in range(T):
        t = T - 1 - k
        o_t = t * Mw + offs
        tp = tl.maximum(t - 1, 0)
        first = t == 0
        hp = tl.load(h_ptr + tp * Mw + offs, mask=mask, other=0.0)
        # membrane, spike and current after step t-1
        if DELAY or RESET == 2:
            up = hp
        elif RESET == 0:
            up = hp - _step(hp - th) * th
        else:
            up = hp * (1.0 - _step(hp - th))
        up = tl.where(first, m0, up)
        sp = tl.where(first, z0, _step(hp - th) * gf)
        ip = zero
        if SYN and LEARN:
            ip = tl.where(first, y0, tl.load(i_ptr + tp * Mw + offs, mask=mask, other=0.0))
        x = hv - th
        if SG == 1:
            c = 1.5707963267948966 * sa * x
            sgv = (sa / 2.0) / (1.0 + c * c)
        else:
            dd = sa * tl.abs(x) + 1.0
            sgv = 1.0 / (dd * dd)
        s = _step(x)
        gS = tl.load(gspk_ptr + t * (offs * 0 + gts) + offs, mask=mask, other=0.0)
        if REC:
            gS = gS + gz
        if LEARN:
            a_g += gS * s
        gfire = gS * gf * sgv
        gth = -gfire
        keep = zero + 1.0
        if DELAY:
            gh = gm + gfire
            if RESET == 0:
                gth = gth - gh * _step(up - th)
            if RESET == 1:
                keep = 1.0 - _step(up - th)
        else:
            if RESET == 1:
                gh = gm * (1.0 - s) + gfire
            else:
                gh = gm + gfire
            if RESET == 0:
                gth = gth - gm * s
        if LEARN:
            a_thr += gth
            a_beta += gh * (keep * up)
        gm = gh * bt * keep
        gd = gh
        if SYN:
            gd = gh + gy
            if LEARN:
                a_alpha += gd * ip
            gy = gd * al
        if REC:
            if LEARN:
                a_v += gd * sp
            gz = gd * vv
        tl.store(gx_ptr + o_t, gd, mask=mask)
        hv = hp
    tl.store(gmem_ptr + offs, gm, mask=mask)
    if SYN:
        tl.store(gsyn_ptr + offs, gy, mask=mask)
    if REC:
        tl.store(gsst_ptr + offs, gz, mask=mask)
    if LEARN:
        tl.store(acc_ptr + offs, a_beta, mask=mask)
        tl.store(acc_ptr + Mw + offs, a_alpha, mask=mask)
        tl.store(acc_ptr + 2 * Mw + offs, a_v, mask=mask)
        tl.store(acc_ptr + 3 * Mw + offs, a_thr, mask=mask)
        tl.store(acc_ptr + 4 * Mw + offs, a_g, mask=mask)
