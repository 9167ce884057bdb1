"""Column and slot layout shared by the kernel and the Python glue.

Kept apart from :mod:`detect.kernels_numba` so that reading a kernel's output never
imports numba.  numba treats these module-level integers as compile-time constants.
"""
from __future__ import annotations

# ---- params (read-only) -----------------------------------------------------------
P_FS = 0          # nominal sample rate (Hz)
P_B0 = 1          # high-pass biquad numerator / denominator (scipy sos layout, a0 = 1)
P_B1 = 2
P_B2 = 3
P_A1 = 4
P_A2 = 5
P_GALPHA = 6      # gravity one-pole coefficient
P_MAXDT = 7       # contiguity limit (s)
P_NBLOCK = 8      # samples per noise block
P_Q = 9           # noise quantile in (0, 1)
P_NOISE0 = 10     # initial noise mean square (g^2)
P_KON2 = 11       # k_on squared
P_KOFF2 = 12      # k_off squared
P_MINON2 = 13     # threshold floors, squared (g^2)
P_MINOFF2 = 14
P_MERGE = 15      # merge gap (s)
P_MAXEV = 16      # maximum event length (s)
P_SETTLE = 17     # settle time before reading orientation after (s)
P_EPOCH = 18      # epoch length (s)
P_CLIP = 19       # clipping level (g), 0 = unknown
P_SNAP_N = 20     # samples between two snapshots of the gravity estimate
P_AALPHA = 21     # slow one-pole coefficient of the orientation used for the sleep window
N_PARAMS = 22

# ---- float state --------------------------------------------------------------------
S_TPREV, S_XPREV, S_YPREV, S_ZPREV = 0, 1, 2, 3
S_Z1X, S_Z2X, S_Z1Y, S_Z2Y, S_Z1Z, S_Z2Z = 4, 5, 6, 7, 8, 9
S_GX, S_GY, S_GZ = 10, 11, 12
S_BSUM, S_NOISE_MS, S_THRON2, S_THROFF2 = 13, 14, 15, 16
S_EV_ON_T, S_EV_LAST_T, S_EV_PEAK_M2, S_EV_PEAK_T, S_EV_PEAK_J2 = 17, 18, 19, 20, 21
S_EV_W, S_EV_WT, S_EV_WTT = 22, 23, 24
S_EV_GBX, S_EV_GBY, S_EV_GBZ = 25, 26, 27
S_EV_THR, S_EV_NOISE = 28, 29
S_EP_REFX, S_EP_REFY, S_EP_REFZ = 30, 31, 32
S_EP_SX, S_EP_SY, S_EP_SZ, S_EP_SXX, S_EP_SYY, S_EP_SZZ = 33, 34, 35, 36, 37, 38
S_EP_MINX, S_EP_MAXX, S_EP_MINY, S_EP_MAXY, S_EP_MINZ, S_EP_MAXZ = 39, 40, 41, 42, 43, 44
S_EP_SM2, S_EP_T0, S_EP_T1 = 45, 46, 47
S_AX, S_AY, S_AZ = 48, 49, 50          # slow orientation low-pass (sleep window angle)
S_EP_AX, S_EP_AY, S_EP_AZ = 51, 52, 53  # its sums over the epoch
S_BTPREV = 54     # last sample time seen by the epoch pass
S_PEND = 55       # start of the pending event row (N_EVENT_COLS values)

# ---- event row columns --------------------------------------------------------------
E_ONSET_T = 0     # first sample above the on-threshold (s)
E_END_T = 1       # last sample above the off-threshold (s)
E_PEAK_G = 2      # peak gravity-free magnitude (g)
E_PEAK_T = 3      # time of that peak (s)
E_PEAK_JERK = 4   # peak magnitude of the sample-to-sample derivative (g/s)
E_EFF_DUR = 5     # energy-weighted duration, 2 sigma of energy over time (s)
E_NABOVE = 6      # samples above the off-threshold
E_OSC = 7         # largest count of half-cycles on one axis (oscillation)
E_GBX, E_GBY, E_GBZ = 8, 9, 10   # gravity estimate before the onset (g)
E_GAX, E_GAY, E_GAZ = 11, 12, 13  # gravity estimate after settling (g)
E_THR_G = 14      # on-threshold at onset (g)
E_NOISE_G = 15    # noise floor RMS at onset (g)
E_FLAGS = 16      # F_* bits
E_ONSET_IDX = 17  # index of the onset sample in the whole stream
E_PRE_DEV = 18    # largest turn of the gravity estimate in the snapshots before onset (deg)
N_EVENT_COLS = 19

F_CUT_BY_GAP = 1
F_CUT_BY_MAXDUR = 2
F_CUT_BY_END = 4
F_UNSETTLED = 8

S_EV_PRECOS = S_PEND + N_EVENT_COLS   # min cos(angle) between onset gravity and snapshots
S_SNAP = S_EV_PRECOS + 1              # snapshot ring: 3 values per snapshot follow
N_FSTATE_BASE = S_SNAP


def n_fstate(n_snapshots: int) -> int:
    """Length of the float state for a snapshot ring of ``n_snapshots`` entries."""
    return N_FSTATE_BASE + 3 * n_snapshots

# ---- int state ----------------------------------------------------------------------
I_STARTED, I_NSEEN, I_INEV, I_ONSET_IDX, I_NABOVE = 0, 1, 2, 3, 4
I_ZCX, I_ZCY, I_ZCZ, I_SGX, I_SGY, I_SGZ = 5, 6, 7, 8, 9, 10
I_EVFLAGS, I_PEND, I_BCOUNT, I_RFILL, I_RPOS = 11, 12, 13, 14, 15
I_EP_IDX, I_EP_N, I_CLIPPED = 16, 17, 18
I_SNAP_CNT, I_SNAP_FILL, I_SNAP_POS = 19, 20, 21
I_BSTARTED = 22   # the epoch pass has seen a sample
N_ISTATE = 23

# ---- epoch row columns --------------------------------------------------------------
EP_IDX = 0        # floor(t / epoch_s)
EP_N = 1          # samples in the epoch
EP_MX, EP_MY, EP_MZ = 2, 3, 4         # per-axis mean (g)
EP_SDX, EP_SDY, EP_SDZ = 5, 6, 7      # per-axis population SD (g)
EP_MINX, EP_MAXX, EP_MINY, EP_MAXY, EP_MINZ, EP_MAXZ = 8, 9, 10, 11, 12, 13
EP_MS = 14        # mean square of the gravity-free magnitude (g^2)
EP_T0, EP_T1 = 15, 16                  # first and last sample time in the epoch
EP_AX, EP_AY, EP_AZ = 17, 18, 19       # mean of the slow orientation low-pass (g)
N_EPOCH_COLS = 20
