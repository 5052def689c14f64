"""The devices behind a tile's weights: hidden parameters, the update, and device maintenance.

``DeviceArray`` owns everything a tile's device config implies beyond the visible weights:

* the hidden parameters (aihwkit's names and order) drawn at construction;
* the persistent weights of write-noise devices (pulses act on them; the visible weight is the
  persistent one plus write noise);
* the state of the pulsed-device drifter;
* the update: floating point (IdealDevice, ``PulseType.NONE``), ``NONE_WITH_DEVICE`` (exact step
  then device bounds), or pulsed (``_core.pulsed_update``);
* decay, diffusion, reset and drift, with aihwkit's per-element rules (spec training.md §3.7,
  inference.md §1.3).

It never checks user input: the tile does that first.
"""
import math

import numpy as np

from rpu import _threads
from rpu._rng import Purpose, resolve_seed
from rpu.backends import array_module
from rpu.tiles import _devices
from rpu.tiles.update_management import update_management
from rpu.errors import ConfigError

_MODES = {"STOCHASTIC": 0, "STOCHASTIC_COMPRESSED": 0, "MEAN_COUNT": 1, "DETERMINISTIC_IMPLICIT": 2}

# Sub-streams of the maintenance draws (purpose DECAY_DIFFUSE / RESET / DRIFT / WRITE_NOISE).
_SUB_DIFFUSION, _SUB_RESET_NOISE, _SUB_RESET_COIN, _SUB_DRIFT_NU, _SUB_DRIFT_READ = range(5)


def _resolution(res):
    """aihwkit documents ``res > 1`` as a number of steps; rpu uses 1/res there.

    aihwkit 1.1.0 uses the raw value, which rounds every probability to 0 (spec training.md §2.1,
    marked [bug]), so a tile with res > 1 never updates there.
    """
    res = float(res)
    return 1.0 / res if res > 1 else res


class DeviceArray:
    """The device state of a (d_size, x_size) tile; see the module docstring."""

    def __init__(self, device, update_params, d_size, x_size, dtype, backend, tile_key, n_threads,
                 construction_key=None):
        self.device = device
        self.up = update_params
        self.shape = (d_size, x_size)
        self.dtype = dtype
        self.backend = backend
        self.pulse_type = update_params.pulse_type.name
        # PulseType.NONE turns any device into a floating-point one (aihwkit replaces it at
        # construction by a SimpleRPUDevice that keeps diffusion, lifetime, drift and reset_std).
        self.pulsed = _devices.is_pulsed(device) and self.pulse_type != "NONE"
        if getattr(device, "count_pulses", False):
            # aihwkit keeps pulse counters on its CUDA tiles only; a request for them must not
            # pass as granted
            raise ConfigError(
                f"{type(device).__name__}.count_pulses = True: rpu does not count pulses per "
                f"cross-point (aihwkit counts them only on its CUDA tiles, and its CPU tile "
                f"ignores the flag); set count_pulses = False.")
        self.names = _devices.hidden_names(device) if self.pulsed else []
        self.hidden = np.zeros((len(self.names),) + self.shape, dtype=dtype)
        self._drift_state = None
        seed = getattr(device, "construction_seed", 0)
        if construction_key is not None:
            # a compound's sub-device: its stream comes from the compound, which keys the draws
            # of all its devices (aihwkit does not use the sub-devices' own seeds)
            self.construction_key = construction_key
        else:
            self.construction_key = resolve_seed(seed)[1] if seed else tile_key
        if self.pulsed:
            self.granularity = _devices.granularity(device, dtype)
            self.globals = _devices.globals_of(device, dtype)
            hidden = _devices.populate(device, d_size, x_size, self._draws(Purpose.DEVICE_CONSTRUCTION, True, n_threads),
                                       self._draws(Purpose.DEVICE_CONSTRUCTION, False, n_threads, offset=64),
                                       dtype)
            for k, name in enumerate(self.names):
                self.hidden[k] = hidden[name]
            self.pulse_index = tuple(self.names.index(n) if n in self.names else -1
                                     for n in ("max_bound", "min_bound", "dwmin_up", "dwmin_down",
                                               "slope_up", "slope_down", "gamma_up", "gamma_down",
                                               "reference"))
        self.write_noise = self.globals["write_noise"] if self.pulsed else 0.0
        self._workspace = {}  # the update's work arrays, reused while shapes repeat

    @property
    def xp(self):
        """The array module of the backend the state lives on (numpy, or cupy on the GPU)."""
        return array_module(self.backend)

    # ----- random draws ---------------------------------------------------------------------------
    def _draws(self, purpose, normal, n_threads, offset=0, key=None, op=0):
        fill = self.backend.normal_fill if normal else self.backend.uniform_fill

        def draw(sub):
            out = np.empty(self.shape, dtype=np.float64)
            fill(out, self.construction_key if key is None else key, op, int(purpose), offset + sub, n_threads)
            return out
        return draw

    def _normal(self, key, op, purpose, sub, n_threads):
        out = self.xp.empty(self.shape, dtype=self.dtype)
        self.backend.normal_fill(out, key, op, int(purpose), sub, n_threads)
        return out

    def _uniform(self, key, op, purpose, sub, n_threads):
        out = self.xp.empty(self.shape, dtype=self.dtype)
        self.backend.uniform_fill(out, key, op, int(purpose), sub, n_threads)
        return out

    # ----- hidden parameters ------------------------------------------------------------------------
    def param(self, name):
        return self.hidden[self.names.index(name)]

    @property
    def persistent(self):
        """The persistent weights of write-noise devices (None otherwise)."""
        return self.param("persistent_weights") if "persistent_weights" in self.names else None

    def clip(self, w):
        """Clip to the devices' bounds in place (pulsed devices; no-op otherwise)."""
        if self.pulsed:
            self.xp.clip(w, self.param("min_bound"), self.param("max_bound"), out=w)
        return w

    def _redraw_visible(self, weights, key, op, n_threads, mask=None):
        # Visible = persistent + write noise (aihwkit re-draws after every change of w_p).
        noise = self.write_noise * self._normal(key, op, Purpose.WRITE_NOISE, 1, n_threads)
        if mask is None:
            weights[...] = self.persistent + noise
        else:
            weights[mask] = (self.persistent + noise)[mask]

    def on_set_weights(self, weights, key, op, n_threads):
        """aihwkit's onSetWeights: clip to the bounds; write-noise devices keep the clipped
        weights as persistent and show them with write noise if ``apply_write_noise_on_set``."""
        self.clip(weights)
        if self.persistent is not None:
            self.persistent[...] = weights
            if getattr(self.device, "apply_write_noise_on_set", True):
                self._redraw_visible(weights, key, op, n_threads)

    # ----- the update -------------------------------------------------------------------------------
    def update(self, weights, X, D, lr, key, op, n_threads, *, up=None, granularity=None,
               noise_key=None, record_cols=None, record_out=None, record_rows=None, rows=None,
               one_sided=0, abs_max=None):
        """W <- W - lr D^T X (m samples in order) with this device's update rule.

        ``lr`` may be one value per sample. A compound passes its own update parameters
        (``up``), the granularity its bit lengths use, a key for the pulse noise, and the columns
        to record after each sample (``record_cols``, ``record_out``: see ``_core.pulsed_update``).
        ``rows`` restricts a pulsed update to those weight rows (the others must have d = 0):
        a transfer writes a few rows of one column, and the update's cost is per row.
        ``one_sided`` = +1 / -1 applies only the g+ / g- share of every pulse count, as up
        pulses (the two devices of a OneSidedUnitCell; pulsed types only). ``abs_max`` may give
        the samples' maxima (max_j |x_j|, max_i |d_i|) as host arrays of shape (m,) where the
        caller has them already. ``record_rows`` records whole rows instead of columns (a row
        transfer).
        """
        recording = record_cols is not None or record_rows is not None
        if recording and rows is not None:
            raise ValueError("records are made on the whole tile: pass rows=None with "
                             "record_cols or record_rows.")
        up = self.up if up is None else up
        pulse_type = up.pulse_type.name
        xp = self.xp
        lr_rows = np.asarray(lr, dtype=np.float64)
        if not self.pulsed or pulse_type == "NONE":
            if recording or one_sided:
                raise ValueError("records and one_sided need a pulsed device.")
            scaled = D if lr_rows.ndim == 0 else D * xp.asarray(lr_rows[:, None].astype(self.dtype))
            with np.errstate(over="ignore", invalid="ignore"):
                # (a 0-d float64 array: the product is rounded in float64 before the cast)
                lr_0d = lr_rows if xp is np else xp.asarray(lr_rows)
                new = weights - ((lr_0d if lr_rows.ndim == 0 else 1.0) * (scaled.T @ X)).astype(self.dtype)
            # Finite inputs can still overflow the dtype (huge x, d or learning rate): refuse
            # the step rather than store Inf/NaN weights (the NaN policy of rpu.tiles._checks).
            if not bool(xp.isfinite(new).all()):
                raise ValueError(f"the update W - learning_rate * d^T x overflows {np.dtype(self.dtype).name} "
                                 f"(learning_rate = {float(np.max(np.abs(lr_rows)))}); scale x, d "
                                 f"or the learning_rate down. The weights are unchanged.")
            weights[...] = new
            return
        if pulse_type == "NONE_WITH_DEVICE":
            if recording or lr_rows.ndim or one_sided:
                raise ValueError("NONE_WITH_DEVICE takes one learning rate, records nothing and "
                                 "is not one-sided.")
            # Exact steps, each sample followed by the device bounds (aihwkit's CPU path;
            # its CUDA path clips once per batch). A step x_j (-lr d_i) saturates at a bound
            # however large, but -lr d_i itself must be finite: inf * (x_j = 0) is NaN, which
            # the backends' clips would map differently. As the core rounds it: in the dtype.
            largest_d = float(xp.max(xp.abs(D))) if D.size else 0.0
            with np.errstate(over="ignore", invalid="ignore"):
                step = self.dtype.type(-lr) * self.dtype.type(largest_d)
            if not np.isfinite(step):
                raise ValueError(f"the update's learning_rate * d overflows "
                                 f"{np.dtype(self.dtype).name} (learning_rate = {float(lr)}); "
                                 f"scale d or the learning_rate down. The weights are unchanged.")
            target = self.persistent if self.persistent is not None else weights
            self.backend.exact_update_clipped(target, X, D, lr, self.param("min_bound"),
                                              self.param("max_bound"), n_threads)
            if self.persistent is not None:
                self._redraw_visible(weights, key, op, n_threads)
            return
        n_threads = _threads.for_work(n_threads, X.shape[0] * (weights.size if rows is None
                                                              else len(rows) * X.shape[1]))
        g = self.granularity if granularity is None else granularity
        # the per-sample maxima are m numbers: update management runs on the host
        if abs_max is not None:
            x_max, d_max = abs_max
        else:
            x_max, d_max = xp.abs(X).max(axis=1), xp.abs(D).max(axis=1)
            if xp is not np:
                x_max, d_max = self.backend.to_host(x_max), self.backend.to_host(d_max)
        bl, a, b = update_management(x_max, d_max, lr, g, up, self.dtype)
        mode = _MODES[pulse_type]
        if mode == 2:
            x_res, d_res = _resolution(up.x_res_implicit), _resolution(up.d_res_implicit)
        else:
            x_res = d_res = _resolution(up.res)
        lr_sign = -1 if np.all(lr_rows < 0) and lr_rows.size else 1
        up_spec = {"mode": mode, "x_res": x_res, "d_res": d_res, "sto_round": int(bool(up.sto_round)),
                   "lr_sign": lr_sign, "one_sided": int(one_sided)}
        stored = self.persistent if self.persistent is not None else weights
        if rows is None:
            self.backend.pulsed_update(stored, weights, self.hidden, self.pulse_index, X, D,
                                       bl.astype(np.int32), a, b, up_spec, self.globals, key, op,
                                       n_threads, self._workspace, noise_key, record_cols, record_out,
                                       record_rows)
            return
        # The rows' own copies (their row numbers key the d trains: a deterministic choice).
        part_stored = xp.ascontiguousarray(stored[rows])
        part_visible = part_stored if stored is weights else xp.ascontiguousarray(weights[rows])
        self.backend.pulsed_update(part_stored, part_visible, xp.ascontiguousarray(self.hidden[:, rows]),
                                   self.pulse_index, X, xp.ascontiguousarray(D[:, rows]),
                                   bl.astype(np.int32), a, b, up_spec, self.globals, key, op,
                                   n_threads, self._workspace, noise_key)
        stored[rows] = part_stored
        if stored is not weights:
            weights[rows] = part_visible

    def write_counts(self, weights, cols, counts, lr, key, op, n_threads, *, up, noise_key):
        """A transfer's write: the pulsed update whose sample k has x = the unit vector at
        column ``cols[k]`` and d = -counts[:, k], with this device's rule (``lr``: step g of
        the receiving device; ``up``: the transfer's update parameters).

        ``counts`` (d, m) int32 holds the pulse counts per weight row and sample, in the
        layout the transfer buffers make; every sample has a non-zero count. Only the rows
        with a non-zero count are written. The result is that of
        ``update(weights, X, -counts.T, ...)`` restricted to those rows, bit for bit: on the
        CPU core such a batch of certain pulses (BL = 1) is applied from the counts directly
        (``_core.write_counts``), any other batch, and every batch on the GPU, through
        ``update``.
        """
        xp = self.xp
        d, x = self.shape
        m = counts.shape[1]
        # the rows that receive pulses: the update's cost is per row
        fires, d_max = (counts != 0).any(axis=1), xp.abs(counts).max(axis=0)
        if xp is not np:
            fires, d_max = self.backend.to_host(fires), self.backend.to_host(d_max)
        active = np.flatnonzero(fires)
        if active.size == 0 or m == 0:
            return
        rows = None if 2 * active.size > d else active
        if self.pulsed and up.pulse_type.name in _MODES:
            d_max = d_max.astype(np.float64)
            bl, a, b = update_management(np.ones(m), d_max, lr, self.granularity, up, self.dtype)
            mode = _MODES[up.pulse_type.name]
            x_res = _resolution(up.x_res_implicit if mode == 2 else up.res)
            d_res = _resolution(up.d_res_implicit if mode == 2 else up.res)
            up_spec = {"mode": mode, "x_res": x_res, "d_res": d_res,
                       "sto_round": int(bool(up.sto_round)), "lr_sign": -1 if lr < 0 else 1,
                       "one_sided": 0}
            # a row's index in the random streams: its index among the rows update would get
            row_index = np.full(d, -1, dtype=np.int32)
            row_index[active] = np.arange(active.size) if rows is not None else active
            stored = self.persistent if self.persistent is not None else weights
            n_work = _threads.for_work(n_threads, m * active.size * x)
            if self.backend.write_counts(stored, weights, self.hidden, self.pulse_index,
                                         np.asarray(cols, np.int32), counts, row_index,
                                         bl.astype(np.int32), a, b, up_spec, self.globals,
                                         key if noise_key is None else noise_key, op, n_work,
                                         self._workspace):
                return
        X = xp.zeros((m, x), dtype=self.dtype)
        X[xp.arange(m), xp.asarray(cols)] = 1
        D = xp.ascontiguousarray(-counts.T, dtype=self.dtype)
        self.update(weights, X, D, lr, key, op, n_threads, up=up, noise_key=noise_key,
                    rows=None if rows is None else xp.asarray(rows))

    # ----- maintenance --------------------------------------------------------------------------
    def _target(self, weights):
        return self.persistent if self.persistent is not None else weights

    def _finish(self, weights, key, op, n_threads):
        if self.persistent is not None:
            self._redraw_visible(weights, key, op, n_threads)

    def decay(self, weights, alpha, key, op, n_threads):
        """w <- (w - reset_bias) (1 + alpha (decay_scale - 1)) + reset_bias, then the bounds.

        Floating-point devices: W <- W (1 - alpha / lifetime) when lifetime > 1.
        """
        if not self.pulsed:
            lifetime = float(getattr(self.device, "lifetime", 0.0))
            if lifetime > 1:
                weights *= self.dtype.type(1 - alpha / lifetime)
            return
        w = self._target(weights)
        b0 = self.param("reset_bias")
        w[...] = (w - b0) * (1 + alpha * (self.param("decay_scales") - 1)) + b0
        self.clip(w)
        self._finish(weights, key, op, n_threads)

    def diffuse(self, weights, key, op, n_threads):
        """w <- w + diffusion_rate xi, then the bounds (floating point: W + diffusion xi)."""
        xi = self._normal(key, op, Purpose.DECAY_DIFFUSE, _SUB_DIFFUSION, n_threads)
        if not self.pulsed:
            weights += self.dtype.type(getattr(self.device, "diffusion", 0.0)) * xi
            return
        w = self._target(weights)
        w += self.param("diffusion_rates") * xi
        self.clip(w)
        self._finish(weights, key, op, n_threads)

    def reset_columns(self, weights, columns, reset_prob, key, op, n_threads):
        """Reset ``columns``: each element, with probability ``reset_prob``, to
        reset_bias + reset_std xi (clipped); floating point: reset_std xi."""
        reset_std = float(getattr(self.device, "reset_std", 0.0))
        xi = self._normal(key, op, Purpose.RESET, _SUB_RESET_NOISE, n_threads)
        mask = self.xp.zeros(self.shape, dtype=bool)
        mask[:, columns] = True
        if reset_prob < 1:
            mask &= self._uniform(key, op, Purpose.RESET, _SUB_RESET_COIN, n_threads) < reset_prob
        w = self._target(weights)
        new = (self.param("reset_bias") if self.pulsed else 0) + reset_std * xi
        w[mask] = new.astype(self.dtype)[mask]
        self.clip(w)
        self._finish(weights, key, op, n_threads)

    def reset_elements(self, weights, mask, key, op, n_threads):
        """Reset the elements where ``mask`` (d, x) is true to reset_bias + reset_std xi, then
        the bounds (a OneSidedUnitCell refresh; aihwkit's resetAtIndices)."""
        reset_std = float(getattr(self.device, "reset_std", 0.0))
        w = self._target(weights)
        new = self.param("reset_bias") if self.pulsed else self.xp.zeros(self.shape, dtype=self.dtype)
        if reset_std > 0:
            xi = self._normal(key, op, Purpose.RESET, _SUB_RESET_NOISE, n_threads)
            new = new + reset_std * xi
        w[mask] = new.astype(self.dtype)[mask]
        self.clip(w)
        self._finish(weights, key, op, n_threads)

    def any_diffusion(self):
        return float(getattr(self.device, "diffusion", 0.0)) > 0

    def any_decay(self):
        return float(getattr(self.device, "lifetime", 0.0)) > 0

    # ----- drift (pulsed devices with drift.nu > 0; floating point: simple drift) ---------------
    def drift_parameters(self):
        return getattr(self.device, "drift", None)

    def drift(self, weights, delta_t, key, op, n_threads):
        """Power-law drift of the weights over ``delta_t`` (inference.md §1.3).

        Elements changed by more than ``reset_tol`` since the last call restart their clock
        and do not drift in this call. ln is used in the ``nu_k`` term (aihwkit's CPU path);
        its argument is floored at 1e-30 so that a weight outside the conductance range cannot
        produce NaN.
        """
        p = self.drift_parameters()
        if p is None or p.nu <= 0:
            return
        w = self._target(weights)
        xp = self.xp
        st = self._drift_state
        if st is None:
            st = self._drift_state = {"current_t": 0.0, "t": xp.zeros(self.shape),
                                      "w0": w.astype(np.float64), "prev": w.astype(np.float64)}
        st["current_t"] += delta_t / p.t_0
        a = getattr(p, "g_offset", 0.0) * getattr(p, "wg_ratio", 1.0) + getattr(p, "w_offset", 0.0)
        if abs(a) < p.reset_tol:
            a = 0.0
        cur = w.astype(np.float64)
        changed = xp.abs(st["prev"] - cur) > p.reset_tol
        st["t"][changed] = st["current_t"]
        st["w0"][changed] = cur[changed]
        if self.pulsed and "drift_nu" in self.names:
            nu = self.param("drift_nu").astype(np.float64)
        else:
            nu = xp.full(self.shape, p.nu)
        nu_std = getattr(p, "nu_std", 0.0)
        if nu_std > 0:
            nu = nu + nu_std * nu * self._normal(key, op, Purpose.DRIFT, _SUB_DRIFT_NU, n_threads)
        nu_k = getattr(p, "nu_k", 0.0)
        if nu_k != 0:
            g = (cur - getattr(p, "w_offset", 0.0)) / getattr(p, "wg_ratio", 1.0) + getattr(p, "g_offset", 0.0)
            nu = nu - nu_k * xp.log(xp.maximum(g, 1e-30)) + nu_k * getattr(p, "log_g0", 0.0)
        f = xp.maximum(st["current_t"] - st["t"], 1.0) ** (-nu)
        drifted = st["w0"] * f + a * (f - 1)
        new = xp.where(changed, cur, drifted)
        read_std = getattr(p, "w_noise_std", 0.0)
        if read_std > 0:
            new = new + read_std * self._normal(key, op, Purpose.DRIFT, _SUB_DRIFT_READ, n_threads)
        w[...] = new.astype(self.dtype)
        self.clip(w)
        st["prev"] = w.astype(np.float64)
        self._finish(weights, key, op, n_threads)

    # ----- state ----------------------------------------------------------------------------------
    def state_arrays(self):
        arrays = {f"hidden.{name}": self.hidden[k] for k, name in enumerate(self.names)}
        if self._drift_state is not None:
            st = self._drift_state
            arrays.update({"drift.current_t": np.array(st["current_t"]), "drift.t": st["t"],
                           "drift.w0": st["w0"], "drift.prev": st["prev"]})
        return arrays

    def load_state(self, arrays):
        names = [k.split(".", 1)[1] for k in arrays if k.startswith("hidden.")]
        if sorted(names) != sorted(self.names):
            raise ValueError(f"hidden parameters {sorted(names)} do not match the device's "
                             f"{sorted(self.names)}.")
        for k, name in enumerate(self.names):
            value = np.asarray(arrays[f"hidden.{name}"], dtype=self.dtype)
            if value.shape != self.shape or not np.isfinite(value).all():
                raise ValueError(f"hidden parameter {name} must be finite with shape {self.shape}.")
            self.hidden[k] = value
        if "drift.current_t" in arrays:
            st = {"current_t": float(arrays["drift.current_t"])}
            for name in ("t", "w0", "prev"):
                value = np.asarray(arrays[f"drift.{name}"], dtype=np.float64)
                if value.shape != self.shape or not np.isfinite(value).all():
                    raise ValueError(f"drift state {name} must be finite with shape {self.shape}.")
                st[name] = value.copy()
            if not math.isfinite(st["current_t"]):
                raise ValueError("drift state current_t must be finite.")
            self._drift_state = st
