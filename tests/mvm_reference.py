"""Independent NumPy reference of the analog MVM (forward / backward) of aihwkit's RPUCuda CPU path.

Written from ``/work/shared/spec/training.md`` §1 (IOParameters, NM, DAC, MAC non-idealities, ADC,
mv_type, bound-management loop, backward) and ``inference.md`` §6. It does **not** import rpu: it
reads the IO parameters from any object with the ``IOParameters`` attribute names (an rpu
``IOParameters``, a ``dict``, or ``None`` for the Python defaults) and the per-output fixed draws
(``v_offset``, ``out_nonlinearity``, ``out_nonlinearity_factor``, ``out_noise_values``,
``w_asymmetry``) from a dict (typically ``tile.get_forward_parameters()``), or computes them itself
for the deterministic case (all ``*_std`` zero).

Every input vector is processed on its own, in batch order, as the C++ CPU driver
(``ForwardBackwardPassIOManaged::forwardVector`` / ``backwardVector``) does.

Noise: ``rng=None`` switches every random term off (Gaussian draws are 0, the uniform of stochastic
rounding is 1/2, so stochastic rounding becomes ``rint``). With a ``numpy.random.Generator`` the
noise terms are drawn from it (distribution-level only: rpu's Philox stream is not reproduced).

Arithmetic is done in ``dtype`` (float64 by default); with ``dtype=np.float32`` every operation
stays in float32 (NumPy 2 keeps Python scalars weak), which follows a float32 tile closely but not
bit-exactly (summation order of the dot products differs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "IO_DEFAULTS",
    "RefIO",
    "ReferenceMVM",
    "enum_value",
    "fixed_parameters",
]

# Python defaults of aihwkit's ``IOParameters`` (spec training.md §1.1) plus the C++-only fields.
IO_DEFAULTS = dict(
    is_perfect=False,
    mv_type="OnePass",
    inp_bound=1.0,
    inp_noise=0.0,
    inp_res=1.0 / (2**7 - 2),
    inp_sto_round=False,
    inp_asymmetry=0.0,
    out_bound=12.0,
    out_noise=0.06,
    out_noise_std=0.0,
    out_res=1.0 / (2**9 - 2),
    out_sto_round=False,
    out_scale=1.0,
    out_asymmetry=0.0,
    bound_management="Iterative",
    noise_management="AbsMax",
    w_noise=0.0,
    w_noise_type="None",
    ir_drop=0.0,
    ir_drop_g_ratio=1.0 / 0.35 / 5e-6,
    out_nonlinearity=0.0,
    out_nonlinearity_std=0.0,
    slope_calibration=0.0,
    v_offset_std=0.0,
    v_offset_w_min=-1.0,
    r_series=0.0,
    w_read_asymmetry_dtod=0.0,
    max_bm_factor=1000,
    max_bm_res=0.25,
    bm_test_negative_bound=True,
    nm_thres=0.0,
    # C++ only (not settable from Python in aihwkit)
    nm_assumed_wmax=0.6,
    nm_decay=1e-3,
    r_series_max_total=math.inf,
)

_ENUM_ALIASES = {
    # NoiseManagementType
    "NONE": "None",
    "ABS_MAX": "AbsMax",
    "ABS_MAX_NP_SUM": "AbsMaxNPSum",
    "MAX": "Max",
    "CONSTANT": "Constant",
    "AVERAGE_ABS_MAX": "AverageAbsMax",
    # BoundManagementType
    "ITERATIVE": "Iterative",
    "ITERATIVE_WORST_CASE": "IterativeWorstCase",
    "SHIFT": "Shift",
    # WeightNoiseType
    "ADDITIVE_CONSTANT": "AdditiveConstant",
    "PCM_READ": "PCMRead",
    # AnalogMVType
    "IDEAL": "Ideal",
    "ONE_PASS": "OnePass",
    "POS_NEG_SEPARATE": "PosNegSeparate",
    "POS_NEG_SEPARATE_DIGITAL_SUM": "PosNegSeparateDigitalSum",
}


def enum_value(v) -> str:
    """Normalise an enum member / name / C++ binding string to the C++ binding string."""
    if hasattr(v, "value") and isinstance(v.value, str):
        v = v.value
    elif hasattr(v, "name"):
        v = v.name
    v = str(v)
    return _ENUM_ALIASES.get(v, v)


def _get(io, name):
    if io is None:
        return IO_DEFAULTS[name]
    if isinstance(io, dict):
        return io.get(name, IO_DEFAULTS[name])
    return getattr(io, name, IO_DEFAULTS[name])


@dataclass
class RefIO:
    """IO parameters after ``initializeForForward`` / ``initializeForBackward`` (spec §1.2)."""

    raw: dict
    is_perfect: bool
    mv_type: str
    nm: str
    bm: str
    w_noise_type: str
    q_in: float  # DAC step (<= 0: no quantisation)
    q_out: float  # ADC step (<= 0: no quantisation)
    inp_bound: float  # inf if <= 0
    out_bound: float  # inf if <= 0
    nm_thres: float

    def __getattr__(self, name):  # plain fields (inp_noise, out_scale, ...)
        raw = self.__dict__.get("raw")
        if raw is not None and name in raw:
            return raw[name]
        raise AttributeError(name)

    @classmethod
    def build(cls, io=None, direction: str = "forward", dtype=np.float64, **overrides) -> "RefIO":
        raw = {k: _get(io, k) for k in IO_DEFAULTS}
        raw.update(overrides)
        for k in ("mv_type", "noise_management", "bound_management", "w_noise_type"):
            raw[k] = enum_value(raw[k])
        mv_type = raw["mv_type"]
        is_perfect = bool(raw["is_perfect"]) or mv_type == "Ideal"
        if is_perfect:
            mv_type = "Ideal"

        T = dtype

        def res(r):  # detail::checkRes, in the tile's dtype
            r = T(0.0) if r < 0 else T(r)
            return T(1.0) / r if r > 1.0 else r

        # The step is computed before a non-positive bound is replaced by infinity (§1.2.2), as
        # res' * (2 * bound) in the tile dtype. (In float32 this makes 255 * q_out = 12.000001 > 12
        # for the defaults, so an output on the top ADC level counts as a bound overflow; in
        # float64 255 * q_out == 12.0 exactly.)
        q_in = float(res(raw["inp_res"]) * (T(2.0) * T(raw["inp_bound"])))
        q_out = float(res(raw["out_res"]) * (T(2.0) * T(raw["out_bound"])))
        nm = raw["noise_management"]
        nm_thres = float(raw["nm_thres"]) if nm != "None" else 0.0
        inp_bound = float(raw["inp_bound"]) if raw["inp_bound"] > 0 else math.inf
        out_bound = float(raw["out_bound"]) if raw["out_bound"] > 0 else math.inf
        bm = raw["bound_management"] if direction == "forward" else "None"
        return cls(
            raw=raw,
            is_perfect=is_perfect,
            mv_type=mv_type,
            nm=nm,
            bm=bm,
            w_noise_type=raw["w_noise_type"],
            q_in=q_in,
            q_out=q_out,
            inp_bound=inp_bound,
            out_bound=out_bound,
            nm_thres=nm_thres,
        )

    # predicates as in rpu_pulsed_meta_parameter.h
    @property
    def has_voltage_offsets(self) -> bool:
        return self.raw["v_offset_std"] > 0 or self.raw["r_series"] > 0

    @property
    def has_out_nonlinearity(self) -> bool:
        return self.raw["out_nonlinearity"] > 0 and not self.is_perfect

    @property
    def has_nl_calibration(self) -> bool:
        return self.has_out_nonlinearity or self.raw["r_series"] > 0


def fixed_parameters(rio: RefIO, out_size: int, in_size: int) -> dict:
    """The per-output draws of ``populateFBParameter`` with every spread set to zero (§1.2.6).

    ``out_size`` is the output length of this direction (d_size forward, x_size backward).
    """
    p = {}
    raw = rio.raw
    p["v_offset"] = np.zeros(out_size)  # max(v_offset_std * 0, 0)
    B = rio.out_bound if math.isfinite(rio.out_bound) else 1.0
    if rio.has_nl_calibration:
        p["out_nonlinearity"] = np.full(out_size, abs(raw["out_nonlinearity"] / B))
    else:
        p["out_nonlinearity"] = np.zeros(out_size)
    nlf = 1.0
    if raw["slope_calibration"] > 0:
        s = float(np.mean(np.abs(p["out_nonlinearity"]))) if rio.has_out_nonlinearity else 0.0
        f = 1.0 + (s + raw["r_series"]) * raw["slope_calibration"] * B
        nlf = f * f
    p["out_nonlinearity_factor"] = nlf
    p["out_noise_values"] = np.full(out_size, abs(raw["out_noise"]))
    p["w_asymmetry"] = None  # (1 + dtod * 0) == 1 everywhere
    return p


@dataclass
class VectorInfo:
    """Diagnostics for one input vector (useful to assert that a test exercises a path)."""

    nu: float = 1.0
    rho: float = 1.0
    rounds: int = 0
    zero_shortcut: bool = False
    passed_last: bool = True


@dataclass
class ReferenceMVM:
    """Reference forward/backward MVM of one tile.

    Parameters
    ----------
    forward, backward : IOParameters-like or None
        The tile's forward and backward IO parameters (``None``: Python defaults).
    out_size, in_size : int
        Tile sizes (``in_size`` includes the bias column when the tile has an analog bias).
    fwd_params, bwd_params : dict or None
        Fixed per-output draws; keys ``v_offset``, ``out_nonlinearity``,
        ``out_nonlinearity_factor``, ``out_noise_values``, ``w_asymmetry``. Missing keys are
        computed as for zero spreads (:func:`fixed_parameters`).
    rng : numpy.random.Generator or None
        ``None``: every noise term off.
    dtype : numpy dtype
        Arithmetic dtype.
    shared_nm_state : bool
        The AverageAbsMax running value is shared by forward and backward (C++ CPU, spec §1.3
        [bug?]); False keeps one per direction.
    bm_negative_assign_quirk : bool
        True (C++): a negative overflow *assigns* ``passed = !bm_test_negative_bound`` (spec §1.6
        [bug?]); False: the intended "passed unless some overflow that counts".
    force_offsets, force_nonlinearity : bool
        Apply the voltage offsets / output non-linearity of ``fwd_params``/``bwd_params`` even when
        ``v_offset_std``/``r_series``/``out_nonlinearity`` would leave them off (for tiles where
        ``set_forward_parameters`` switches the effect on).
    """

    forward_io: object = None
    backward_io: object = None
    out_size: int = 1
    in_size: int = 1
    fwd_params: dict | None = None
    bwd_params: dict | None = None
    rng: np.random.Generator | None = None
    dtype: type = np.float64
    shared_nm_state: bool = True
    bm_negative_assign_quirk: bool = True
    force_offsets: bool = False
    force_nonlinearity: bool = False
    nm_state: dict = field(default_factory=lambda: {"shared": -1.0, "forward": -1.0, "backward": -1.0})
    last_info: list = field(default_factory=list)

    def __post_init__(self):
        self.fio = RefIO.build(self.forward_io, "forward", dtype=self.dtype)
        self.bio = RefIO.build(self.backward_io, "backward", dtype=self.dtype)
        self.fpar = self._complete(self.fio, self.fwd_params, self.out_size, self.in_size)
        self.bpar = self._complete(self.bio, self.bwd_params, self.in_size, self.out_size)

    # ------------------------------------------------------------------ setup helpers
    def _complete(self, rio, given, out_size, in_size):
        p = fixed_parameters(rio, out_size, in_size)
        if given:
            for k, v in given.items():
                if v is None:
                    continue
                v = np.asarray(v, dtype=np.float64)
                if k == "out_nonlinearity_factor":
                    p[k] = float(v.reshape(-1)[0]) if v.size else 1.0
                elif k in p and v.size:
                    p[k] = v.copy()
        T = self.dtype
        out = {}
        for k, v in p.items():
            if v is None:
                out[k] = None
            elif k == "out_nonlinearity_factor":
                out[k] = T(v)
            else:
                out[k] = np.asarray(v, dtype=T)
        return out

    def _gauss(self, n):
        if self.rng is None:
            return np.zeros(n, dtype=self.dtype)
        return self.rng.standard_normal(n).astype(self.dtype)

    def _uniform(self, n):
        if self.rng is None:
            return np.full(n, 0.5, dtype=self.dtype)
        return self.rng.random(n).astype(self.dtype)

    # ------------------------------------------------------------------ NM (§1.3)
    def _nm_state_key(self, direction):
        return "shared" if self.shared_nm_state else direction

    def noise_management(self, x, rio: RefIO, nm_type: str | None = None, direction="forward"):
        T = self.dtype
        nm = rio.nm if nm_type is None else nm_type
        if nm == "None":
            return T(1.0)
        amax = T(np.max(np.abs(x))) if x.size else T(0.0)
        thres = T(rio.nm_thres)
        if nm == "AbsMax":
            return min(amax, thres) if thres > 0 else amax
        if nm == "Constant":
            return thres if thres > 0 else T(1.0)
        if nm == "Max":
            mx = T(np.max(x))
            return min(mx, thres) if thres > 0 else mx
        if nm == "AverageAbsMax":
            key = self._nm_state_key(direction)
            a = self.nm_state[key]
            if a < 0:
                a = amax
            else:
                d = T(rio.raw["nm_decay"])
                a = T(a) * (T(1.0) - d) + d * amax
            self.nm_state[key] = a
            return T(a)
        if nm == "AbsMaxNPSum":
            bound = T(rio.out_bound) if math.isfinite(rio.out_bound) else T(1.0)
            psum = T(np.sum(np.where(x > 0, x, T(0.0)), dtype=T))
            nsum = T(np.sum(np.where(x < 0, x, T(0.0)), dtype=T))
            s = max(psum, -nsum)
            if thres > 0:
                amax = min(amax, thres)
            v = s * T(rio.raw["nm_assumed_wmax"]) / bound
            if rio.q_in > 0:
                v = min(amax / T(rio.q_in) * T(rio.raw["max_bm_res"]), v)
            return max(amax, v)
        raise ValueError(f"unknown noise management {nm!r}")

    # ------------------------------------------------------------------ DAC (§1.4)
    def prepare_input(self, x, scale, scaling, rio: RefIO):
        T = self.dtype
        u = x.astype(T, copy=True)
        if scaling:
            u = u * T(scale)
        q = T(rio.q_in)
        if q > 0:
            if rio.raw["inp_sto_round"]:
                u = np.rint(u / q + (self._uniform(u.size) - T(0.5))) * q
            else:
                u = np.rint(u / q) * q
        b = T(rio.inp_bound)
        u = np.minimum(u, b)
        u = np.maximum(u, -b)
        if rio.raw["inp_noise"] > 0:
            u = u + T(rio.raw["inp_noise"]) * self._gauss(u.size)
        a = rio.raw["inp_asymmetry"]
        if a != 0:
            u = np.where(u < 0, u * (T(1.0) - T(a)), u)
        return u.astype(T, copy=False)

    # ------------------------------------------------------------------ MAC (§1.5)
    def single_pass(self, Wd, u, rio: RefIO, par):
        """``Wd``: (out, in) matrix of this direction (``W`` forward, ``W.T`` backward)."""
        T = self.dtype
        v = Wd @ u
        n = u.size
        if rio.raw["ir_drop"] > 0:
            current = np.abs(Wd) @ np.abs(u)
            a = (T(n) / T(rio.raw["ir_drop_g_ratio"])) * current
            c = a * (a * (T(0.05) * a - T(0.2)) + T(0.5))
            j = np.arange(n, dtype=T)
            p = T(1.0) - j / T(n)
            up = u * (T(1.0) - p * p)
            tmp = T(rio.raw["ir_drop"]) * (Wd @ up)
            v = v - c * tmp
        if rio.has_voltage_offsets or self.force_offsets:
            o = par["v_offset"]
            rs = T(max(rio.raw["r_series"], 0.0))
            R = T(rio.raw["r_series_max_total"])
            wmin = T(rio.raw["v_offset_w_min"])
            if wmin == 0:
                if rs <= 0:
                    v = v * (T(1.0) - o)
                else:
                    v = (T(1.0) - o) * v / (T(1.0) + np.minimum(rs * np.abs(v), R))
            else:
                xs = T(np.sum(u, dtype=T))
                if rs <= 0:
                    y_ref2 = (-wmin) * xs * T(2.0)
                    v = v * (T(1.0) - o) - o * y_ref2
                else:
                    y_ref = (-wmin) * xs
                    ypos = v + y_ref
                    pn = T(1.0) + np.minimum(rs * np.abs(ypos), R)
                    nn = T(1.0) + min(rs * abs(y_ref), R)
                    v = (T(1.0) - o) * ypos / pn - (T(1.0) + o) * y_ref / nn
        wn = T(rio.raw["w_noise"])
        if rio.w_noise_type != "None" and wn > 0:
            if rio.w_noise_type == "AdditiveConstant":
                v = v + wn * T(np.sqrt(np.sum(u * u))) * self._gauss(v.size)
            elif rio.w_noise_type == "PCMRead":
                v = v + wn * np.sqrt(np.abs(Wd) @ (u * u)) * self._gauss(v.size)
            else:
                raise ValueError(rio.w_noise_type)
        return v.astype(T, copy=False)

    # ------------------------------------------------------------------ ADC (§1.6)
    def finalize_output(self, v, rio: RefIO, par, bm_on: bool):
        T = self.dtype
        v = v.astype(T, copy=True)
        if rio.has_nl_calibration or (self.force_nonlinearity and not rio.is_perfect):
            nlf = T(par["out_nonlinearity_factor"])
            v = nlf * v / (T(1.0) + np.abs(par["out_nonlinearity"] * v))
        a = rio.raw["out_asymmetry"]
        if a > 0:
            v = np.where(v < 0, v * (T(1.0) - T(a)), v)
        sig = par["out_noise_values"] if rio.raw["out_noise_std"] > 0 else T(rio.raw["out_noise"])
        # a sample is drawn even if out_noise = 0 (irrelevant for the value)
        v = v + sig * self._gauss(v.size)
        q = T(rio.q_out)
        if q > 0:
            if rio.raw["out_sto_round"]:
                v = np.rint(v / q + (self._uniform(v.size) - T(0.5))) * q
            else:
                v = np.rint(v / q) * q
        B = T(rio.out_bound)
        passed = True
        if bm_on:
            # index order matters: the negative branch *assigns* (spec §1.6 [bug?])
            neg_test = bool(rio.raw["bm_test_negative_bound"])
            for i in range(v.size):
                if v[i] > B:
                    v[i] = B
                    passed = False
                elif v[i] < -B:
                    v[i] = -B
                    if self.bm_negative_assign_quirk:
                        passed = not neg_test
                    elif neg_test:
                        passed = False
        else:
            v = np.minimum(v, B)
            v = np.maximum(v, -B)
        return v.astype(T, copy=False), passed

    # ------------------------------------------------------------------ mv_type (§1.7)
    def analog_mv(self, Wd, x, scale, scaling, rio: RefIO, par, transposed=False):
        T = self.dtype
        bm_on = rio.bm != "None"
        u = self.prepare_input(x, scale, scaling, rio)
        if rio.mv_type == "OnePass":
            v = self.single_pass(Wd, u, rio, par)
            return self.finalize_output(v, rio, par, bm_on)
        if rio.mv_type in ("PosNegSeparate", "PosNegSeparateDigitalSum"):
            digital = rio.mv_type == "PosNegSeparateDigitalSum"
            Wneg = Wd
            if rio.raw["w_read_asymmetry_dtod"] > 0 and par.get("w_asymmetry") is not None:
                # w_asymmetry is stored in the forward weight layout (d_size, x_size) for both
                # directions (flat index of the weight matrix in the C++ code)
                A = np.asarray(par["w_asymmetry"], dtype=T).reshape(Wd.T.shape if transposed else Wd.shape)
                Wneg = Wd * (A.T if transposed else A)
            un = np.where(u < 0, u, T(0.0))
            vn = self.single_pass(Wneg, un, rio, par)
            ok = False
            if digital:
                vn, ok = self.finalize_output(vn, rio, par, bm_on)
            up = np.where(u > 0, u, T(0.0))
            vp = self.single_pass(Wd, up, rio, par)
            if digital:
                vp, okp = self.finalize_output(vp, rio, par, bm_on)
                ok = okp and ok
            v = vp + vn
            if not digital:
                v, ok = self.finalize_output(v, rio, par, bm_on)
            return v, ok
        raise ValueError(f"unsupported mv_type {rio.mv_type!r}")

    # ------------------------------------------------------------------ drivers (§1.8, §1.9)
    def forward_vector(self, W, x):
        T = self.dtype
        rio, par = self.fio, self.fpar
        info = VectorInfo()
        x = np.asarray(x, dtype=T)
        W = np.asarray(W, dtype=T)
        if rio.is_perfect:
            info.rounds = 0
            return (W @ x) * T(rio.raw["out_scale"]), info
        nu = self.noise_management(x, rio, direction="forward")
        nm = rio.nm != "None"
        bm = rio.bm != "None"
        info.nu = float(nu)
        if nm and nu <= 0 and rio.raw["inp_noise"] <= 0:
            info.zero_shortcut = True
            return np.zeros(W.shape[0], dtype=T), info
        out_scale = T(rio.raw["out_scale"])
        rho = T(0.5)
        passed = False
        rnd = 0
        y = None
        scale = T(1.0)
        scaling = False
        while not passed:
            rho = rho * T(2.0)
            if rnd == 1 and rio.bm == "IterativeWorstCase" and rio.nm != "AbsMaxNPSum":
                nu = self.noise_management(x, rio, nm_type="AbsMaxNPSum", direction="forward")
                rho = T(1.0)
            rnd += 1
            scaling = False
            scale = T(1.0)
            if nm and nu > 0:
                scale = scale / nu
                scaling = True
            if bm:
                scale = scale / rho
                scaling = True
            y, passed = self.analog_mv(W, x, scale, scaling, rio, par)
            if bm:
                stop = int(rho) > rio.raw["max_bm_factor"] or (
                    rio.q_in > 0 and rho > T(rio.raw["max_bm_res"]) / T(rio.q_in)
                )
                passed = passed or stop
            else:
                passed = True
        info.rho, info.rounds, info.nu = float(rho), rnd, float(nu)
        if scaling or out_scale != 1:
            y = y * (out_scale / scale)
        return y.astype(T, copy=False), info

    def backward_vector(self, W, d):
        T = self.dtype
        rio, par = self.bio, self.bpar
        info = VectorInfo()
        d = np.asarray(d, dtype=T)
        Wt = np.asarray(W, dtype=T).T
        if rio.is_perfect:
            return (Wt @ d) * T(rio.raw["out_scale"]), info
        nu = self.noise_management(d, rio, direction="backward")
        nm = rio.nm != "None"
        info.nu = float(nu)
        scaling = nm and nu > 0
        out_scale = T(rio.raw["out_scale"])
        if nm and nu <= 0:
            info.zero_shortcut = True
            return np.zeros(Wt.shape[0], dtype=T), info
        z, _ = self.analog_mv(Wt, d, T(1.0) / nu, scaling, rio, par, transposed=True)  # BM forced off (bio.bm)
        info.rounds = 1
        if scaling or out_scale != 1:
            z = z * (out_scale * nu)
        return z.astype(T, copy=False), info

    def forward(self, W, X):
        """``X``: (batch, in_size) (or 1-D). Returns (batch, out_size)."""
        X = np.asarray(X)
        one = X.ndim == 1
        X2 = np.atleast_2d(X)
        out = np.empty((X2.shape[0], np.shape(W)[0]), dtype=self.dtype)
        self.last_info = []
        for b in range(X2.shape[0]):
            out[b], info = self.forward_vector(W, X2[b])
            self.last_info.append(info)
        return out[0] if one else out

    def backward(self, W, D):
        """``D``: (batch, out_size) (or 1-D). Returns (batch, in_size)."""
        D = np.asarray(D)
        one = D.ndim == 1
        D2 = np.atleast_2d(D)
        out = np.empty((D2.shape[0], np.shape(W)[1]), dtype=self.dtype)
        self.last_info = []
        for b in range(D2.shape[0]):
            out[b], info = self.backward_vector(W, D2[b])
            self.last_info.append(info)
        return out[0] if one else out

    @property
    def rhos(self):
        return np.array([i.rho for i in self.last_info])

    @property
    def nus(self):
        return np.array([i.nu for i in self.last_info])
