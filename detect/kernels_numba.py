"""The per-sample kernel of the detector, compiled by numba.

Shaped like scipy's ``_sosfilt``: no validation, no allocation, no Python objects in the
loop.  Everything the kernel remembers between calls lives in three explicit arrays
(``params`` read-only, ``fstate`` float64 and ``istate`` int64) plus the noise ring, so a
stream cut into any chunks gives the same result as one call, bit for bit.

The kernel writes three kinds of rows into caller-owned output buffers and returns as
soon as any buffer could overflow, telling the caller how far it got:

* event rows (``E_*`` columns): one per candidate movement, with the orientation before
  and after it, emitted once the orientation after has settled;
* epoch rows (``EP_*`` columns): per-axis statistics of each ``epoch_s`` window aligned
  to Unix time, for calibration, non-wear and the sleep window;
* gap rows: (last sample before, first sample after) for every step longer than the
  contiguity limit.

Units: times in seconds (Unix, UTC), accelerations in g, jerk in g/s.
"""
from __future__ import annotations

import math

from ._numba import jit

from .layout import *  # noqa: F401,F403  (slot and column indices)


@jit
def _snapshot_gravity(fs, ist, gx, gy, gz):
    """Store the gravity estimate in the snapshot ring (the last few seconds of orientation)."""
    cap = (fs.shape[0] - S_SNAP) // 3
    pos = ist[I_SNAP_POS]
    fs[S_SNAP + 3 * pos] = gx
    fs[S_SNAP + 3 * pos + 1] = gy
    fs[S_SNAP + 3 * pos + 2] = gz
    pos += 1
    if pos == cap:
        pos = 0
    ist[I_SNAP_POS] = pos
    if ist[I_SNAP_FILL] < cap:
        ist[I_SNAP_FILL] += 1


@jit
def _min_cos_to_snapshots(fs, ist, gx, gy, gz):
    """Smallest cosine of the angle between (gx, gy, gz) and any stored snapshot (1 if none)."""
    ng = math.sqrt(gx * gx + gy * gy + gz * gz)
    best = 1.0
    if ng == 0.0:
        return best
    for k in range(ist[I_SNAP_FILL]):
        sx = fs[S_SNAP + 3 * k]
        sy = fs[S_SNAP + 3 * k + 1]
        sz = fs[S_SNAP + 3 * k + 2]
        ns = math.sqrt(sx * sx + sy * sy + sz * sz)
        if ns > 0.0:
            c = (sx * gx + sy * gy + sz * gz) / (ns * ng)
            if c < best:
                best = c
    return best


@jit
def _push_noise_block(fs, ist, p, ring, srt, value):
    """Add one block mean square to the noise window and refresh both thresholds.

    ``ring`` keeps arrival order, ``srt`` the same values sorted, so the quantile is one
    lookup and the update costs O(window) once per block (not per sample).
    """
    cap = ring.shape[0]
    fill = ist[I_RFILL]
    pos = ist[I_RPOS]
    # insertion point of value in srt[:fill] (after equal values: stable, deterministic)
    lo = 0
    hi = fill
    while lo < hi:
        mid = (lo + hi) // 2
        if srt[mid] <= value:
            lo = mid + 1
        else:
            hi = mid
    q = lo
    if fill < cap:
        for k in range(fill, q, -1):
            srt[k] = srt[k - 1]
        srt[q] = value
        fill += 1
    else:
        # replace one copy of the oldest value: shift only what lies between the two
        # positions (a block a second: this was the kernel's largest cost at 100 Hz)
        old = ring[pos]
        lo = 0
        hi = fill
        while lo < hi:
            mid = (lo + hi) // 2
            if srt[mid] < old:
                lo = mid + 1
            else:
                hi = mid
        r = lo
        if q > r:
            for k in range(r, q - 1):
                srt[k] = srt[k + 1]
            srt[q - 1] = value
        else:
            for k in range(r, q, -1):
                srt[k] = srt[k - 1]
            srt[q] = value
    ring[pos] = value
    pos += 1
    if pos == cap:
        pos = 0
    ist[I_RFILL] = fill
    ist[I_RPOS] = pos
    ms = srt[int(math.floor(p[P_Q] * (fill - 1)))]
    fs[S_NOISE_MS] = ms
    fs[S_THRON2] = max(p[P_KON2] * ms, p[P_MINON2])
    fs[S_THROFF2] = max(p[P_KOFF2] * ms, p[P_MINOFF2])


@jit
def _emit_pending(fs, ist, ev_out, n_ev, gx, gy, gz, extra_flags):
    """Complete the pending event with the orientation after and write it out."""
    row = ev_out[n_ev]
    for k in range(N_EVENT_COLS):
        row[k] = fs[S_PEND + k]
    row[E_GAX] = gx
    row[E_GAY] = gy
    row[E_GAZ] = gz
    row[E_FLAGS] = float(int(fs[S_PEND + E_FLAGS]) | extra_flags)
    ist[I_PEND] = 0
    return n_ev + 1


@jit
def _close_event(fs, ist, flags):
    """Move the open event into the pending slot; it waits there for its orientation after."""
    b = S_PEND
    fs[b + E_ONSET_T] = fs[S_EV_ON_T]
    fs[b + E_END_T] = fs[S_EV_LAST_T]
    fs[b + E_PEAK_G] = math.sqrt(fs[S_EV_PEAK_M2])
    fs[b + E_PEAK_T] = fs[S_EV_PEAK_T]
    fs[b + E_PEAK_JERK] = math.sqrt(fs[S_EV_PEAK_J2])
    w = fs[S_EV_W]
    mean = fs[S_EV_WT] / w
    var = fs[S_EV_WTT] / w - mean * mean
    if var < 0.0:
        var = 0.0
    fs[b + E_EFF_DUR] = 2.0 * math.sqrt(var)
    fs[b + E_NABOVE] = ist[I_NABOVE]
    fs[b + E_OSC] = max(ist[I_ZCX], max(ist[I_ZCY], ist[I_ZCZ]))
    fs[b + E_GBX] = fs[S_EV_GBX]
    fs[b + E_GBY] = fs[S_EV_GBY]
    fs[b + E_GBZ] = fs[S_EV_GBZ]
    fs[b + E_GAX] = 0.0
    fs[b + E_GAY] = 0.0
    fs[b + E_GAZ] = 0.0
    fs[b + E_THR_G] = fs[S_EV_THR]
    fs[b + E_NOISE_G] = fs[S_EV_NOISE]
    fs[b + E_FLAGS] = ist[I_EVFLAGS] | flags
    fs[b + E_ONSET_IDX] = ist[I_ONSET_IDX]
    c = min(1.0, max(-1.0, fs[S_EV_PRECOS]))
    fs[b + E_PRE_DEV] = math.degrees(math.acos(c))
    ist[I_INEV] = 0
    ist[I_PEND] = 1


@jit
def _write_epoch(row, idx, n, rx, ry, rz, sx, sy, sz, sxx, syy, szz,
                 minx, maxx, miny, maxy, minz, maxz, sm2, sax, say, saz, t0, t1):
    """Fill one epoch row from the accumulators (sums are of deviations from the
    epoch's first sample (rx, ry, rz): no cancellation near 1 g)."""
    row[EP_IDX] = idx
    row[EP_N] = n
    mx = sx / n
    my = sy / n
    mz = sz / n
    row[EP_MX] = rx + mx
    row[EP_MY] = ry + my
    row[EP_MZ] = rz + mz
    vx = sxx / n - mx * mx
    vy = syy / n - my * my
    vz = szz / n - mz * mz
    row[EP_SDX] = math.sqrt(vx) if vx > 0.0 else 0.0
    row[EP_SDY] = math.sqrt(vy) if vy > 0.0 else 0.0
    row[EP_SDZ] = math.sqrt(vz) if vz > 0.0 else 0.0
    row[EP_MINX] = minx
    row[EP_MAXX] = maxx
    row[EP_MINY] = miny
    row[EP_MAXY] = maxy
    row[EP_MINZ] = minz
    row[EP_MAXZ] = maxz
    row[EP_MS] = sm2 / n
    row[EP_T0] = t0
    row[EP_T1] = t1
    row[EP_AX] = sax / n
    row[EP_AY] = say / n
    row[EP_AZ] = saz / n


@jit
def _axis_crossing(h, c, sign):
    """Hysteresis sign of one axis: returns (new sign, 1 if a half-cycle completed)."""
    if h > c:
        if sign < 0:
            return 1, 1
        return 1, 0
    if h < -c:
        if sign > 0:
            return -1, 1
        return -1, 0
    return sign, 0


@jit
def process(t, x, y, z, m2_out, start, p, fs, ist, ring, srt, ev_out, n_ev, gap_out, n_gap):
    """Event pass: run samples ``start..`` of one chunk through filters and events.

    Parameters
    ----------
    t, x, y, z : float64 arrays, shape (n,)
        Unix time (s, strictly increasing across calls) and acceleration (g).
    m2_out : float64 array, shape (n,)
        Receives the squared gravity-free magnitude (g^2) of each sample, for
        :func:`epochs`.
    start : int
        First sample of this call (the caller resumes after draining buffers).
    p, fs, ist, ring, srt : the parameter vector and the explicit state.
    ev_out, gap_out : float64 arrays (capacity, N_EVENT_COLS / 2)
    n_ev, n_gap : rows already used in each buffer.

    Returns
    -------
    (next_sample, n_ev, n_gap)
        ``next_sample == n`` when the chunk is done; otherwise a buffer is nearly full and
        the caller must drain it and call again from ``next_sample``.

    The per-sample state lives in local variables inside the loop (so the compiler keeps
    it in registers); it is read from ``fs``/``ist`` on entry and written back on return.
    Event state, touched only during events, stays in ``fs``.
    """
    n = t.shape[0]
    cap_ev = ev_out.shape[0]
    cap_gap = gap_out.shape[0]
    fsamp = p[P_FS]
    b0 = p[P_B0]
    b1 = p[P_B1]
    b2 = p[P_B2]
    a1 = p[P_A1]
    a2 = p[P_A2]
    galpha = p[P_GALPHA]
    maxdt = p[P_MAXDT]
    nblock = int(p[P_NBLOCK])
    merge = p[P_MERGE]
    maxev = p[P_MAXEV]
    settle = p[P_SETTLE]
    snap_n = int(p[P_SNAP_N])
    fs2 = fsamp * fsamp
    # the per-sample state, into locals (written back on return)
    tprev = fs[S_TPREV]
    xprev = fs[S_XPREV]
    yprev = fs[S_YPREV]
    zprev = fs[S_ZPREV]
    z1x = fs[S_Z1X]
    z2x = fs[S_Z2X]
    z1y = fs[S_Z1Y]
    z2y = fs[S_Z2Y]
    z1z = fs[S_Z1Z]
    z2z = fs[S_Z2Z]
    gx = fs[S_GX]
    gy = fs[S_GY]
    gz = fs[S_GZ]
    bsum = fs[S_BSUM]
    thron2 = fs[S_THRON2]
    throff2 = fs[S_THROFF2]
    bcount = ist[I_BCOUNT]
    snapcnt = ist[I_SNAP_CNT]
    nseen = ist[I_NSEEN]
    inev = ist[I_INEV]
    pend = ist[I_PEND]
    started = ist[I_STARTED]
    i = start
    while i < n:
        # at most 2 event rows and 1 gap row per sample
        if n_ev + 2 > cap_ev or n_gap + 1 > cap_gap:
            break
        ti = t[i]
        xi = x[i]
        yi = y[i]
        zi = z[i]
        if started == 0 or ti - tprev > maxdt:
            # first sample, or a gap: cut what is open with the orientation known before
            # it, then restart the filters
            if started == 0:
                started = 1
                fs[S_NOISE_MS] = p[P_NOISE0]
                thron2 = max(p[P_KON2] * p[P_NOISE0], p[P_MINON2])
                throff2 = max(p[P_KOFF2] * p[P_NOISE0], p[P_MINOFF2])
            else:
                if pend == 1:
                    n_ev = _emit_pending(fs, ist, ev_out, n_ev, gx, gy, gz, F_CUT_BY_GAP)
                    pend = 0
                if inev == 1:
                    _close_event(fs, ist, F_CUT_BY_GAP)
                    n_ev = _emit_pending(fs, ist, ev_out, n_ev, gx, gy, gz, 0)
                    inev = 0
                gap_out[n_gap, 0] = tprev
                gap_out[n_gap, 1] = ti
                n_gap += 1
            # steady state of a constant input: the high-pass outputs exactly 0 on this
            # sample (a gap must not look like a jerk); gravity starts at the sample
            z1x = -b0 * xi
            z2x = -(b0 + b1) * xi
            z1y = -b0 * yi
            z2y = -(b0 + b1) * yi
            z1z = -b0 * zi
            z2z = -(b0 + b1) * zi
            gx = xi
            gy = yi
            gz = zi
            xprev = xi
            yprev = yi
            zprev = zi
            bsum = 0.0
            bcount = 0
            # orientation before a gap says nothing about the time after it
            snapcnt = 0
            ist[I_SNAP_FILL] = 0
            ist[I_SNAP_POS] = 0

        # ---- gravity-free signal: biquad high-pass per axis (transposed direct form II)
        hx = b0 * xi + z1x
        z1x = b1 * xi - a1 * hx + z2x
        z2x = b2 * xi - a2 * hx
        hy = b0 * yi + z1y
        z1y = b1 * yi - a1 * hy + z2y
        z2y = b2 * yi - a2 * hy
        hz = b0 * zi + z1z
        z1z = b1 * zi - a1 * hz + z2z
        z2z = b2 * zi - a2 * hz
        m2 = hx * hx + hy * hy + hz * hz
        m2_out[i] = m2

        # ---- orientation: gravity before this sample is what an onset here compares with
        gbx = gx
        gby = gy
        gbz = gz
        gx = gbx + galpha * (xi - gbx)
        gy = gby + galpha * (yi - gby)
        gz = gbz + galpha * (zi - gbz)
        snapcnt += 1
        if snapcnt == snap_n:
            _snapshot_gravity(fs, ist, gx, gy, gz)
            snapcnt = 0

        # ---- adaptive noise floor, refreshed once per block
        bsum += m2
        bcount += 1
        if bcount == nblock:
            _push_noise_block(fs, ist, p, ring, srt, bsum / nblock)
            thron2 = fs[S_THRON2]
            throff2 = fs[S_THROFF2]
            bsum = 0.0
            bcount = 0

        # ---- the pending event gets its orientation after once the signal settled
        if pend == 1 and ti >= fs[S_PEND + E_END_T] + settle:
            n_ev = _emit_pending(fs, ist, ev_out, n_ev, gx, gy, gz, 0)
            pend = 0

        # ---- event state machine with hysteresis (event state stays in fs: rare)
        if inev == 0:
            if m2 >= thron2:
                if pend == 1:
                    # the next movement began before the last one settled
                    n_ev = _emit_pending(fs, ist, ev_out, n_ev, gbx, gby, gbz, F_UNSETTLED)
                    pend = 0
                inev = 1
                ist[I_ONSET_IDX] = nseen
                ist[I_NABOVE] = 1
                ist[I_EVFLAGS] = 0
                fs[S_EV_ON_T] = ti
                fs[S_EV_LAST_T] = ti
                fs[S_EV_PEAK_M2] = m2
                fs[S_EV_PEAK_T] = ti
                ddx = xi - xprev
                ddy = yi - yprev
                ddz = zi - zprev
                fs[S_EV_PEAK_J2] = (ddx * ddx + ddy * ddy + ddz * ddz) * fs2
                fs[S_EV_W] = m2
                fs[S_EV_WT] = 0.0
                fs[S_EV_WTT] = 0.0
                fs[S_EV_GBX] = gbx
                fs[S_EV_GBY] = gby
                fs[S_EV_GBZ] = gbz
                fs[S_EV_PRECOS] = _min_cos_to_snapshots(fs, ist, gbx, gby, gbz)
                fs[S_EV_THR] = math.sqrt(thron2)
                fs[S_EV_NOISE] = math.sqrt(fs[S_NOISE_MS])
                c = 0.5 * math.sqrt(throff2)
                ist[I_ZCX] = 0
                ist[I_ZCY] = 0
                ist[I_ZCZ] = 0
                ist[I_SGX] = 1 if hx > c else (-1 if hx < -c else 0)
                ist[I_SGY] = 1 if hy > c else (-1 if hy < -c else 0)
                ist[I_SGZ] = 1 if hz > c else (-1 if hz < -c else 0)
        else:
            ddx = xi - xprev
            ddy = yi - yprev
            ddz = zi - zprev
            j2 = (ddx * ddx + ddy * ddy + ddz * ddz) * fs2
            if j2 > fs[S_EV_PEAK_J2]:
                fs[S_EV_PEAK_J2] = j2
            c = 0.5 * math.sqrt(throff2)
            sg, k = _axis_crossing(hx, c, ist[I_SGX])
            ist[I_SGX] = sg
            ist[I_ZCX] += k
            sg, k = _axis_crossing(hy, c, ist[I_SGY])
            ist[I_SGY] = sg
            ist[I_ZCY] += k
            sg, k = _axis_crossing(hz, c, ist[I_SGZ])
            ist[I_SGZ] = sg
            ist[I_ZCZ] += k
            if m2 >= throff2:
                fs[S_EV_LAST_T] = ti
                ist[I_NABOVE] += 1
                tau = ti - fs[S_EV_ON_T]
                fs[S_EV_W] += m2
                fs[S_EV_WT] += m2 * tau
                fs[S_EV_WTT] += m2 * tau * tau
                if m2 > fs[S_EV_PEAK_M2]:
                    fs[S_EV_PEAK_M2] = m2
                    fs[S_EV_PEAK_T] = ti
            if ti - fs[S_EV_LAST_T] > merge:
                _close_event(fs, ist, 0)
                inev = 0
                pend = 1
            elif ti - fs[S_EV_ON_T] >= maxev:
                _close_event(fs, ist, F_CUT_BY_MAXDUR)
                inev = 0
                pend = 1

        tprev = ti
        xprev = xi
        yprev = yi
        zprev = zi
        nseen += 1
        i += 1
    # the per-sample state, back into the arrays
    fs[S_TPREV] = tprev
    fs[S_XPREV] = xprev
    fs[S_YPREV] = yprev
    fs[S_ZPREV] = zprev
    fs[S_Z1X] = z1x
    fs[S_Z2X] = z2x
    fs[S_Z1Y] = z1y
    fs[S_Z2Y] = z2y
    fs[S_Z1Z] = z1z
    fs[S_Z2Z] = z2z
    fs[S_GX] = gx
    fs[S_GY] = gy
    fs[S_GZ] = gz
    fs[S_BSUM] = bsum
    fs[S_THRON2] = thron2
    fs[S_THROFF2] = throff2
    ist[I_BCOUNT] = bcount
    ist[I_SNAP_CNT] = snapcnt
    ist[I_NSEEN] = nseen
    ist[I_INEV] = inev
    ist[I_PEND] = pend
    ist[I_STARTED] = started
    return i, n_ev, n_gap


@jit
def epochs(t, x, y, z, m2, start, stop, p, fs, ist, ep_out, n_ep):
    """Epoch pass: per-epoch statistics of samples ``start..stop`` of one chunk.

    A second, independent pass over the samples the event pass has already seen (it
    reads their ``m2``).  Keeping it apart keeps each loop's state in registers: one
    fused loop ran at half the speed.  Its own state: the epoch accumulators, the slow
    orientation low-pass (restarted after each gap by the same rule) and the clip count.

    Returns (next_sample, n_ep); ``next_sample < stop`` when ``ep_out`` is full.
    """
    cap_ep = ep_out.shape[0]
    aalpha = p[P_AALPHA]
    maxdt = p[P_MAXDT]
    epoch_s = p[P_EPOCH]
    clip = p[P_CLIP]
    # the state, into locals (written back on return)
    btprev = fs[S_BTPREV]
    sax = fs[S_AX]
    say = fs[S_AY]
    saz = fs[S_AZ]
    erx = fs[S_EP_REFX]
    ery = fs[S_EP_REFY]
    erz = fs[S_EP_REFZ]
    esx = fs[S_EP_SX]
    esy = fs[S_EP_SY]
    esz = fs[S_EP_SZ]
    esxx = fs[S_EP_SXX]
    esyy = fs[S_EP_SYY]
    eszz = fs[S_EP_SZZ]
    eminx = fs[S_EP_MINX]
    emaxx = fs[S_EP_MAXX]
    eminy = fs[S_EP_MINY]
    emaxy = fs[S_EP_MAXY]
    eminz = fs[S_EP_MINZ]
    emaxz = fs[S_EP_MAXZ]
    esm2 = fs[S_EP_SM2]
    et0 = fs[S_EP_T0]
    et1 = fs[S_EP_T1]
    eax = fs[S_EP_AX]
    eay = fs[S_EP_AY]
    eaz = fs[S_EP_AZ]
    epn = ist[I_EP_N]
    epidx = ist[I_EP_IDX]
    clipped = ist[I_CLIPPED]
    bstarted = ist[I_BSTARTED]
    if bstarted == 0:
        epidx = -(1 << 62)  # no epoch yet: the first sample opens one
    ep_next = (epidx + 1) * epoch_s
    i = start
    while i < stop:
        ti = t[i]
        xi = x[i]
        yi = y[i]
        zi = z[i]
        if bstarted == 0 or ti - btprev > maxdt:
            # slow orientation restarts at the sample after a gap, like the filters
            bstarted = 1
            sax = xi
            say = yi
            saz = zi
        # Epochs are aligned to Unix time.  The exact floor(t / epoch_s) is computed only
        # near the next boundary: a division per sample costs more than the accumulators.
        # The 1-ms margin is far above the rounding of t / epoch_s (~1e-7 s today).
        if ti >= ep_next - 1e-3:
            eidx = int(math.floor(ti / epoch_s))
            if eidx != epidx:
                if epn > 0:
                    if n_ep + 1 > cap_ep:
                        break
                    _write_epoch(ep_out[n_ep], epidx, epn, erx, ery, erz, esx, esy, esz,
                                 esxx, esyy, eszz, eminx, emaxx, eminy, emaxy, eminz, emaxz,
                                 esm2, eax, eay, eaz, et0, et1)
                    n_ep += 1
                epidx = eidx
                ep_next = (epidx + 1) * epoch_s
                epn = 0
                erx = xi
                ery = yi
                erz = zi
                esx = esy = esz = esxx = esyy = eszz = esm2 = eax = eay = eaz = 0.0
                eminx = emaxx = xi
                eminy = emaxy = yi
                eminz = emaxz = zi
                et0 = ti
        sax += aalpha * (xi - sax)
        say += aalpha * (yi - say)
        saz += aalpha * (zi - saz)
        dx = xi - erx
        dy = yi - ery
        dz = zi - erz
        esx += dx
        esy += dy
        esz += dz
        esxx += dx * dx
        esyy += dy * dy
        eszz += dz * dz
        eminx = min(eminx, xi)
        emaxx = max(emaxx, xi)
        eminy = min(eminy, yi)
        emaxy = max(emaxy, yi)
        eminz = min(eminz, zi)
        emaxz = max(emaxz, zi)
        esm2 += m2[i]
        eax += sax
        eay += say
        eaz += saz
        et1 = ti
        epn += 1
        if clip > 0.0:
            if abs(xi) >= clip or abs(yi) >= clip or abs(zi) >= clip:
                clipped += 1
        btprev = ti
        i += 1
    fs[S_BTPREV] = btprev
    fs[S_AX] = sax
    fs[S_AY] = say
    fs[S_AZ] = saz
    fs[S_EP_REFX] = erx
    fs[S_EP_REFY] = ery
    fs[S_EP_REFZ] = erz
    fs[S_EP_SX] = esx
    fs[S_EP_SY] = esy
    fs[S_EP_SZ] = esz
    fs[S_EP_SXX] = esxx
    fs[S_EP_SYY] = esyy
    fs[S_EP_SZZ] = eszz
    fs[S_EP_MINX] = eminx
    fs[S_EP_MAXX] = emaxx
    fs[S_EP_MINY] = eminy
    fs[S_EP_MAXY] = emaxy
    fs[S_EP_MINZ] = eminz
    fs[S_EP_MAXZ] = emaxz
    fs[S_EP_SM2] = esm2
    fs[S_EP_T0] = et0
    fs[S_EP_T1] = et1
    fs[S_EP_AX] = eax
    fs[S_EP_AY] = eay
    fs[S_EP_AZ] = eaz
    ist[I_EP_N] = epn
    ist[I_EP_IDX] = epidx
    ist[I_CLIPPED] = clipped
    ist[I_BSTARTED] = bstarted
    return i, n_ep


@jit
def flush(fs, ist, ev_out, n_ev, ep_out, n_ep):
    """End of data: close what is open with the last orientation and emit the last epoch.

    Needs room for 2 event rows and 1 epoch row.  Returns (n_ev, n_ep).
    """
    if ist[I_STARTED] == 0:
        return n_ev, n_ep
    gx = fs[S_GX]
    gy = fs[S_GY]
    gz = fs[S_GZ]
    if ist[I_PEND] == 1:
        n_ev = _emit_pending(fs, ist, ev_out, n_ev, gx, gy, gz, F_CUT_BY_END)
    if ist[I_INEV] == 1:
        _close_event(fs, ist, F_CUT_BY_END)
        n_ev = _emit_pending(fs, ist, ev_out, n_ev, gx, gy, gz, 0)
    n = ist[I_EP_N]
    if n > 0:
        _write_epoch(ep_out[n_ep], ist[I_EP_IDX], n, fs[S_EP_REFX], fs[S_EP_REFY], fs[S_EP_REFZ],
                     fs[S_EP_SX], fs[S_EP_SY], fs[S_EP_SZ], fs[S_EP_SXX], fs[S_EP_SYY], fs[S_EP_SZZ],
                     fs[S_EP_MINX], fs[S_EP_MAXX], fs[S_EP_MINY], fs[S_EP_MAXY], fs[S_EP_MINZ],
                     fs[S_EP_MAXZ], fs[S_EP_SM2], fs[S_EP_AX], fs[S_EP_AY], fs[S_EP_AZ],
                     fs[S_EP_T0], fs[S_EP_T1])
        ist[I_EP_N] = 0
        n_ep += 1
    return n_ev, n_ep
