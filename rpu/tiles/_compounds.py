"""Compound devices: several device arrays behind one tile's weights, and the training algorithms
that move weight between them (aihwkit's unit cells and transfer compounds, spec training.md §4).

Each class here has the interface of :class:`rpu.tiles._device_array.DeviceArray` (the tile calls
``update``, ``on_set_weights``, the maintenance methods and the state methods the same way), and
owns one ``DeviceArray`` per sub-device with that sub-device's own weights ("hidden_weights_k").

* :class:`VectorCell` -- VectorUnitCell and ReferenceUnitCell: visible W = sum_k gamma_k w_k; the
  update goes to every device (policy ALL: the same pulse trains, independent pulse noise) or to one
  chosen per sample.
* :class:`TransferCell` -- TransferCompound (Tiki-taka v1), ChoppedTransferCompound (TTv2,
  c-TTv2) and DynamicTransferCompound (AGAD), with two devices: the fast array A takes the SGD
  pulses; every few samples one column of A is read through the transfer periphery and written
  into the slow array C.
* :class:`MixedPrecisionCell` -- MixedPrecisionCompound: a digital accumulator chi takes the
  exact update; whole multiples of the granularity are written into the analog device.
* :class:`OneSidedCell` -- OneSidedUnitCell: a pair g+ / g- of devices that only move up,
  W = w(g+) - w(g-), with a periodic refresh that resets saturating pairs and re-writes their
  difference.

BufferedTransferCompound (TTv2 without choppers) runs in :class:`TransferCell` with the
chopped compounds' machinery and its own buffer rule (``_core.buffered_buffer``).

Why the transfer is fast. A never depends on C, so one pass of the pulsed-update kernel applies
the whole batch to A and, row by row, records the column each transfer reads at the moment it
reads it (``record_cols``). The reads then go through the transfer periphery together (one small
product), the buffers are advanced by the transfer kernel over rows, and all the writes into C
are one more pulsed update, samples in order. Nothing loops over elements in Python, and the
result is the sequential algorithm's: sample, transfer, sample, ...

Backends. The cells are written once for NumPy and CuPy (``self.xp``): the weights, buffers,
reads and pulse counts live on the tile's backend, and the backend's entry points (the pulsed
update, the analog MVM, ``chopped_buffer``, ``dynamic_buffer``, ``buffered_buffer``,
``refresh_select``) do the work there. The schedule -- which samples transfer or refresh, which
columns, the chopper signs, per-sample learning rates, the policies' choices -- is a handful of
numbers per batch and is made on the host on every backend (``_host``: a copy and a sync on the
GPU), from the same draws, so both backends follow the same schedule.
"""
import math

import numpy as np

from rpu import _core, _threads
from rpu._rng import Purpose, resolve_seed
from rpu.backends import array_module
from rpu.config import (
    BufferedTransferCompound,
    ChoppedTransferCompound,
    DynamicTransferCompound,
    MixedPrecisionCompound,
    OneSidedUnitCell,
    ReferenceUnitCell,
    TransferCompound,
    VectorUnitCell,
    VectorUnitCellUpdatePolicy,
)
from rpu.config.enums import BoundManagementType, NoiseManagementType, PulseType
from rpu.errors import ConfigError
from rpu.tiles import _devices
from rpu.tiles._device_array import DeviceArray
from rpu.tiles._periphery import Periphery
from rpu.tiles.update_management import check_bit_lengths

# Roles of the derived keys: every random job of a compound has its own stream.
(_ROLE_DEVICE, _ROLE_NOISE, _ROLE_POLICY, _ROLE_READ, _ROLE_WRITE, _ROLE_CHOP, _ROLE_QUANT,
 _ROLE_MAINTENANCE, _ROLE_SEGMENT, _ROLE_REFRESH) = range(10)

# The uniform sub-streams of the transfer's reset coins (with_reset_prob), beside the choppers'
# (0 and 1 + event) and random_selection's (0xFFFFFF); the transfers out of devices k >= 1 draw
# theirs (and their random_selection) from sub-streams + k.
_SUB_RESET_COIN = 0xFFFFFE
_SUB_UPPER_SELECT = 0xFF0000
_SUB_UPPER_RESET = 0xFE0000

# A transfer's buffer step is a few flops on elements of H that the fast array's update has
# just evicted from the caches: each one waits on memory, like some tens of arithmetic element
# operations. The thread count of the buffer kernels counts them so (_threads.for_work); on one
# thread, the 100 x 256 buffer steps of a c-TTv2 batch took 0.14 ms, on two 0.08 ms.
_BUFFER_STEP_WORK = 16

# A buffer adds reads (weights of order 1, at most the device bounds) times its scale: a scale
# within this fraction of the dtype's largest number leaves room for any such read.
_BUFFER_SCALE_MARGIN = 1e-9


def _derived_key(key, role, k=0):
    """A 64-bit key for one role of one sub-device, mixed from the tile key."""
    ss = np.random.SeedSequence([key & 0xFFFFFFFF, key >> 32, 0xC0, role, k])
    return int(ss.generate_state(1, dtype=np.uint64)[0])


def _host(backend, a):
    """``a`` as a NumPy array: per-sample and per-event numbers that the host's control flow
    needs (the array itself on the CPU core; a copy, and a sync, on the GPU)."""
    return backend.to_host(a) if hasattr(backend, "to_host") else a


class _Draws:
    """Uniforms for the compound's decisions (policies, choppers, stochastic rounding)."""

    def __init__(self, backend, key):
        self.backend = backend
        self.key = key

    def uniform_array(self, n, op, sub=0):
        """n uniforms (float64) as an array of the backend."""
        out = array_module(self.backend).empty((1, max(int(n), 1)), dtype=np.float64)
        self.backend.uniform_fill(out, self.key, op, int(Purpose.X_PROB_ROUND), sub, 1)
        return out[0, : int(n)]

    def uniform(self, n, op, sub=0):
        """n uniforms (float64) on the host, for decisions the host makes."""
        return _host(self.backend, self.uniform_array(n, op, sub))


def _construction_seeds(device):
    """The construction_seed of ``device``, then those of the devices inside it, depth first."""
    yield getattr(device, "construction_seed", 0)
    for sub in getattr(device, "unit_cell_devices", None) or []:
        yield from _construction_seeds(sub)
    inner = getattr(device, "device", None)  # the analog device of a MixedPrecisionCompound
    if inner is not None:
        yield from _construction_seeds(inner)


def construction_base(cell, key):
    """The key that the device-to-device draws of every device in a compound derive from.

    As in aihwkit, the compound's own ``construction_seed`` keys them all and each sub-device
    draws its own stream from it (aihwkit's sub-devices draw one after the other from the
    compound's generator), so two sub-devices are never the same devices. Where the compound's
    seed is 0 (aihwkit would seed from the clock), the first non-zero seed of its devices is
    used: ``build_config("mp", ..., construction_seed=s)`` puts ``s`` on the analog device, and
    a seed given only to the devices still fixes the draws. With no seed at all, the tile's key.
    """
    for seed in _construction_seeds(cell):
        if seed:
            return resolve_seed(seed)[1]
    return key


def _sub_device_arrays(devices, up, shape, dtype, backend, key, n_threads, path,
                       construction=None):
    """One DeviceArray per device; their construction draws come from ``construction`` (the
    compound's :func:`construction_base`, the tile key where None), one stream per device."""
    base = key if construction is None else construction
    subs = []
    for k, dev in enumerate(devices):
        subs.append(DeviceArray(dev, up, shape[0], shape[1], dtype, backend, key, n_threads,
                                construction_key=_derived_key(base, _ROLE_DEVICE, k)))
        if not subs[-1].pulsed:
            raise ConfigError(f"{path}.unit_cell_devices[{k}] = {type(dev).__name__} is not a "
                              f"pulsed device; compound cells need pulsed devices (e.g. "
                              f"ConstantStepDevice, SoftBoundsDevice).")
    return subs


def _load_count(values, name, default, upper=None):
    """A saved integer counter: a whole number >= 0 (and < ``upper`` where one is given)."""
    if name not in values:
        return default
    v = np.asarray(values[name])
    bound = f"< {upper}" if upper is not None else "< 2^63"
    if v.shape != () or v.dtype.kind not in "iu" or int(v) < 0 \
            or int(v) >= (upper if upper is not None else 2 ** 63):
        raise ValueError(f"counter {name} must be one integer >= 0 and {bound}, got {v!r}.")
    return int(v)


class _Cell:
    """What every compound shares: sub-devices with their weights, names, maintenance, state."""

    pulsed = True

    def __init__(self, subs, shape, dtype, backend, key):
        self.subs = subs
        self.shape = shape
        self.dtype = np.dtype(dtype)
        self.backend = backend
        self.key = key
        self.w = [self.xp.zeros(shape, dtype=dtype) for _ in subs]
        self.noise_keys = [_derived_key(key, _ROLE_NOISE, k) for k in range(len(subs))]
        self.draws = _Draws(backend, _derived_key(key, _ROLE_POLICY))
        self.maintenance_keys = [_derived_key(key, _ROLE_MAINTENANCE, k) for k in range(len(subs))]
        self.extra = {}  # name -> (d, x) array of extra hidden state (buffers)

    @property
    def xp(self):
        """The array module of the backend the state lives on (numpy, or cupy on the GPU)."""
        return array_module(self.backend)

    # ----- hidden parameters -------------------------------------------------------------
    @property
    def names(self):
        out = []
        for k, sub in enumerate(self.subs):
            out += [f"{n}_{k}" for n in sub.names] + [f"hidden_weights_{k}"]
        return out + list(self.extra)

    def get_hidden(self):
        out = {}
        for k, sub in enumerate(self.subs):
            for j, n in enumerate(sub.names):
                out[f"{n}_{k}"] = sub.hidden[j].copy()
            out[f"hidden_weights_{k}"] = self.w[k].copy()
        out.update({n: v.copy() for n, v in self.extra.items()})
        return out

    def set_hidden(self, staged, weights):
        for k, sub in enumerate(self.subs):
            for j, n in enumerate(sub.names):
                sub.hidden[j] = staged[f"{n}_{k}"]
            self.w[k][...] = staged[f"hidden_weights_{k}"]
            # The bounds hold a write-noise device's persistent weights; the weights it shows
            # (persistent + write noise) may lie outside them and are kept as given, so that
            # setting what get_hidden returned changes nothing.
            sub.clip(sub.persistent if sub.persistent is not None else self.w[k])
        for n in self.extra:
            self.extra[n][...] = staged[n]
        self.visible(weights)

    persistent = None

    # ----- maintenance: every sub-device with its own parameters -------------------------
    def _each(self, name, weights, *args):
        # the tile key is replaced by each sub-device's own, so that their draws differ
        op, n_threads = args[-2:]
        for k, sub in enumerate(self.subs):
            getattr(sub, name)(self.w[k], *args[:-3], self.maintenance_keys[k], op, n_threads)
        self.visible(weights)

    def decay(self, weights, alpha, key, op, n_threads):
        self._each("decay", weights, alpha, key, op, n_threads)

    def diffuse(self, weights, key, op, n_threads):
        self._each("diffuse", weights, key, op, n_threads)

    def drift(self, weights, delta_t, key, op, n_threads):
        self._each("drift", weights, delta_t, key, op, n_threads)

    def reset_columns(self, weights, columns, reset_prob, key, op, n_threads):
        for k in self.reset_devices():
            self.subs[k].reset_columns(self.w[k], columns, reset_prob, self.maintenance_keys[k], op,
                                       n_threads)
        self.visible(weights)

    def reset_devices(self):
        return range(len(self.subs))

    def any_diffusion(self):
        return any(sub.any_diffusion() for sub in self.subs)

    def any_decay(self):
        return any(sub.any_decay() for sub in self.subs)

    def drift_parameters(self):
        return self.subs[0].drift_parameters()

    # ----- state ---------------------------------------------------------------------------
    def counters(self):
        """Integer/float scalars and small vectors of algorithm state (saved with the tile)."""
        return {}

    def load_counters(self, values):
        pass

    def state_arrays(self):
        arrays = {}
        for k, sub in enumerate(self.subs):
            for name, value in sub.state_arrays().items():
                arrays[f"sub{k}.{name}"] = value
            arrays[f"sub{k}.weights"] = self.w[k]
        for n, v in self.extra.items():
            arrays[f"extra.{n}"] = v
        for n, v in self.counters().items():
            # (device arrays stay as they are: the file writer brings them to the host)
            arrays[f"counter.{n}"] = v if hasattr(v, "__cuda_array_interface__") else np.asarray(v)
        return arrays

    def load_state(self, arrays):
        for k, sub in enumerate(self.subs):
            prefix = f"sub{k}."
            sub.load_state({key[len(prefix):]: v for key, v in arrays.items()
                            if key.startswith(prefix) and key != prefix + "weights"})
            w = np.asarray(arrays[prefix + "weights"], dtype=self.dtype)
            if w.shape != self.shape or not np.isfinite(w).all():
                raise ValueError(f"{prefix}weights must be finite with shape {self.shape}.")
            self.w[k][...] = self.xp.asarray(w)
        for n in self.extra:
            v = np.asarray(arrays[f"extra.{n}"], dtype=self.dtype)
            if v.shape != self.extra[n].shape or not np.isfinite(v).all():
                raise ValueError(f"{n} must be finite with shape {self.extra[n].shape}.")
            self.extra[n][...] = self.xp.asarray(v)
        self.load_counters({key.split(".", 1)[1]: np.asarray(v) for key, v in arrays.items()
                            if key.startswith("counter.")})


class VectorCell(_Cell):
    """VectorUnitCell / ReferenceUnitCell (spec §4.1, §4.2)."""

    _host_state = ("gamma",)  # the mixing coefficients: host numbers on every backend

    def __init__(self, cell, up, shape, dtype, backend, key, n_threads, path, construction=None):
        devices = list(cell.unit_cell_devices)
        if isinstance(cell, ReferenceUnitCell):
            devices = (devices * 2)[:2]
        subs = _sub_device_arrays(devices, up, shape, dtype, backend, key, n_threads, path,
                                  construction)
        super().__init__(subs, shape, dtype, backend, key)
        n = len(subs)
        self.up = up
        self.gamma = np.array(cell.gamma_vec if len(cell.gamma_vec) else [1.0 / n] * n, dtype=np.float64)
        self.policy = VectorUnitCellUpdatePolicy(cell.update_policy)
        self.first = int(cell.first_update_idx)
        self.current = self.first
        self.granularity = _devices.mean_granularity([s.granularity for s in subs], self.dtype)

    def visible(self, weights):
        acc = self.xp.zeros(self.shape, dtype=np.float64)
        for g, w in zip(self.gamma, self.w):
            acc += g * w
        weights[...] = acc.astype(self.dtype)

    def on_set_weights(self, weights, key, op, n_threads):
        fixed = self.policy == VectorUnitCellUpdatePolicy.SINGLE_FIXED
        if not fixed:
            self.current = self.first
        for k, sub in enumerate(self.subs):
            if not fixed or k == self.current:
                self.w[k][...] = weights
                sub.on_set_weights(self.w[k], key, op, n_threads)
        self.visible(weights)

    def _choices(self, m, op):
        """The device each sample goes to (aihwkit's CPU path chooses per sample)."""
        n = len(self.subs)
        if self.policy == VectorUnitCellUpdatePolicy.SINGLE_RANDOM:
            ks = np.minimum((self.draws.uniform(m, op) * n).astype(np.int64), n - 1)
        elif self.policy == VectorUnitCellUpdatePolicy.SINGLE_SEQUENTIAL:
            ks = (self.current + 1 + np.arange(m)) % n  # the first sample after set_weights: 1
        else:
            return np.full(m, self.current, dtype=np.int64)
        self.current = int(ks[-1])
        return ks

    def update(self, weights, X, D, lr, key, op, n_threads):
        if self.policy == VectorUnitCellUpdatePolicy.ALL:
            for k, sub in enumerate(self.subs):
                sub.update(self.w[k], X, D, lr, key, op, n_threads, granularity=self.granularity,
                           noise_key=self.noise_keys[k])
        else:
            xp = self.xp
            ks = self._choices(X.shape[0], op)
            for k, sub in enumerate(self.subs):
                rows = np.flatnonzero(ks == k)
                if rows.size:
                    rows = xp.asarray(rows)
                    sub.update(self.w[k], xp.ascontiguousarray(X[rows]), xp.ascontiguousarray(D[rows]),
                               lr, key, op, n_threads, granularity=self.granularity,
                               noise_key=self.noise_keys[k])
        self.visible(weights)

    def counters(self):
        return {"current_device_idx": self.current}

    def load_counters(self, values):
        self.current = _load_count(values, "current_device_idx", self.current, len(self.subs))


def _read_periphery(io, shape, backend, key, dtype, n_threads, path, rows=False):
    """The transfer read's periphery, with noise and bound management off (as aihwkit forces):
    a forward read of columns, or with ``rows`` a backward read of rows (row transfer).

    The reads of a batch go through it together, as one product of the recorded columns (rows)
    with an identity; that is the read of each one by its one-hot vector exactly when no part of
    the periphery couples a line to the other (zero) inputs, which the defaults satisfy.
    """
    io = _copy_config(io)
    io.noise_management = NoiseManagementType.NONE
    io.bound_management = BoundManagementType.NONE
    coupled = {"inp_noise": io.inp_noise > 0, "ir_drop": io.ir_drop > 0,
               "w_read_asymmetry_dtod": io.w_read_asymmetry_dtod != 0,
               "v_offset_std": io.v_offset_std > 0, "r_series": io.r_series > 0,
               "out_nonlinearity": io.out_nonlinearity > 0}
    for name, on in coupled.items():
        if on and not io.is_perfect:
            raise ConfigError(f"{path}.{name} = {getattr(io, name)!r}: rpu reads the transferred "
                              f"columns without the zero inputs of the one-hot read vector, which "
                              f"this setting would involve; set it to 0 for the transfer read.")
    if rows:
        return Periphery(io, "backward", shape[1], shape[0], shape, backend, key, dtype, n_threads,
                         path)
    return Periphery(io, "forward", shape[0], shape[1], shape, backend, key, dtype, n_threads, path)


def _copy_config(cfg):
    from rpu.config import from_dict
    return from_dict(cfg.to_dict())


class TransferCell(_Cell):
    """Tiki-taka v1, the buffered TTv2, TTv2 / c-TTv2 and AGAD (spec §4.4-4.7): column or row
    transfer; Tiki-taka and the buffered compound also take chains of more than two devices,
    several reads per transfer and (Tiki-taka) resets of the read columns.

    BufferedTransferCompound is the chopped compounds' path without choppers (every chopper
    sign +1, A's learning rate and the transfer period as Tiki-taka's) and with its own buffer
    rule (spec §4.5): the buffer holds weight units, ``h += read |lr_t|``, and whole multiples
    of ``thres_scale g_C`` leave it as pulses on C.

    On the GPU backend the weights, buffers and reads are device arrays; the schedule (events,
    columns, chopper signs, per-sample learning rates) is made on the host, as on the CPU.
    """

    # the schedule's state: host numbers on every backend
    _host_state = ("gamma", "in_chopper", "out_chopper", "in_switched", "_ev_switched",
                   "upper_slices", "upper_transfers")

    def __init__(self, cell, up, shape, dtype, backend, key, n_threads, path, construction=None):
        devices = list(cell.unit_cell_devices)
        if len(devices) < 2:
            raise ConfigError(f"{path}.unit_cell_devices has {len(devices)} devices; a transfer "
                              f"compound needs at least 2 (fast A, slow C).")
        if len(devices) > 2 and isinstance(cell, ChoppedTransferCompound):
            raise ConfigError(f"{path}.unit_cell_devices has {len(devices)} devices; the chopped "
                              f"compounds take exactly 2 (fast A, slow C), as aihwkit's.")
        # as aihwkit: every device after the first is built from the second entry
        devices = devices[:1] + devices[1:2] * (len(devices) - 1)
        subs = _sub_device_arrays(devices, up, shape, dtype, backend, key, n_threads, path,
                                  construction)
        super().__init__(subs, shape, dtype, backend, key)
        self.cell = cell
        self.up = up
        self.chopped = isinstance(cell, ChoppedTransferCompound)
        self.buffered = isinstance(cell, BufferedTransferCompound)
        self.dynamic = isinstance(cell, DynamicTransferCompound)
        d, x = shape
        n = self.n_devices = len(subs)
        # the visible weight sum_k gamma_k w_k: gamma_k = gamma^(n-1-k) unless given
        if len(cell.gamma_vec):
            self.gamma = np.array(cell.gamma_vec, dtype=np.float64)
            gamma_fast = float(np.sum(self.gamma[:-1]))
        else:
            self.gamma = np.array([float(cell.gamma) ** (n - 1 - k) for k in range(n)])
            gamma_fast = float(cell.gamma)
        self.fully_hidden = gamma_fast == 0 and self.gamma[-1] == 1
        self.granularity = _devices.mean_granularity([s.granularity for s in subs], self.dtype)
        self.transfer_lrs = [float(v) for v in (list(cell.transfer_lr_vec) or [cell.transfer_lr] * n)]
        # column transfer reads columns of A (its "in" lines are the x_size columns) and writes
        # them into C's columns; row transfer reads and writes rows (spec §4.4)
        self.rows = not cell.transfer_columns
        self.n_in = d if self.rows else x
        self.n_out = x if self.rows else d
        self.n_reads = min(int(cell.n_reads_per_transfer), self.n_in)
        if self.chopped and (self.n_reads != 1 or cell.random_selection or cell.with_reset_prob > 0):
            raise ConfigError(f"{path}: chopped transfer needs n_reads_per_transfer = 1, "
                              f"random_selection = False and with_reset_prob = 0 (as aihwkit's).")
        # A read column is reset with this probability after its read (column transfer only:
        # the config refuses it with rows; the chopped compounds above refuse it). aihwkit
        # 1.1.0's buffered compound ignores the setting: refused rather than ignored here.
        if self.buffered and cell.with_reset_prob > 0:
            raise ConfigError(f"{path}.with_reset_prob = {cell.with_reset_prob}: aihwkit 1.1.0's "
                              f"BufferedTransferCompound never resets (it ignores this setting); "
                              f"set it to 0 to run what aihwkit runs.")
        self.reset_prob = float(cell.with_reset_prob)
        self.reset_key = _derived_key(key, _ROLE_MAINTENANCE, 0xE5)
        # transfer periods per source device: by default each next one is x_size / n_reads
        # times the last (aihwkit's documentation; its code uses d_size for column transfer),
        # and the last device's (a transfer onto itself, which does nothing) is 0
        te = [float(v) for v in cell.transfer_every_vec]
        if not te:
            te = [float(cell.transfer_every) * (x / self.n_reads) ** k for k in range(n)]
            if cell.no_self_transfer:
                te[-1] = 0.0
        self.transfer_every_levels = te
        self.transfer_every = te[0]
        self.transfer_up = cell.transfer_update
        self.read = _read_periphery(cell.transfer_forward, shape, backend,
                                    _derived_key(key, _ROLE_READ), dtype, n_threads,
                                    path + ".transfer_forward", self.rows)
        self.read_key = _derived_key(key, _ROLE_READ, 1)
        self.write_key = _derived_key(key, _ROLE_WRITE)
        # the transfers out of the devices after A (k >= 1) read, write and reset on their own
        # keys, their op being that level's transfer count
        self.read_keys = [self.read_key] + [_derived_key(key, _ROLE_READ, 1 + k) for k in range(1, n)]
        self.write_keys = [self.write_key] + [_derived_key(key, _ROLE_WRITE, k) for k in range(1, n)]
        self.reset_keys = [self.reset_key] + [_derived_key(key, _ROLE_MAINTENANCE, 0xE5 + k)
                                              for k in range(1, n)]
        self.chop_draws = _Draws(backend, _derived_key(key, _ROLE_CHOP))
        if self.dynamic:
            self.extra = {"buffered_FP_weight": self.xp.zeros(shape, dtype=dtype),
                          "running_mean_weight": self.xp.zeros(shape, dtype=dtype),
                          "past_mean_weight": self.xp.zeros(shape, dtype=dtype)}
        elif self.chopped or self.buffered:
            # one buffer per source device (not the last)
            self.extra = {f"buffered_FP_weight_{k}": self.xp.zeros(shape, dtype=dtype)
                          for k in range(n - 1)}
        self._reset_counters()

    def _reset_counters(self):
        self.count = 0              # vector updates since set_weights
        self.slice = 0              # next line (column, or row) A transfers
        self.transfer_counter = 0   # full sweeps over the columns (chopped)
        self.n_transfers = 0        # transfers since construction (keys the read/write streams)
        # the choppers of the read lines (columns; rows for row transfer) and of the output lines
        self.in_chopper = np.zeros(self.n_in, dtype=bool)
        self.out_chopper = np.zeros(self.n_out, dtype=bool)
        self.in_switched = np.zeros(self.n_in, dtype=bool)
        self.m_x = 0.0
        self.m_d = 0.0
        # the transfers out of devices 1 .. n-2: next line to read, transfers so far
        self.upper_slices = np.zeros(self.n_devices - 2, dtype=np.int64)
        self.upper_transfers = np.zeros(self.n_devices - 2, dtype=np.int64)

    def reset_devices(self):
        return (0,)

    def visible(self, weights):
        if self.fully_hidden:
            weights[...] = self.w[-1]
        else:
            total = self.gamma[0] * self.w[0].astype(np.float64)
            for k in range(1, self.n_devices):
                total = total + self.gamma[k] * self.w[k]
            weights[...] = total.astype(self.dtype)

    def on_set_weights(self, weights, key, op, n_threads):
        for k in range(self.n_devices - 1):
            self.w[k][...] = 0
        self.w[-1][...] = weights / self.dtype.type(self.gamma[-1])
        for k, sub in enumerate(self.subs):
            sub.on_set_weights(self.w[k], key, op, n_threads)
        # As aihwkit 1.1.0: the update count and the next columns start anew; the buffers,
        # choppers, running maxima and the chopper-period counter carry on.
        self.count = 0
        self.slice = 0
        self.upper_slices[...] = 0
        self.visible(weights)

    # ----- the schedule of one batch ---------------------------------------------------------
    def _every(self, m, level=0):
        """Vector updates between the transfers out of device ``level`` (0: none). Rounding is
        C's roundf, halves away from zero, as aihwkit's; a negative transfer_every of the
        chopped compounds counts in sweeps over the fast device's states per input line."""
        te = self.transfer_every_levels[level]
        if self.chopped and te < 0:
            dev = _devices.as_simulated(self.subs[0].device)
            states = (float(dev.w_max) - float(dev.w_min)) / self.subs[0].granularity
            return max(1, _round_half_away(states / self.n_in * abs(te)))
        if te <= 0:
            return 0
        if self.cell.units_in_mbatch:
            return int(math.ceil(te * m))
        return _round_half_away(te)

    def _fast_lr(self, abs_max, lr):
        """The learning rate of A's pulses, per sample (auto-scaled ones change per sample), from
        the samples' maxima ``abs_max`` = (max_j |x_j|, max_i |d_i|), host arrays of shape (m,)."""
        cell = self.cell
        xs, ds = abs_max
        m = xs.shape[0]
        if self.chopped and cell.auto_scale:
            # in the tile's type, operation for operation, as aihwkit's updateAutoScale and
            # getPulseCountAutoLR: a dense pulse count rint(...) at a tie turns on the last bit
            t = self.dtype.type
            tau = (t(1.0) - t(cell.auto_momentum)) / t(m if m else 1)
            mx = _ema_series(self.m_x, xs, tau, self.dtype)
            md = _ema_series(self.m_d, ds, tau, self.dtype)
            if m:
                self.m_x, self.m_d = float(mx[-1]), float(md[-1])
            if cell.fast_lr > 0:
                scale = t(cell.fast_lr) * (t(self.up.desired_bl) * t(self.subs[0].granularity))
                ok = (mx > 0) & (md > 0)
                lr_pc = np.where(ok, scale / np.where(ok, mx * md, t(1.0)), scale)
                return lr_pc.astype(np.float64)
        if cell.fast_lr > 0:
            return np.full(m, cell.fast_lr)  # aihwkit 1.1.0: the absolute fast_lr
        return np.full(m, lr)

    def update(self, weights, X, D, lr, key, op, n_threads):
        m, (d, x) = X.shape[0], self.shape
        # A's learning rates first, refused (auto-scale statistics put back) before anything
        # moves if their pulse trains would be too long; the chopper signs leave |x| and |d|
        # as they are, so the maxima are those of the inputs
        xp = self.xp
        abs_max = (_host(self.backend, xp.abs(X).max(axis=1)), _host(self.backend, xp.abs(D).max(axis=1)))
        statistics = self.m_x, self.m_d
        lr_fast = self._fast_lr(abs_max, lr)
        try:
            check_bit_lengths(lr_fast, self.granularity, self.subs[0].up)
            if not (self.chopped or self.buffered):
                # Tiki-taka writes its reads with lr_t (the others write buffer counts at the
                # receiving device's step): a write that would refuse must do so before A moves
                for level in range(self.n_devices - 1):
                    if self._every(m, level) > 0:  # (a level that never transfers never writes)
                        check_bit_lengths(self._lr_t(level, lr),
                                          self.subs[level + 1].granularity, self.transfer_up)
            else:
                self._check_buffer_scales(m, lr, lr_fast)
        except ValueError:
            self.m_x, self.m_d = statistics
            raise
        every = self._every(m)
        after = np.arange(1, m + 1) + self.count
        events = np.flatnonzero(after % every == 0) if every > 0 else np.zeros(0, dtype=np.int64)
        self.count += m
        # The lines (columns, or rows for row transfer) each event reads: n_reads consecutive
        # ones, wrapping around; `cols` lists every read of the batch in order. Then the chopper
        # signs every sample's update of A sees.
        n_ev, n_in, n_reads = events.size, self.n_in, self.n_reads
        if self.cell.random_selection:
            first = np.minimum((self.chop_draws.uniform(n_ev, op, sub=0xFFFFFF) * n_in).astype(np.int64),
                               n_in - 1)
        else:
            first = self.slice + np.arange(n_ev) * n_reads
        lines = (first[:, None] + np.arange(n_reads)) % n_in
        cols = lines.ravel()
        record = np.full((m, n_reads), -1, dtype=np.int32)
        record[events] = lines
        sx = sd = None
        if self.chopped:
            sx, sd, ev_in, ev_out, flips = self._chopper_schedule(m, events, cols, op)
        if self.rows and sx is not None:  # the read lines are rows: the input choppers act on d
            sx, sd = sd, sx
        xa, da = (X, D) if sx is None else (xp.ascontiguousarray(X * xp.asarray(sx)),
                                            xp.ascontiguousarray(D * xp.asarray(sd)))
        width = x if self.rows else d
        R = xp.empty((m * n_reads, width), dtype=self.dtype)
        # with_reset_prob: one coin per read; a column whose coin falls is reset after its read
        resets = np.zeros((n_ev, n_reads), dtype=bool)
        if self.reset_prob > 0 and n_ev and self._lr_t(0, lr) != 0:
            # (aihwkit neither reads nor resets when the transfer's learning rate is 0)
            coins = self.chop_draws.uniform(n_ev * n_reads, op, sub=_SUB_RESET_COIN)
            resets = coins.reshape(n_ev, n_reads) < self.reset_prob
        self._update_fast(xa, da, lr_fast, abs_max, record, R, events, lines, resets, key, op,
                          n_threads)
        job = None
        if n_ev:
            # (a transfer after every sample reads all of R: no gathered copy of it)
            if n_ev < m:
                R = R.reshape(m, n_reads, width)[xp.asarray(events)].reshape(n_ev * n_reads, width)
            reads = self._read(R, n_threads)
            if self.chopped:
                job = self._chopped_job(reads, cols, ev_in, ev_out, lr, lr_fast[events], n_threads)
                self.in_chopper, self.out_chopper, self.in_switched = flips
            elif self.buffered:
                job = self._buffered_job(reads, cols, 0, lr, n_threads)
            else:
                job = self._tt_job(reads, cols, 0, lr)
        self._write_chain(job, np.repeat(events, n_reads), after, lr, n_threads)
        if n_ev:
            self.slice = int((self.slice + n_ev * n_reads) % n_in)
            self.n_transfers += n_ev
        self.visible(weights)

    def _lr_t(self, level, lr):
        """The learning rate of the transfer out of device ``level``: transfer_lr (times the
        optimizer's with scale_transfer_lr); the buffered kinds also scale by gamma_from /
        gamma_to when both are positive (spec §4.5, §4.6)."""
        # in the tile's type, operation for operation, as aihwkit computes it: a buffer's count
        # trunc(h / threshold) at a whole number turns on the last bit of lr_t
        t = self.dtype.type
        lr_t = t(self.transfer_lrs[level])
        if self.cell.scale_transfer_lr:
            lr_t = lr_t * t(lr)
        g_from, g_to = self.gamma[level], self.gamma[level + 1]
        if (self.chopped or self.buffered) and g_from > 0 and g_to > 0:
            lr_t = lr_t * (t(g_from) / t(g_to))
        return float(lr_t)

    def _write_chain(self, job, times, after, lr, n_threads):
        """The writes of the batch's transfers out of A into device 1 (``job``, its reads made
        after the samples ``times``), and with more than two devices the transfers further up
        the chain, in aihwkit's order: at each vector update, device k's transfer follows
        device k-1's. Device 1's write is cut where device 1 is read; a cut starts new keys."""
        if self.n_devices == 2:  # (no chain: the one write, on the level's own keys)
            if job is not None:
                self._apply_write(1, job, None, self.write_key, self.n_transfers,
                                  self.noise_keys[1], n_threads)
            return
        upper = sorted((int(t), k) for k in range(1, self.n_devices - 1)
                       for t in self._upper_times(after, k))
        done, segment = 0, 0
        for t, k in upper + [(None, None)]:
            stop = len(times) if t is None else int(np.searchsorted(times, t, side="right"))
            if job is not None and (k in (1, None)) and stop > done:
                key = self.write_key if segment == 0 else _derived_key(self.write_key, _ROLE_SEGMENT,
                                                                       segment)
                noise = (self.noise_keys[1] if segment == 0
                         else _derived_key(key, _ROLE_NOISE, 1))
                self._apply_write(1, job, None if (done, stop) == (0, len(times)) else
                                  slice(done, stop), key, self.n_transfers, noise, n_threads)
                done, segment = stop, segment + 1
            if k is not None:
                self._upper_transfer(k, lr, n_threads)

    def _upper_times(self, after, level):
        """Samples of the batch after which device ``level`` (>= 1) transfers."""
        every = self._every(after.size, level)
        return np.flatnonzero(after % every == 0) if every > 0 else np.zeros(0, dtype=np.int64)

    def _upper_transfer(self, k, lr, n_threads):
        """One transfer out of device k >= 1 into k + 1: n_reads lines of w_k read through the
        transfer periphery (w_k moves only by the writes into it, so it is read as it is),
        then written as device 0's transfer would be; the read lines may be reset (Tiki-taka's
        with_reset_prob)."""
        n_in, n_reads, xp = self.n_in, self.n_reads, self.xp
        op = int(self.upper_transfers[k - 1])
        lr_t = self._lr_t(k, lr)
        if self.cell.random_selection:
            u = self.chop_draws.uniform(1, op, sub=_SUB_UPPER_SELECT + k)[0]
            first = min(int(u * n_in), n_in - 1)
        else:
            first = int(self.upper_slices[k - 1])
        lines = (first + np.arange(n_reads)) % n_in
        if lr_t != 0:  # (aihwkit reads nothing for a learning rate of 0)
            w = self.w[k]
            recorded = xp.ascontiguousarray(w[xp.asarray(lines)] if self.rows
                                            else w[:, xp.asarray(lines)].T)
            reads = self._read(recorded, n_threads, self.read_keys[k], op)
            if self.reset_prob > 0:
                coins = self.chop_draws.uniform(n_reads, op, sub=_SUB_UPPER_RESET + k)
                if (coins < self.reset_prob).any():
                    self.subs[k].reset_columns(w, lines[coins < self.reset_prob], 1.0,
                                               self.reset_keys[k], op, n_threads)
            job = (self._buffered_job(reads, lines, k, lr, n_threads) if self.buffered
                   else self._tt_job(reads, lines, k, lr))
            self._apply_write(k + 1, job, None, self.write_keys[k], op, self.noise_keys[k + 1],
                              n_threads)
        self.upper_slices[k - 1] = (first + n_reads) % n_in
        self.upper_transfers[k - 1] += 1

    def _update_fast(self, X, D, lr_fast, abs_max, record, R, events, lines, resets, key, op,
                     n_threads):
        """A's update of the batch, with the records of the transfer reads into R; where a read
        column is to be reset (``resets`` (n_events, n_reads)), the batch is cut after that
        event's sample, the columns are reset, and the rest of the batch runs on its own keys
        (the trains and pulse noise are keyed by a sample's index within the call)."""
        m, n_reads = X.shape[0], self.n_reads
        record_kw = "record_rows" if self.rows else "record_cols"
        cut_events = np.flatnonzero(resets.any(axis=1)) if resets.size else ()
        if not len(cut_events):  # (the common case: one call)
            self.subs[0].update(self.w[0], X, D, lr_fast, key, op, n_threads,
                                granularity=self.granularity, noise_key=self.noise_keys[0],
                                record_out=R, abs_max=abs_max, **{record_kw: record})
            return
        start = 0
        for s, e in enumerate(list(cut_events) + [None]):
            stop = m if e is None else int(events[e]) + 1
            if stop > start:
                seg_key = key if s == 0 else _derived_key(key, _ROLE_SEGMENT, s)
                noise_key = self.noise_keys[0] if s == 0 else _derived_key(seg_key, _ROLE_NOISE, 0)
                part = slice(start, stop)
                whole = (start, stop) == (0, m)
                xs = X if whole else self.xp.ascontiguousarray(X[part])
                ds = D if whole else self.xp.ascontiguousarray(D[part])
                self.subs[0].update(self.w[0], xs, ds, lr_fast[part], seg_key, op, n_threads,
                                    granularity=self.granularity, noise_key=noise_key,
                                    record_out=R[start * n_reads:stop * n_reads],
                                    abs_max=(abs_max[0][part], abs_max[1][part]),
                                    **{record_kw: record[part]})
            start = stop
            if e is not None:
                # (each reset has its own op: the transfers so far, then this event)
                self.subs[0].reset_columns(self.w[0], lines[e][resets[e]], 1.0, self.reset_key,
                                           self.n_transfers + int(e), n_threads)

    def _chopper_schedule(self, m, events, cols, op):
        """Chopper states per sample and per event (spec §4.6 and §4.7).

        The choppers depend on no data, only on the transfer count and their own draws, so the
        whole batch is known up front. The events read consecutive lines, so event e and
        event e - n_in read the same line: an input chopper's state at an event is its state at
        the line's previous event, flipped if that one switched it. Returns the signs per sample
        of the input choppers (m, n_in) and of the output choppers (m, n_out), the choppers at
        each event, and the state after the batch; the read lines are columns, or rows for row
        transfer (n_in = d_size, n_out = x_size).
        """
        cell = self.cell
        d, x = self.n_out, self.n_in
        n_ev = events.size
        coin = self.chop_draws.uniform(max(n_ev, 1), op)[:n_ev]
        n_period = max(int(math.ceil(1.0 / cell.in_chop_prob)) if cell.in_chop_prob > 0 else 2, 2)
        wraps = cols == x - 1
        counter_at = self.transfer_counter + (np.cumsum(wraps) - wraps).astype(np.int64)
        periodic = counter_at % n_period + 1 == n_period
        random_flip = coin < cell.in_chop_prob
        if self.dynamic:
            flip = periodic | (bool(cell.in_chop_random) & random_flip)
        elif cell.in_chop_prob > 0:
            flip = random_flip if cell.in_chop_random else periodic
        else:
            flip = np.zeros(n_ev, dtype=bool)
        # input choppers at each event: the first x events see the stored state
        ev_in = self.in_chopper[cols].copy()
        ev_switched = self.in_switched[cols].copy()
        for e0 in range(x, n_ev, x):
            stop = min(e0 + x, n_ev)
            ev_in[e0:stop] = ev_in[e0 - x:stop - x] ^ flip[e0 - x:stop - x]
            ev_switched[e0:stop] = flip[e0 - x:stop - x] & self.dynamic
        # input choppers per sample: the parity of the flips of the events before it (row b of
        # `parity`; row m is the state after the batch). The rows are bytes padded to whole
        # 8-byte words, so that the running parity is an XOR down uint64 words, eight columns
        # per operation: 20 us at 100 x 1024, where a cumsum down the columns took 250 us.
        x_bytes = -(-x // 8) * 8
        flips = np.zeros((m + 1, x_bytes), dtype=np.uint8)
        flips[events[flip] + 1, cols[flip]] = 1
        parity = np.bitwise_xor.accumulate(flips.view(np.uint64), axis=0).view(np.uint8)
        parity = parity[:, :x].view(bool)
        sx = _signs(self.in_chopper[None, :] ^ parity[:m], self.dtype)
        # output choppers: they switch only after the read of the last column
        c_out = self.out_chopper.copy()
        ev_out = np.empty((n_ev, d), dtype=bool)
        sd = np.empty((m, d), dtype=self.dtype)
        ev_start = sample_start = 0
        for e in np.flatnonzero(wraps):
            ev_out[ev_start:e + 1] = c_out
            sd[sample_start:events[e] + 1] = _signs(c_out, self.dtype)
            if cell.out_chop_prob > 0 and not self.dynamic:
                u = self.chop_draws.uniform(d, op, sub=1 + int(e))
                c_out = np.where(u < cell.out_chop_prob, ~c_out, c_out)
            ev_start, sample_start = e + 1, events[e] + 1
        ev_out[ev_start:] = c_out
        sd[sample_start:] = _signs(c_out, self.dtype)
        # the state after the batch
        c_in = self.in_chopper ^ parity[m]
        switched = self.in_switched.copy()
        if n_ev:
            # the last event of each column among the batch's last x events
            recent = np.arange(max(0, n_ev - x), n_ev)
            _, first_from_end = np.unique(cols[recent][::-1], return_index=True)
            idx = recent[::-1][first_from_end]
            switched[cols[idx]] = flip[idx] & self.dynamic
        self._ev_switched = ev_switched
        self.transfer_counter_next = self.transfer_counter + int(wraps.sum())
        return sx, sd, ev_in, ev_out, (c_in, c_out, switched)

    def _read(self, columns, n_threads, key=None, op=None):
        """The transfer reads of the recorded columns (n_reads, d), or rows (n_reads, x) for row
        transfer, through the periphery (A's keys unless ``key`` and ``op`` are given)."""
        n_ev, xp = columns.shape[0], self.xp
        # The product eye(n_ev) @ columns, in the backward orientation: the recorded columns
        # (n_ev, d) serve as the (in, out) weights as they are. The forward orientation needed
        # them transposed, a strided copy that took 0.29 ms at 100 x 1024; the noise is drawn
        # per (read, output line) either way, so the reads are the same.
        W = xp.ascontiguousarray(columns)
        X = xp.eye(n_ev, dtype=self.dtype)
        out = xp.empty((n_ev, columns.shape[1]), dtype=self.dtype)
        # BLAS pinned to one thread: its threads woken next to the update's OpenMP team would
        # fight it for the cores.
        with _threads.blas_single_thread():
            self.backend.analog_mvm(W, True, X, out, self.read.spec, self.read.lines,
                                    self.read.nm_state,
                                    self.read_key if key is None else key,
                                    self.n_transfers if op is None else op,
                                    _threads.for_work(n_threads, W.size * n_ev))
        return out

    def _tt_job(self, reads, cols, level, lr):
        """Tiki-taka v1's write of the reads out of device ``level``: w_to += lr_t read (pulsed,
        the transfer's update parameters): x = e_j, d = -read for a column j; x = -read, d = e_i
        for a row i."""
        lr_t = self._lr_t(level, lr)
        one_hot = self._one_hot(cols)
        if self.rows:
            return ("x_d", -reads, one_hot, lr_t)
        return ("x_d", one_hot, -reads, lr_t)

    def _apply_write(self, to, job, part, key, op, noise_key, n_threads):
        """A write job into device ``to``, all its reads or those of ``part`` (a slice), on the
        given keys: ("x_d", X, D, lr), a pulsed update; ("counts", counts, cols, write, lr),
        the buffers' pulse counts at columns."""
        if job[0] == "x_d":
            _, X, D, lr = job
            if part is not None:
                X, D = X[part], D[part]
            self._write(X, D, lr, n_threads, to, key, op, noise_key)
        else:
            _, counts, cols, write, lr = job
            if part is not None:
                counts, cols, write = counts[part], np.asarray(cols)[part], write[part]
            self._write_counts(counts, cols, write, lr, n_threads, to, key, op, noise_key)

    def _one_hot(self, lines):
        """e_j for each read line j (n_reads, n_in): the x of a column write, the d of a row's."""
        xp = self.xp
        E = xp.zeros((len(lines), self.n_in), dtype=self.dtype)
        E[xp.arange(len(lines)), xp.asarray(lines)] = 1
        return E

    def _write(self, Xe, De, lr, n_threads, to=1, key=None, op=None, noise_key=None):
        """The transfer's pulsed write into device ``to`` (C by default; x and d per read, one
        of them one-hot); only the rows that receive anything are visited, as the write's cost
        is per row."""
        xp = self.xp
        active = np.flatnonzero(_host(self.backend, (De != 0).any(axis=0)))
        if active.size == 0:
            return
        rows = None if 2 * active.size > self.shape[0] else xp.asarray(active)
        self.subs[to].update(self.w[to], xp.ascontiguousarray(Xe, dtype=self.dtype),
                             xp.ascontiguousarray(De, dtype=self.dtype), lr,
                             self.write_key if key is None else key,
                             self.n_transfers if op is None else op, n_threads,
                             up=self.transfer_up,
                             noise_key=self.noise_keys[to] if noise_key is None else noise_key,
                             rows=rows)

    def _chopped_lr_scale(self, lr, lr_fast_ev, n_reads=None):
        """The scale of the transfer events' reads into the chopped buffer (float64: one per
        event with correct_gradient_magnitudes, else ``n_reads`` equal ones, one per event by
        default), computed in the tile's type in aihwkit's order of operations
        (getBufferGranularity, getTransferLRScale)."""
        cell = self.cell
        g_a, g_c = self.subs[0].granularity, self.subs[1].granularity
        t = self.dtype.type
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # (checked before use)
            bg = t(cell.buffer_granularity) if cell.buffer_granularity > 0 else t(1.0)
            if cell.auto_granularity > 0:
                period = t(self.n_in) * t(abs(self.transfer_every))
                bg = bg * (t(g_a) * t(cell.auto_granularity) / period)
            else:
                bg = bg * t(g_a)
            lr_t = t(abs(self._lr_t(0, lr)))
            if cell.correct_gradient_magnitudes:
                bg = bg * (t(g_c) / t(g_a))
                return (lr_t / np.asarray(lr_fast_ev).astype(self.dtype) / bg).astype(np.float64)
            return np.full(len(lr_fast_ev) if n_reads is None else n_reads, float(lr_t / bg))

    def _check_buffer_scales(self, m, lr, lr_fast):
        """Refuse, before anything moves, a batch whose transfer events would add reads to a
        buffer at a scale past the dtype's range (a huge learning rate or transfer_lr, or a
        tiny fast learning rate with correct_gradient_magnitudes): the buffer would hold Inf
        and NaN, and the tile could not be saved and loaded."""
        every = self._every(m)
        if every <= 0:
            return
        events = np.flatnonzero((np.arange(1, m + 1) + self.count) % every == 0)
        if not events.size:
            return
        if self.chopped:
            scales = self._chopped_lr_scale(lr, np.asarray(lr_fast)[events])
        else:
            scales = [abs(self._lr_t(level, lr)) for level in range(self.n_devices - 1)]
        largest = float(np.max(np.abs(scales)))
        limit = float(np.finfo(self.dtype).max) * _BUFFER_SCALE_MARGIN
        if not largest <= limit:
            raise ValueError(
                f"the transfer would add each read to its buffer scaled by {largest:.3g}, past "
                f"what {np.dtype(self.dtype).name} holds for reads of order 1 (learning_rate = "
                f"{float(lr)}); scale the learning_rate or the transfer_lr down. The tile is "
                f"unchanged.")

    def _chopped_job(self, reads, cols, ev_in, ev_out, lr, lr_fast_ev, n_threads):
        """TTv2 / c-TTv2 / AGAD: the buffer step of the batch's reads (chopped), and the
        write of its pulse counts into C as a job (see ``_apply_write``)."""
        cell = self.cell
        g_a, g_c = self.subs[0].granularity, self.subs[1].granularity
        M = int(self.transfer_up.desired_bl)
        lr_scale = self._chopped_lr_scale(lr, lr_fast_ev, reads.shape[0])
        chop = _signs(ev_in[:, None] != ev_out, self.dtype)
        n_buffer = _threads.for_work(n_threads, _BUFFER_STEP_WORK * reads.size)
        # the buffer steps run along the read lines: a row transfer's are the buffers' rows, so
        # they step transposed copies (the buffers are stored as W, (d, x), as aihwkit's)
        names = (("buffered_FP_weight", "running_mean_weight", "past_mean_weight")
                 if self.dynamic else ("buffered_FP_weight_0",))
        lines = {n: self.xp.ascontiguousarray(self.extra[n].T) if self.rows else self.extra[n]
                 for n in names}
        if self.dynamic:
            n_period = max(int(math.ceil(1.0 / cell.in_chop_prob)) if cell.in_chop_prob > 0 else 2, 2)
            counters = self._event_counters(cols)
            if cell.experimental_correct_accumulation:
                cur = counters % n_period + 1
                lr_scale = lr_scale / np.minimum(cur, 1.0 / g_a)
            beta = min(cell.tail_weightening / n_period, 1.0)
            counts = self.backend.dynamic_buffer(
                reads, np.asarray(cols, np.int32), chop, lr_scale.astype(np.float64),
                self._ev_switched.astype(np.int8), lines["buffered_FP_weight"],
                lines["running_mean_weight"], lines["past_mean_weight"], M,
                float(cell.momentum), int(cell.forget_buffer), float(M * cell.buffer_cap), beta,
                n_buffer)
            write = counters > n_period
        else:
            counts = self.backend.chopped_buffer(
                reads, np.asarray(cols, np.int32), chop, lr_scale.astype(np.float64),
                lines["buffered_FP_weight_0"], M, float(cell.momentum),
                int(cell.forget_buffer), int(cell.no_buffer), n_buffer)
            write = np.ones(reads.shape[0], dtype=bool)
        self.transfer_counter = self.transfer_counter_next
        if self.rows:
            for n in names:
                self.extra[n][...] = lines[n].T
            # n pulses (n_reads, x) onto the read rows, where the events write: x = -n, d = e_i
            n = -counts.astype(self.dtype)
            n[self.xp.asarray(~write)] = 0
            return ("x_d", n, self._one_hot(cols), cell.step * g_c)
        return ("counts", counts, cols, write, cell.step * g_c)

    def _write_counts(self, counts, cols, write, lr, n_threads, to=1, key=None, op=None,
                      noise_key=None):
        """The buffers' pulses onto device ``to`` (C by default): n (n_ev, d) pulses at the
        events' columns where ``write``, as a pulsed update with lr = step g_to, x = e_j, d = -n
        (``DeviceArray.write_counts``)."""
        # (n_ev, d) is a view of the buffers' own (d, n_ev) layout, which the write reads row
        # by row
        per_row = counts.T
        write = write & _host(self.backend, (per_row != 0).any(axis=0))
        if write.any():
            xp = self.xp
            sel = np.flatnonzero(write)
            if sel.size < write.size:
                per_row = per_row[:, xp.asarray(sel)]
            self.subs[to].write_counts(self.w[to], np.asarray(cols)[sel],
                                       xp.ascontiguousarray(per_row, dtype=np.int32), lr,
                                       self.write_key if key is None else key,
                                       self.n_transfers if op is None else op, n_threads,
                                       up=self.transfer_up,
                                       noise_key=self.noise_keys[to] if noise_key is None
                                       else noise_key)

    def _buffered_job(self, reads, cols, level, lr, n_threads):
        """BufferedTransferCompound (spec §4.5), the transfer out of device ``level``: h +=
        read |lr_t| in weight units (buffer ``level``); n = trunc(h / (thres_scale g_to)), at
        most transfer_update.desired_bl, pulses onto the next device (a write job)."""
        cell = self.cell
        g_c = self.subs[level + 1].granularity
        lr_t = self._lr_t(level, lr)
        H = self.extra[f"buffered_FP_weight_{level}"]
        # the buffer step runs along the read lines: a row transfer's are H's rows, so it steps
        # a transposed copy of H (stored as W, (d, x), for either transfer, as aihwkit's)
        H_lines = self.xp.ascontiguousarray(H.T) if self.rows else H
        counts = self.backend.buffered_buffer(
            reads, np.asarray(cols, np.int32), abs(lr_t), H_lines,
            float(cell.thres_scale) * g_c, int(self.transfer_up.desired_bl), float(cell.momentum),
            int(cell.forget_buffer), _threads.for_work(n_threads, _BUFFER_STEP_WORK * reads.size))
        if self.rows:
            H[...] = H_lines.T
            # n pulses (n_reads, x) onto the read rows: x = -n, d = e_i, lr = step g_to
            return ("x_d", -counts.astype(self.dtype), self._one_hot(cols), cell.step * g_c)
        return ("counts", counts, cols, np.ones(reads.shape[0], dtype=bool), cell.step * g_c)

    def _event_counters(self, cols):
        """transfer_counter at each event (it advances after the read of the last column)."""
        wraps = np.asarray(cols) == self.n_in - 1
        return self.transfer_counter + (np.cumsum(wraps) - wraps)

    def counters(self):
        out = {"count": self.count, "slice": self.slice, "transfer_counter": self.transfer_counter,
               "n_transfers": self.n_transfers, "in_chopper": self.in_chopper,
               "out_chopper": self.out_chopper, "in_switched": self.in_switched,
               "m_x": self.m_x, "m_d": self.m_d}
        if self.n_devices > 2:
            out["upper_slices"] = self.upper_slices.copy()
            out["upper_transfers"] = self.upper_transfers.copy()
        return out

    def load_counters(self, values):
        for name in ("count", "transfer_counter", "n_transfers"):
            setattr(self, name, _load_count(values, name, getattr(self, name)))
        self.slice = _load_count(values, "slice", self.slice, self.n_in)
        for name, n in (("in_chopper", self.n_in), ("out_chopper", self.n_out),
                        ("in_switched", self.n_in)):
            if name in values:
                v = np.asarray(values[name], dtype=bool)
                if v.shape != (n,):
                    raise ValueError(f"counter {name} must have shape ({n},), got {v.shape}.")
                setattr(self, name, v.copy())
        for name in ("m_x", "m_d"):
            if name in values:
                v = np.asarray(values[name], dtype=np.float64)
                if v.shape != () or not np.isfinite(v) or v < 0:
                    raise ValueError(f"counter {name} must be one finite number >= 0, got {v!r}.")
                setattr(self, name, float(v))
        for name, upper in (("upper_slices", self.n_in), ("upper_transfers", 2 ** 63)):
            if name in values:
                v = np.asarray(values[name])
                if v.shape != (self.n_devices - 2,) or v.dtype.kind not in "iu" \
                        or (v.size and (int(v.min()) < 0 or int(v.max()) >= upper)):
                    raise ValueError(f"counter {name} must be {self.n_devices - 2} integers >= 0 "
                                     f"and < {upper}, got {v!r}.")
                setattr(self, name, v.astype(np.int64))


def _signs(negative, dtype):
    """-1 where ``negative`` is True, else +1, as ``dtype`` (an array of the mask's shape)."""
    return 1 - 2 * negative.astype(dtype)


def _round_half_away(v):
    """C's roundf for v >= 0 (Python's round takes halves to even)."""
    return int(math.floor(v + 0.5))


def _ema_series(m, values, tau, dtype):
    """aihwkit's running max of the chopped compounds over one batch: the first value, then an
    EMA, sample by sample. Returns the running value after each sample (an array of ``dtype``).
    The recursion is sequential and in the tile's type, as aihwkit's (a closed form would round
    differently): rpu_running_max_series (transfer.h)."""
    return _core.running_max_series(float(m), np.ascontiguousarray(values, dtype=dtype),
                                    float(tau))


class MixedPrecisionCell(_Cell):
    """MixedPrecisionCompound (spec §4.8): a digital accumulator chi, written to the analog
    device in whole multiples of the granularity.

    The analog device may itself be a unit cell (a OneSidedUnitCell such as
    ``PCMPresetUnitCell``, a VectorUnitCell or a ReferenceUnitCell), as in aihwkit: each row a
    transfer writes is one vector update of that cell (its refresh counts them, the rows of a
    transfer being its mini-batch), made with the transfer's update parameters.
    """

    def __init__(self, cell, up, shape, dtype, backend, key, n_threads, path, construction=None):
        # the transfer writes with BL and update management on (aihwkit forces both)
        t_up = _copy_config(up)
        t_up.update_bl_management = True
        t_up.update_management = True
        inner = cell.device  # (the config admits single devices and these unit cells only)
        self.nested = isinstance(inner, (OneSidedUnitCell, VectorUnitCell, ReferenceUnitCell))
        if self.nested:
            if hasattr(inner, "check_ready"):
                inner.check_ready()
            kind = OneSidedCell if isinstance(inner, OneSidedUnitCell) else VectorCell
            base = key if construction is None else construction
            subs = [kind(inner, t_up, shape, dtype, backend, _derived_key(key, _ROLE_DEVICE, 0),
                         n_threads, path + ".device",
                         construction=_derived_key(base, _ROLE_DEVICE, 0))]
        else:
            subs = _sub_device_arrays([inner], up, shape, dtype, backend, key, n_threads, path,
                                      construction)
        super().__init__(subs, shape, dtype, backend, key)
        self.cell = cell
        self.up = up
        self.extra = {"hidden_weights_chi": self.xp.zeros(shape, dtype=dtype)}
        g = cell.granularity if cell.granularity > 0 else subs[0].granularity
        self.g = float(g)
        self.transfer_up = t_up
        self.quant = _Draws(backend, _derived_key(key, _ROLE_QUANT))
        self.row_draws = _Draws(backend, _derived_key(key, _ROLE_POLICY))
        self.write_key = _derived_key(key, _ROLE_WRITE)
        self.count = 0
        self.row = 0
        self.n_transfers = 0

    @property
    def names(self):
        return list(self.subs[0].names) + ["hidden_weights_chi"]

    def get_hidden(self):
        if self.nested:
            out = self.subs[0].get_hidden()
        else:
            out = {n: self.subs[0].hidden[j].copy() for j, n in enumerate(self.subs[0].names)}
        out["hidden_weights_chi"] = self.extra["hidden_weights_chi"].copy()
        return out

    def set_hidden(self, staged, weights):
        self.extra["hidden_weights_chi"][...] = staged["hidden_weights_chi"]
        if self.nested:
            # the cell's own weights and parameters; its visible weight becomes the tile's
            self.subs[0].set_hidden(staged, self.w[0])
        else:
            for j, n in enumerate(self.subs[0].names):
                self.subs[0].hidden[j] = staged[n]
            self.w[0][...] = weights
            # as in _Cell.set_hidden: the bounds hold a write-noise device's persistent weights
            sub = self.subs[0]
            sub.clip(sub.persistent if sub.persistent is not None else self.w[0])
        self.visible(weights)

    def visible(self, weights):
        weights[...] = self.w[0]

    def on_set_weights(self, weights, key, op, n_threads):
        self.w[0][...] = weights
        self.subs[0].on_set_weights(self.w[0], key, op, n_threads)
        self.extra["hidden_weights_chi"][...] = 0
        # aihwkit's onSetWeights restarts the update counter and the transfer's row
        self.count = 0
        self.row = 0
        self.visible(weights)

    def _quantise(self, V, n_bins, sto, op, sub):
        if n_bins <= 0:
            return V
        half, xp = n_bins // 2, self.xp
        width = xp.abs(V).max(axis=1, keepdims=True) / max(half, 1)
        width = xp.where(width > 0, width, 1.0)
        u = 0.0
        if sto:
            u = self.quant.uniform_array(V.size, op, sub).reshape(V.shape) - 0.5
        return (xp.clip(xp.rint(V / width + u), -half, half) * width).astype(self.dtype)

    def update(self, weights, X, D, lr, key, op, n_threads):
        cell = self.cell
        m = X.shape[0]
        qx = self._quantise(X, cell.n_x_bins, cell.stoc_round_x, op, 0)
        qd = self._quantise(D, cell.n_d_bins, cell.stoc_round_d, op, 1)
        every = int(cell.transfer_every) * m
        chi = self.extra["hidden_weights_chi"]
        # chi stays finite (the NaN policy of rpu.tiles._checks): |chi| grows at most by every
        # sample's lr max|d| max|x| (a transfer only shrinks it), so a batch that could pass the
        # dtype's range is refused before anything moves
        xp = self.xp
        growth = abs(float(lr)) * float(xp.sum(xp.abs(qd).max(axis=1).astype(np.float64)
                                               * xp.abs(qx).max(axis=1).astype(np.float64)))
        largest = float(np.finfo(self.dtype).max)
        if m and not float(xp.abs(chi).max()) + growth <= largest:
            raise ValueError(f"the digital accumulation chi += learning_rate * d^T x of the mixed-"
                             f"precision update could overflow {np.dtype(self.dtype).name} "
                             f"(learning_rate = {float(lr)}, up to {growth:.3g} added to |chi|); "
                             f"scale x, d or the learning_rate down. The tile is unchanged.")
        # transfer after the chi update of sample b when its counter u (before the increment)
        # is a positive multiple of every
        u = self.count + np.arange(m)
        cuts = np.flatnonzero((u > 0) & (u % every == 0)) if every > 0 else np.zeros(0, dtype=np.int64)
        start = 0
        for b in list(cuts) + [None]:
            stop = m if b is None else b + 1
            if stop > start:
                chi += (lr * (qd[start:stop].T.astype(np.float64) @ qx[start:stop])).astype(self.dtype)
            start = stop
            if b is not None:
                self._transfer(n_threads)
        self.count += m
        self.visible(weights)

    def _transfer(self, n_threads):
        cell = self.cell
        d, x = self.shape
        n_rows = d if cell.n_rows_per_transfer < 0 else min(int(cell.n_rows_per_transfer), d)
        if n_rows == 0:
            return
        xp = self.xp
        first = self.row
        if cell.random_row and n_rows < d:
            # aihwkit: the transfer starts at min(floor(U d), d - 1), one uniform per transfer
            first = min(int(self.row_draws.uniform(1, self.n_transfers)[0] * d), d - 1)
        rows = xp.asarray((first + np.arange(n_rows)) % d)
        self.row = int((first + n_rows) % d)
        chi = self.extra["hidden_weights_chi"]
        delta = xp.trunc(chi[rows] / self.dtype.type(self.g))
        chi[rows] -= (delta * self.dtype.type(self.g)).astype(self.dtype)
        De = xp.zeros((n_rows, d), dtype=self.dtype)
        De[xp.arange(n_rows), rows] = 1
        # chi holds +lr d x^T (the gradient); the pulsed step W -= (g lr_tr) e_i delta^T
        # writes its whole multiples of g
        X = xp.ascontiguousarray(delta.astype(self.dtype))
        if self.nested:  # (a cell made with the transfer's update parameters, its own noise keys)
            self.subs[0].update(self.w[0], X, De, self.g * cell.transfer_lr, self.write_key,
                                self.n_transfers, n_threads)
        else:
            self.subs[0].update(self.w[0], X, De, self.g * cell.transfer_lr, self.write_key,
                                self.n_transfers, n_threads, up=self.transfer_up,
                                noise_key=self.noise_keys[0])
        self.n_transfers += 1

    def counters(self):
        return {"count": self.count, "row": self.row, "n_transfers": self.n_transfers}

    def load_counters(self, values):
        for name in ("count", "n_transfers"):
            setattr(self, name, _load_count(values, name, getattr(self, name)))
        self.row = _load_count(values, "row", self.row, self.shape[0])


def _copy_inverted(dst, src):
    """aihwkit 1.1.0's copyInvertDeviceParameter(dst <- src) on the per-element parameters of
    two sub-devices of the same kind: dst's own step scales swap up <-> down, its bounds mirror,
    its reference changes sign; its slopes are src's negated and its gammas src's, each with up
    and down swapped."""
    def plane(sub, name):
        return sub.hidden[sub.names.index(name)]

    def swap(a, b):
        a_old = a.copy()
        a[...] = b
        b[...] = a_old

    swap(plane(dst, "dwmin_up"), plane(dst, "dwmin_down"))
    b_max, b_min = plane(dst, "max_bound"), plane(dst, "min_bound")
    old_max = b_max.copy()
    b_max[...] = -b_min
    b_min[...] = -old_max
    if "slope_up" in dst.names:
        plane(dst, "slope_up")[...] = -plane(src, "slope_down")
        plane(dst, "slope_down")[...] = -plane(src, "slope_up")
    if "gamma_up" in dst.names:
        plane(dst, "gamma_up")[...] = plane(src, "gamma_down")
        plane(dst, "gamma_down")[...] = plane(src, "gamma_up")
    if "reference" in dst.names:
        plane(dst, "reference")[...] = -plane(dst, "reference")


class OneSidedCell(_Cell):
    """OneSidedUnitCell (spec §4.3): g- (device 0) and g+ (device 1), W = w(g+) - w(g-).

    Both devices are built from the first entry of ``unit_cell_devices`` (independent
    device-to-device draws). The update is one set of pulse trains: every coincidence count that
    would decrease W lands on g- as up pulses, every one that would increase it on g+ (each with
    its own pulse noise; ``_core.pulsed_update`` with ``one_sided``).

    Refresh (``refresh_every > 0``): after every ``refresh_every`` vector updates (times the
    batch size if ``units_in_mbatch``), counted from ``set_weights``, both devices are read
    column by column with the ``refresh_forward`` periphery (one-hot inputs, the full forward
    pass); where the larger normalised read is above ``refresh_upper_thres`` and the smaller
    one above ``refresh_lower_thres`` both devices are reset (reset_bias + reset_std xi) and the
    difference of the reads is written onto the device that read larger, by a pulsed update
    with ``refresh_update``. A batch with a refresh inside is applied in segments around it.

    Differences from aihwkit 1.1.0: its refresh write uses learning rate -1, which the dense
    pulse types (MeanCount, DeterministicImplicit) turn into a write of the wrong sign (spec §8
    item 11: their sign of lr cancels); rpu writes the difference with the sign aihwkit intends
    for every pulse type. A refresh on devices with write noise is refused (aihwkit aborts
    there).

    ``copy_inverted=True`` mirrors g+'s device parameters as aihwkit 1.1.0's code does
    (``_copy_inverted``): g+'s own up and down step scales swap, its own bounds mirror
    (b_max, b_min -> -b_min, -b_max) and its own references change sign; its slopes (linear
    step, soft bounds) and gammas (power step) become g-'s, swapped (slopes also negated). The
    spec reads all of them as g-'s mirrored; the running aihwkit takes the first three from g+.
    """

    def __init__(self, cell, up, shape, dtype, backend, key, n_threads, path, construction=None):
        if not cell.unit_cell_devices:
            raise ConfigError(f"{path}.unit_cell_devices is empty; OneSidedUnitCell needs one "
                              f"pulsed device.")
        dev = cell.unit_cell_devices[0]
        if cell.refresh_every > 0 and float(getattr(dev, "write_noise_std", 0.0)) > 0:
            raise ConfigError(f"{path}.unit_cell_devices[0].write_noise_std = "
                              f"{dev.write_noise_std!r}: the refresh (refresh_every = "
                              f"{cell.refresh_every}) resets single devices, which write-noise "
                              f"devices do not support (aihwkit aborts the same way); set "
                              f"write_noise_std = 0 or refresh_every = 0.")
        subs = _sub_device_arrays([dev, dev], up, shape, dtype, backend, key, n_threads, path,
                                  construction)
        if cell.copy_inverted:
            _copy_inverted(subs[1], subs[0])
        super().__init__(subs, shape, dtype, backend, key)
        self.cell = cell
        self.up = up
        self.granularity = _devices.mean_granularity([s.granularity for s in subs], self.dtype)
        # |w_max| of the device parameters normalise the refresh reads (global, not per element);
        # a SoftBoundsPmaxDevice's w_max is derived, its config field is None
        w_max = abs(float(_devices.as_simulated(dev).w_max))
        self.w_scale = (w_max, w_max)  # (g-, g+)
        self.read = Periphery(cell.refresh_forward, "forward", shape[0], shape[1], shape, backend,
                              _derived_key(key, _ROLE_REFRESH, 0), dtype, n_threads,
                              path + ".refresh_forward")
        self.read_key = _derived_key(key, _ROLE_REFRESH, 1)
        self.reset_keys = [_derived_key(key, _ROLE_REFRESH, 2 + k) for k in range(2)]
        self.write_key = _derived_key(key, _ROLE_REFRESH, 4)
        self.write_noise_keys = [_derived_key(key, _ROLE_REFRESH, 5 + k) for k in range(2)]
        self.count = 0       # vector updates since set_weights
        self.n_refresh = 0   # refreshes since construction (keys the refresh streams)

    def visible(self, weights):
        weights[...] = self.w[1] - self.w[0]

    def on_set_weights(self, weights, key, op, n_threads):
        self.w[1][...] = self.xp.maximum(weights, 0)
        self.w[0][...] = self.xp.maximum(-weights, 0)
        for k, sub in enumerate(self.subs):
            sub.on_set_weights(self.w[k], key, op, n_threads)
        self.count = 0
        self.visible(weights)

    def _period(self, m):
        """Vector updates between refreshes (0: no refresh)."""
        every = int(self.cell.refresh_every)
        if every <= 0:
            return 0
        return every * m if self.cell.units_in_mbatch else every

    def update(self, weights, X, D, lr, key, op, n_threads):
        m = X.shape[0]
        period = self._period(m)
        after = self.count + np.arange(1, m + 1)
        cuts = list(np.flatnonzero(after % period == 0)) if period > 0 else []
        start = 0
        for s, b in enumerate(cuts + [None]):
            stop = m if b is None else int(b) + 1
            if stop > start:
                # a segment after a refresh draws from its own keys: the trains and the pulse
                # noise are keyed by the sample's index within the call
                seg_key = key if s == 0 else _derived_key(key, _ROLE_SEGMENT, s)
                noise = (self.noise_keys if s == 0 else
                         [_derived_key(seg_key, _ROLE_NOISE, k) for k in range(2)])
                xs, ds = X, D
                if (start, stop) != (0, m):
                    xs = self.xp.ascontiguousarray(X[start:stop])
                    ds = self.xp.ascontiguousarray(D[start:stop])
                for k, side in ((1, 1), (0, -1)):
                    self.subs[k].update(self.w[k], xs, ds, lr, seg_key, op, n_threads,
                                        granularity=self.granularity, noise_key=noise[k],
                                        one_sided=side)
            start = stop
            if b is not None:
                self._refresh(n_threads)
        self.count += m
        self.visible(weights)

    def _read_all(self, w, op, n_threads):
        """The refresh read of every column of w: (d, x)."""
        x, xp = self.shape[1], self.xp
        out = xp.empty((x, self.shape[0]), dtype=self.dtype)
        with _threads.blas_single_thread():
            self.backend.analog_mvm(w, False, xp.eye(x, dtype=self.dtype), out, self.read.spec,
                                    self.read.lines, self.read.nm_state, self.read_key, op,
                                    _threads.for_work(n_threads, w.size * x))
        return xp.ascontiguousarray(out.T)

    def _refresh(self, n_threads):
        cell = self.cell
        op = self.n_refresh
        self.n_refresh += 1
        p = self._read_all(self.w[1], 2 * op, n_threads)
        mr = self._read_all(self.w[0], 2 * op + 1, n_threads)
        xp = self.xp
        mask = xp.empty(self.shape, dtype=np.int8)
        self.backend.refresh_select(p, mr, self.w_scale[1], self.w_scale[0],
                                    float(cell.refresh_upper_thres),
                                    float(cell.refresh_lower_thres), mask,
                                    _threads.for_work(n_threads, mask.size))
        mask = mask.astype(bool)
        if not bool(mask.any()):
            return
        n_small = _threads.for_work(n_threads, mask.size)
        for k, sub in enumerate(self.subs):
            sub.reset_elements(self.w[k], mask, self.reset_keys[k], op, n_small)
        # W <- W + diff e_j^T on the device that read larger: lr 1, x = e_j, d = -diff
        diff = p - mr
        for k, where in ((1, mask & (diff > 0)), (0, mask & (diff < 0))):
            cols = np.flatnonzero(_host(self.backend, where.any(axis=0)))
            if cols.size == 0:
                continue
            cols_b = xp.asarray(cols)
            Xe = xp.zeros((cols.size, self.shape[1]), dtype=self.dtype)
            Xe[xp.arange(cols.size), cols_b] = 1
            De = xp.ascontiguousarray(-xp.where(where, xp.abs(diff), 0)[:, cols_b].T,
                                      dtype=self.dtype)
            self.subs[k].update(self.w[k], Xe, De, 1.0, self.write_key, 2 * op + k, n_threads,
                                up=cell.refresh_update, noise_key=self.write_noise_keys[k])

    def counters(self):
        return {"count": self.count, "n_refresh": self.n_refresh,
                "refresh_nm_state": self.read.nm_state}

    def load_counters(self, values):
        for name in ("count", "n_refresh"):
            setattr(self, name, _load_count(values, name, getattr(self, name)))
        if "refresh_nm_state" in values:
            v = np.asarray(values["refresh_nm_state"], dtype=np.float64)
            if v.shape != (2,) or not np.isfinite(v).all():
                raise ValueError(f"counter refresh_nm_state must be 2 finite numbers, got {v!r}.")
            self.read.nm_state[:] = self.xp.asarray(v)


def _refuse_exact_clipped_steps(rpu_config):
    """Refuse ``update.pulse_type = NONE_WITH_DEVICE`` where rpu's cells cannot take it.

    A transfer compound's fast update records columns for its transfers, and a one-sided cell
    splits every step into g+ and g- pulses; the exact clipped step does neither. aihwkit 1.1.0
    has no such step for these cells either: it writes the step into the visible weights and
    clips the devices, so the step lands on the last device of a gamma-0 transfer compound (no
    fast update, no transfer) and is lost otherwise.
    """
    if rpu_config.update.pulse_type != PulseType.NONE_WITH_DEVICE:
        return
    cell = rpu_config.device
    inner = cell.device if isinstance(cell, MixedPrecisionCompound) else cell
    if isinstance(inner, (TransferCompound, OneSidedUnitCell)):
        where = " inside a MixedPrecisionCompound" if inner is not cell else ""
        raise ConfigError(
            f"rpu_config.update.pulse_type = NONE_WITH_DEVICE is not supported for a "
            f"{type(inner).__name__}{where}: the exact clipped step neither records the "
            f"transfers' columns nor splits into one-sided pulses (aihwkit 1.1.0 writes it into "
            f"the visible weights only, out of step with the cell's devices). Use "
            f"PulseType.NONE for a floating-point tile, or a pulsed type.")


def make_device_state(rpu_config, d_size, x_size, dtype, backend, key, n_threads):
    """The device state of a tile: a DeviceArray for single devices, a cell for compounds."""
    from rpu.config import DigitalRankUpdateRPUConfig, UnitCellRPUConfig
    shape = (d_size, x_size)
    if (isinstance(rpu_config, (DigitalRankUpdateRPUConfig, UnitCellRPUConfig))
            and rpu_config.update.pulse_type == PulseType.NONE):
        # As in aihwkit, PulseType.NONE makes the whole cell one floating-point device (its
        # meta parameters cut to the SimpleRPUDevice base, which compounds leave at their
        # defaults): the update is W -= lr D^T X, with no sub-devices, transfers or hidden
        # parameters.
        return DeviceArray(rpu_config.device, rpu_config.update, d_size, x_size, dtype, backend,
                           key, n_threads)
    _refuse_exact_clipped_steps(rpu_config)
    if isinstance(rpu_config, DigitalRankUpdateRPUConfig):
        cell = rpu_config.device
        if not isinstance(cell, MixedPrecisionCompound):
            raise ConfigError(f"rpu_config.device must be a MixedPrecisionCompound, got "
                              f"{type(cell).__name__}.")
        return MixedPrecisionCell(cell, rpu_config.update, shape, dtype, backend, key, n_threads,
                                  "rpu_config.device", construction_base(cell, key))
    if isinstance(rpu_config, UnitCellRPUConfig):
        cell = rpu_config.device
        if hasattr(cell, "check_ready"):
            cell.check_ready()
        path = "rpu_config.device"
        args = (cell, rpu_config.update, shape, dtype, backend, key, n_threads, path,
                construction_base(cell, key))
        if isinstance(cell, TransferCompound):
            return TransferCell(*args)
        if isinstance(cell, OneSidedUnitCell):  # also DifferenceUnitCell and PCMPresetUnitCell
            return OneSidedCell(*args)
        if isinstance(cell, (VectorUnitCell, ReferenceUnitCell)):
            return VectorCell(*args)
        raise ConfigError(f"{path} = {type(cell).__name__} is not supported by rpu yet; use "
                          f"VectorUnitCell, ReferenceUnitCell, OneSidedUnitCell, "
                          f"TransferCompound, BufferedTransferCompound, ChoppedTransferCompound, "
                          f"DynamicTransferCompound (UnitCellRPUConfig) or MixedPrecisionCompound "
                          f"(DigitalRankUpdateRPUConfig).")
    return DeviceArray(rpu_config.device, rpu_config.update, d_size, x_size, dtype, backend, key,
                       n_threads)
