"""Independent NumPy reference of aihwkit's compound training algorithms (spec training.md §4).

Written from ``/work/shared/spec/training.md`` §4.3 (OneSidedUnitCell), §4.4 (Tiki-taka v1),
§4.5 (BufferedTransferCompound), §4.6 (ChoppedTransferCompound: TTv2, c-TTv2) and §4.7
(DynamicTransferCompound: AGAD). It does **not** import rpu: compound, device and update
settings are read from any object with aihwkit's attribute names (the rpu config classes in the
tests).

Two levels:

* the buffer formulas of one transfer, element by element (:func:`chopped_buffer_ref`,
  :func:`dynamic_buffer_ref`, :func:`buffered_buffer_ref`), the same arguments as
  ``rpu._core.chopped_buffer`` / ``rpu._core.dynamic_buffer`` / ``rpu._core.buffered_buffer``;
* a sequential simulator of a whole two-device transfer compound (:class:`TransferRef`):
  sample by sample, the chopped update of the fast array A, then, every few samples, the
  transfer of ``n_reads_per_transfer`` columns (or rows, with ``transfer_columns = False``;
  Tiki-taka and the buffered compound) into the slow array C;
* a sequential simulator of a OneSidedUnitCell (:class:`OneSidedRef`): every sample's pulse
  counts split between g+ and g-, and the refresh (perfect reads) after every period.

The simulators are exact only where the algorithm is deterministic, which the tests arrange:
noise-free constant-step devices, a dense pulse type (``MeanCount`` / ``DeterministicImplicit``)
for every pulsed write that is not a single certain pulse, perfect transfer and refresh reads,
and deterministic choppers (``in_chop_random=False``, or chopper probabilities of 0 or 1).

Arithmetic runs in ``dtype`` (the tile's type): NumPy scalars keep every operation in float32
for a float32 tile, as the C++ ``T`` does.
"""

from __future__ import annotations

import math

import numpy as np

from update_reference import apply_constant_step, dense_counts

__all__ = ["chopped_buffer_ref", "dynamic_buffer_ref", "buffered_buffer_ref", "TransferRef",
           "OneSidedRef", "round_half_away"]


def round_half_away(v):
    """C's ``roundf``: halves away from zero (Python's ``round`` goes to even)."""
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)


# ----- the buffers of one batch of transfers (spec §4.6, §4.7) -----------------------------------
def _pulses(h, max_n, T):
    """``n = clip(trunc(h), -M, M)`` once ``|h| >= 1``, else 0."""
    if not abs(h) >= T(1):
        return 0
    return int(np.trunc(min(max(h, T(-max_n)), T(max_n))))


def chopped_buffer_ref(reads, cols, chop, lr_scale, H, max_n, momentum, forget_buffer, no_buffer,
                       dtype):
    """TTv2 buffer over a batch of transfer events, in event order (spec §4.6).

    For event ``e`` (column ``j = cols[e]``) and every output ``i``::

        h = (0 if no_buffer else H[i, j]) + chop[e, i] * read[e, i] * lr_scale[e]
        n = clip(trunc(h), -M, M) if |h| >= 1 else 0
        if n: h = h * momentum if forget_buffer else h - (1 - clip(momentum, 0, 1)) * n
        H[i, j] = h

    ``chop = -1`` where the input and output choppers of the element differ.

    Returns ``(counts, H)``: counts (n_ev, d) int, the new buffer (a copy).
    """
    T = np.dtype(dtype).type
    H = np.array(H, dtype=dtype)
    reads = np.asarray(reads, dtype=dtype)
    chop = np.asarray(chop, dtype=dtype)
    n_ev, d = reads.shape
    counts = np.zeros((n_ev, d), dtype=np.int64)
    mom = T(momentum)
    sub = T(1) - min(max(mom, T(0)), T(1))
    for e in range(n_ev):
        j = int(cols[e])
        scale = T(lr_scale[e])
        for i in range(d):
            h = (T(0) if no_buffer else H[i, j]) + chop[e, i] * reads[e, i] * scale
            n = _pulses(h, max_n, T)
            if n != 0:
                h = h * mom if forget_buffer else h - sub * T(n)
            H[i, j] = h
            counts[e, i] = n
    return counts, H


def dynamic_buffer_ref(reads, cols, chop, lr_scale, switched, H, mu, mu_past, max_n, momentum,
                       forget_buffer, cap, beta, dtype):
    """AGAD buffers over a batch of transfer events, in event order (spec §4.7).

    For event ``e`` (column ``j``) and every output ``i``::

        if switched[e]: mu_past[i, j] = mu[i, j]
        h = H[i, j] + chop[e, i] * (read[e, i] - mu_past[i, j]) * lr_scale[e]
        n = clip(trunc(h), -M, M) if |h| >= 1 else 0
        if n: h = h * momentum if forget_buffer
                 else clip(h - (1 - momentum) * n, -cap, cap)   (clip only if cap > 0)
        H[i, j] = h ; mu[i, j] = (1 - beta) mu[i, j] + beta read[e, i]

    Returns ``(counts, H, mu, mu_past)`` (copies).
    """
    T = np.dtype(dtype).type
    H = np.array(H, dtype=dtype)
    mu = np.array(mu, dtype=dtype)
    mu_past = np.array(mu_past, dtype=dtype)
    reads = np.asarray(reads, dtype=dtype)
    chop = np.asarray(chop, dtype=dtype)
    n_ev, d = reads.shape
    counts = np.zeros((n_ev, d), dtype=np.int64)
    mom, capT, b = T(momentum), T(cap), T(beta)
    for e in range(n_ev):
        j = int(cols[e])
        scale = T(lr_scale[e])
        for i in range(d):
            if switched[e]:
                mu_past[i, j] = mu[i, j]
            h = H[i, j] + chop[e, i] * (reads[e, i] - mu_past[i, j]) * scale
            n = _pulses(h, max_n, T)
            if n != 0:
                if forget_buffer:
                    h = h * mom
                else:
                    h = h - (T(1) - mom) * T(n)
                    if capT > 0:
                        h = min(max(h, -capT), capT)
            H[i, j] = h
            counts[e, i] = n
            mu[i, j] = (T(1) - b) * mu[i, j] + b * reads[e, i]
    return counts, H, mu, mu_past


def buffered_buffer_ref(reads, cols, lr, H, thres, max_n, momentum, forget_buffer, dtype):
    """BufferedTransferCompound buffer over a batch of transfer events (spec §4.5).

    For event ``e`` (column ``j``) and every output ``i``, with ``theta = thres``::

        h = H[i, j] + read[e, i] * lr
        n = clip(trunc(h / theta), -M, M)
        H[i, j] = (h * momentum if n else h) if forget_buffer
                  else (h - (1 - clip(momentum, 0, 1)) * n * theta if n else h)

    Returns ``(counts, H)`` (a copy).
    """
    T = np.dtype(dtype).type
    H = np.array(H, dtype=dtype)
    reads = np.asarray(reads, dtype=dtype)
    n_ev, d = reads.shape
    counts = np.zeros((n_ev, d), dtype=np.int64)
    lrT, th, mom = T(lr), T(thres), T(momentum)
    sub = T(1) - min(max(mom, T(0)), T(1))
    for e in range(n_ev):
        j = int(cols[e])
        for i in range(d):
            h = H[i, j] + reads[e, i] * lrT
            n = int(min(max(np.trunc(h / th), -max_n), max_n))
            if n != 0:
                h = h * mom if forget_buffer else h - sub * T(n) * th
            H[i, j] = h
            counts[e, i] = n
    return counts, H


# ----- a whole transfer compound, sample by sample -----------------------------------------------
class TransferRef:
    """Sequential Tiki-taka v1 / TTv2 / c-TTv2 / AGAD with two noise-free constant-step devices.

    Parameters
    ----------
    kind : {"tt", "buffered", "chopped", "dynamic"}
    cell : compound config (TransferCompound / BufferedTransferCompound /
        ChoppedTransferCompound / DynamicTransferCompound)
        Read by attribute: ``gamma``, ``transfer_every``, ``units_in_mbatch``, ``fast_lr``,
        ``transfer_lr``, ``scale_transfer_lr``, ``transfer_update``, ``n_reads_per_transfer``,
        ``transfer_columns``, ``with_reset_prob``, and for the chopped kinds the chopper, buffer
        and auto-scale fields.
    up : UpdateParameters of the tile (the update of A); its pulse type must be dense.
    device : the constant-step device of both A and C (noise-free: every pulse is ``dw_min``).
    d_size, x_size : int
    dtype : numpy float type
    """

    def __init__(self, kind, cell, up, device, d_size, x_size, dtype):
        self.kind = kind
        self.cell = cell
        self.up = up
        self.T = np.dtype(dtype).type
        self.dtype = np.dtype(dtype)
        self.shape = (d_size, x_size)
        self.g = float(device.dw_min)
        self.w_min, self.w_max = float(device.w_min), float(device.w_max)
        # the devices' weights W[0] = A ... W[n-1] = C, and a buffer per source device
        self.n = max(len(getattr(cell, "unit_cell_devices", [])), 2)
        self.W = [np.zeros(self.shape, dtype=dtype) for _ in range(self.n)]
        self.Hs = [np.zeros(self.shape, dtype=dtype) for _ in range(self.n - 1)]
        self.mu = np.zeros(self.shape, dtype=dtype)
        self.mu_past = np.zeros(self.shape, dtype=dtype)
        self.rows = not getattr(cell, "transfer_columns", True)
        n_in, n_out = (d_size, x_size) if self.rows else (x_size, d_size)
        # the choppers of the read lines (columns, or rows) and of the output lines
        self.c_in = np.zeros(n_in, dtype=bool)
        self.c_out = np.zeros(n_out, dtype=bool)
        self.switched = np.zeros(n_in, dtype=bool)
        self.count = 0
        self.slices = [0] * (self.n - 1)  # next line each source device transfers
        self.transfer_counter = 0
        self.m_x = 0.0
        self.m_d = 0.0
        self.n_in = d_size if self.rows else x_size  # the lines a transfer reads
        self.n_reads = min(int(getattr(cell, "n_reads_per_transfer", 1)), self.n_in)
        # with_reset_prob: the read column of A goes to the reset value (deterministic only for
        # probabilities 0 and 1, and a device without reset noise)
        self.reset_prob = float(getattr(cell, "with_reset_prob", 0.0))
        if self.reset_prob > 0:
            assert float(device.reset_std) == 0 and float(device.reset_dtod) == 0
        self.reset_value = min(max(float(device.reset), self.w_min), self.w_max)
        gamma_vec = list(getattr(cell, "gamma_vec", []) or [])
        self.gamma = gamma_vec if gamma_vec else [float(cell.gamma) ** (self.n - 1 - k)
                                                  for k in range(self.n)]
        self.fully_hidden = (sum(self.gamma[:-1]) if gamma_vec else float(cell.gamma)) == 0 \
            and self.gamma[-1] == 1
        # transfer periods: given, or each next one x_size / n_reads times the last (aihwkit's
        # documentation), the last device's 0
        te = list(getattr(cell, "transfer_every_vec", []) or [])
        if not te:
            te = [float(cell.transfer_every) * (x_size / self.n_reads) ** k for k in range(self.n)]
            if getattr(cell, "no_self_transfer", True):
                te[-1] = 0.0
        self.te = [float(v) for v in te]
        lrs = list(getattr(cell, "transfer_lr_vec", []) or [])
        self.transfer_lrs = lrs if lrs else [float(cell.transfer_lr)] * self.n

    # the fast device, the slow (last) device and the first buffer
    A = property(lambda self: self.W[0], lambda self, v: self.W.__setitem__(0, v))
    C = property(lambda self: self.W[-1], lambda self, v: self.W.__setitem__(-1, v))
    H = property(lambda self: self.Hs[0], lambda self, v: self.Hs.__setitem__(0, v))

    @property
    def slice(self):
        return self.slices[0]

    # -- pieces of the algorithm ------------------------------------------------------------------
    def _step(self, w, counts):
        return apply_constant_step(w, counts, self.g, self.g, self.w_min, self.w_max, self.dtype)

    def every(self, m, level=0):
        """Vector updates between the transfers out of device ``level`` (spec §4.4; §4.6 for
        ``transfer_every < 0``)."""
        te = self.te[level]
        if self.kind in ("chopped", "dynamic") and te < 0:
            num_states = (self.w_max - self.w_min) / self.g  # the fast device's number of states
            return max(1, round_half_away(num_states / self.n_in * abs(te)))
        if te <= 0:
            return 0
        if self.cell.units_in_mbatch:
            return max(int(math.ceil(te * m)), 0)
        return max(round_half_away(te), 0)

    def fast_lr(self, x, d, lr, m):
        """Learning rate of A's pulses for one sample (v1.1.0: the absolute ``fast_lr``)."""
        cell = self.cell
        if self.kind in ("chopped", "dynamic") and cell.auto_scale:
            # aihwkit's updateAutoScale and getPulseCountAutoLR, in the tile's type
            T = np.dtype(self.dtype).type
            tau = (T(1.0) - T(cell.auto_momentum)) / T(m)
            for name, v in (("m_x", T(np.max(np.abs(x)))), ("m_d", T(np.max(np.abs(d))))):
                cur = T(getattr(self, name))
                if cur <= 0:
                    setattr(self, name, v)
                elif v > 0:
                    setattr(self, name, (T(1.0) - tau) * cur + tau * v)
            if cell.fast_lr > 0:
                lr_pc = T(cell.fast_lr) * (T(self.up.desired_bl) * T(self.g))
                if self.m_x > 0 and self.m_d > 0:
                    lr_pc = lr_pc / (T(self.m_x) * T(self.m_d))
                return float(lr_pc)
        if cell.fast_lr > 0:
            return float(cell.fast_lr)
        return float(lr)

    def _n_period(self):
        p = float(self.cell.in_chop_prob)
        return max(int(math.ceil(1.0 / p)) if p > 0 else 2, 2)

    @staticmethod
    def _coin(p):
        """``U < p`` for a random chopper: only certain outcomes are deterministic."""
        if p >= 1:
            return True
        if p <= 0:
            return False
        raise NotImplementedError("random choppers with 0 < p < 1 are not deterministic")

    def _line_counts(self, e_j, v, lr, up):
        """Counts of the pulsed write of line j with the vector v: x = e_j, d = v for a column,
        x = v, d = e_j for a row."""
        if self.rows:
            return dense_counts(v, e_j, lr, self.g, up, self.dtype)
        return dense_counts(e_j, v, lr, self.g, up, self.dtype)

    def _transfer_lr(self, src, lr, gamma_from=0.0, gamma_to=0.0):
        """aihwkit's getTransferLR in the tile's type: transfer_lr (times lr with
        scale_transfer_lr), times gamma_from / gamma_to where both are positive."""
        T = np.dtype(self.dtype).type
        lr_t = T(self.transfer_lrs[src])
        if self.cell.scale_transfer_lr:
            lr_t = lr_t * T(lr)
        if gamma_from > 0 and gamma_to > 0:
            lr_t = lr_t * (T(gamma_from) / T(gamma_to))
        return float(lr_t)

    def _transfer(self, j, lr, lr_fast, level=0):
        """Line j of device ``level`` read and written into device ``level + 1``."""
        cell = self.cell
        d, x = self.shape
        src, to = level, level + 1
        w = self.W[src]
        read = (w[j, :] if self.rows else w[:, j]).copy()  # perfect transfer read
        if self.reset_prob > 0 and self._coin(self.reset_prob):
            w[:, j] = self.reset_value  # (column transfer only)
        e_j = np.zeros(self.n_in, dtype=self.dtype)
        e_j[j] = 1
        T = np.dtype(self.dtype).type
        if self.kind == "tt":
            lr_t = self._transfer_lr(src, lr)
            counts = self._line_counts(e_j, -read, lr_t, cell.transfer_update)
            self.W[to] = self._step(self.W[to], counts)
            return
        M = int(cell.transfer_update.desired_bl)
        if self.kind == "buffered":
            # v = +read; the buffer in weight units; threshold thres_scale * g_to (spec §4.5)
            lr_t = self._transfer_lr(src, lr, self.gamma[src], self.gamma[to])
            # (a row's buffer entries are a row of H: the same formula on H transposed)
            H = self.Hs[src].T.copy() if self.rows else self.Hs[src]
            counts, H = buffered_buffer_ref(read[None], [j], abs(lr_t), H,
                                            cell.thres_scale * self.g, M, cell.momentum,
                                            cell.forget_buffer, self.dtype)
            self.Hs[src] = H.T.copy() if self.rows else H
            n = counts[0]
            if np.any(n != 0):
                c = self._line_counts(e_j, -n.astype(self.dtype), cell.step * self.g,
                                      cell.transfer_update)
                self.W[to] = self._step(self.W[to], c)
            return
        # aihwkit's getBufferGranularity and getTransferLRScale, in the tile's type
        bg = T(cell.buffer_granularity) if cell.buffer_granularity > 0 else T(1.0)
        if cell.auto_granularity > 0:
            period = T(self.n_in) * T(abs(float(cell.transfer_every)))
            bg = bg * (T(self.g) * T(cell.auto_granularity) / period)
        else:
            bg = bg * T(self.g)
        lr_t = T(abs(self._transfer_lr(0, lr, self.gamma[0], self.gamma[1])))
        if cell.correct_gradient_magnitudes:
            lr_scale = float(lr_t / T(lr_fast) / bg)  # bg *= g_C / g_A = 1 here
        else:
            lr_scale = float(lr_t / bg)
        chop = np.where(self.c_in[j] != self.c_out, -1, 1).astype(self.dtype)
        write = True
        if self.kind == "dynamic":
            N = self._n_period()
            cur = self.transfer_counter % N + 1
            if cell.experimental_correct_accumulation:
                lr_scale /= min(cur, 1.0 / self.g)
            beta = min(cell.tail_weightening / N, 1.0)
            sw = self.switched[j]
            self.switched[j] = False
            # (a row's buffer entries are a row of each buffer: the formulas on them transposed)
            bufs = [b.T.copy() if self.rows else b for b in (self.H, self.mu, self.mu_past)]
            counts, *bufs = dynamic_buffer_ref(
                read[None], [j], chop[None], [lr_scale], [sw], *bufs, M,
                cell.momentum, cell.forget_buffer, M * cell.buffer_cap, beta, self.dtype)
            self.H, self.mu, self.mu_past = [b.T.copy() if self.rows else b for b in bufs]
            write = self.transfer_counter > N
            if cur == N or (cell.in_chop_random and self._coin(cell.in_chop_prob)):
                self.c_in[j] = not self.c_in[j]
                self.switched[j] = True
        else:
            counts, H = chopped_buffer_ref(
                read[None], [j], chop[None], [lr_scale], self.H.T.copy() if self.rows else self.H,
                M, cell.momentum, cell.forget_buffer, cell.no_buffer, self.dtype)
            self.H = H.T.copy() if self.rows else H
            if cell.in_chop_prob > 0:
                if cell.in_chop_random:
                    flip = self._coin(cell.in_chop_prob)
                else:
                    flip = self.transfer_counter % self._n_period() + 1 == self._n_period()
                if flip:
                    self.c_in[j] = not self.c_in[j]
        n = counts[0]
        if write and np.any(n != 0):
            # pulsed write of C: lr = step g_C, x = e_j, d = -n (the transfer update parameters;
            # x = -n, d = e_i for a row)
            c = self._line_counts(e_j, -n.astype(self.dtype), cell.step * self.g,
                                  cell.transfer_update)
            self.C = self._step(self.C, c)
        if j == self.n_in - 1:
            if self.kind == "chopped" and cell.out_chop_prob > 0 and self._coin(cell.out_chop_prob):
                self.c_out = ~self.c_out
            self.transfer_counter += 1

    # -- the public part --------------------------------------------------------------------------
    def update(self, X, D, lr):
        """One tile update call: the samples of ``X`` (m, x), ``D`` (m, d) in order."""
        X = np.asarray(X, dtype=self.dtype)
        D = np.asarray(D, dtype=self.dtype)
        m = X.shape[0]
        every = self.every(m)
        for x, d in zip(X, D):
            lr_fast = self.fast_lr(x, d, lr, m)
            if self.kind in ("chopped", "dynamic"):
                # the input choppers sign the read lines: x for columns, d for rows
                c_x, c_d = (self.c_out, self.c_in) if self.rows else (self.c_in, self.c_out)
                x = np.where(c_x, -x, x)
                d = np.where(c_d, -d, d)
            counts = dense_counts(x, d, lr_fast, self.g, self.up, self.dtype)
            self.A = self._step(self.A, counts)
            self.count += 1
            # device k's transfer follows device k - 1's (the last device's is none)
            for k in range(self.n - 1):
                every_k = every if k == 0 else self.every(m, k)
                if every_k > 0 and self.count % every_k == 0:
                    first = self.slices[k]
                    self.slices[k] = (first + self.n_reads) % self.n_in
                    for r in range(self.n_reads):
                        self._transfer((first + r) % self.n_in, lr, lr_fast, k)

    @property
    def weights(self):
        """Visible weights: C when fully hidden, else ``sum_k gamma_k W_k`` (v1.1.0: not
        de-chopped)."""
        if self.fully_hidden:
            return self.C.copy()
        total = np.zeros(self.shape, dtype=np.float64)
        for g, w in zip(self.gamma, self.W):
            total = total + g * w.astype(np.float64)
        return total.astype(self.dtype)


# ----- a OneSidedUnitCell, sample by sample ------------------------------------------------------
class OneSidedRef:
    """Sequential OneSidedUnitCell (spec §4.3) with two noise-free constant-step devices.

    g- is device 0, g+ device 1, ``W = g+ - g-``. Each sample's dense pulse counts ``C`` (> 0:
    down) go to g- as ``C`` up pulses where ``C > 0`` and to g+ as ``|C|`` up pulses where
    ``C < 0``. After every ``refresh_every`` samples (times the batch size if
    ``units_in_mbatch``), counted from ``set_weights``, the refresh reads both devices
    perfectly; an element is refreshed when the larger read over ``|w_max|`` is above the upper
    threshold and the smaller one above the lower one; both devices are reset to
    ``clip(reset)`` (``reset_std`` must be 0) and ``|p - m|`` is written onto the device that
    read larger, column by column, with ``refresh_update`` (a dense pulse type) and lr 1, as
    aihwkit intends (its dense write with lr -1 has the opposite sign, spec §8 item 11).
    """

    def __init__(self, cell, up, device, d_size, x_size, dtype):
        self.cell = cell
        self.up = up
        self.T = np.dtype(dtype).type
        self.dtype = np.dtype(dtype)
        self.shape = (d_size, x_size)
        self.g = float(device.dw_min)
        self.w_min, self.w_max = float(device.w_min), float(device.w_max)
        self.reset = float(device.reset)
        assert float(device.reset_std) == 0.0
        self.gp = np.zeros(self.shape, dtype=dtype)
        self.gm = np.zeros(self.shape, dtype=dtype)
        self.count = 0
        self.n_refreshed = 0  # elements re-written so far (for the tests)

    def _step(self, w, counts):
        return apply_constant_step(w, counts, self.g, self.g, self.w_min, self.w_max, self.dtype)

    def set_weights(self, W):
        W = np.asarray(W, dtype=self.dtype)
        lo, hi = self.T(self.w_min), self.T(self.w_max)
        self.gp = np.clip(np.maximum(W, 0), lo, hi).astype(self.dtype)
        self.gm = np.clip(np.maximum(-W, 0), lo, hi).astype(self.dtype)
        self.count = 0

    def refresh(self):
        T, cell = self.T, self.cell
        p, m = self.gp.copy(), self.gm.copy()
        wp = wm = T(abs(self.w_max))
        up_t, lo_t = T(cell.refresh_upper_thres), T(cell.refresh_lower_thres)
        pn, mn = p / wp, m / wm
        mask = np.where(p > m, (pn > up_t) & (mn > lo_t), (pn > lo_t) & (mn > up_t))
        if not mask.any():
            return
        self.n_refreshed += int(mask.sum())
        b0 = T(min(max(self.reset, self.w_min), self.w_max))
        self.gp[mask] = b0
        self.gm[mask] = b0
        diff = (p - m).astype(self.dtype)
        for name, where in (("gp", mask & (diff > 0)), ("gm", mask & (diff < 0))):
            for j in np.flatnonzero(where.any(axis=0)):
                e_j = np.zeros(self.shape[1], dtype=self.dtype)
                e_j[j] = 1
                d = -np.where(where[:, j], np.abs(diff[:, j]), 0).astype(self.dtype)
                c = dense_counts(e_j, d, 1.0, self.g, cell.refresh_update, self.dtype)
                setattr(self, name, self._step(getattr(self, name), c))

    def update(self, X, D, lr):
        X = np.asarray(X, dtype=self.dtype)
        D = np.asarray(D, dtype=self.dtype)
        m = X.shape[0]
        every = int(self.cell.refresh_every)
        period = (every * m if self.cell.units_in_mbatch else every) if every > 0 else 0
        for x, d in zip(X, D):
            c = dense_counts(x, d, lr, self.g, self.up, self.dtype)
            self.gp = self._step(self.gp, np.where(c < 0, c, 0))
            self.gm = self._step(self.gm, np.where(c > 0, -c, 0))
            self.count += 1
            if period > 0 and self.count % period == 0:
                self.refresh()

    @property
    def weights(self):
        return (self.gp - self.gm).astype(self.dtype)

