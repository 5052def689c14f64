"""The sweep file: parsing, checking and expanding it into points.

A sweep file is TOML (the format is described in :mod:`rpu.sweep`). :func:`load_spec` reads and
checks it into a :class:`SweepSpec`; :meth:`SweepSpec.points` expands the grid into
:class:`SweepPoint` objects, the cartesian product of the grid's value lists times the seeds, in a
fixed order. Every point has a stable id, a hash of its canonical JSON (experiment function,
base configuration, fixed and varied overrides and parameters, seed), which is what a re-run
compares against the results table to skip finished points.

Nothing here imports Dask or pandas.
"""

import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import itertools
import json
import math
import os
import sys
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple

from rpu.errors import ConfigError

__all__ = [
    "SweepSpecError",
    "SweepSpec",
    "SweepPoint",
    "load_spec",
    "parse_spec",
    "load_function",
    "PARAMS_PREFIX",
    "CONFIG_PREFIX",
    "CLUSTER_KINDS",
]

#: Grid keys that start with this prefix vary a keyword argument of the experiment function;
#: those that start with ``CONFIG_PREFIX`` vary a key of the base configuration (``preset``,
#: ``algorithm``, ``device``, ...); all other grid keys are dotted paths into the RPU
#: configuration.
PARAMS_PREFIX = "params."
CONFIG_PREFIX = "config."

#: ``[cluster] kind`` values and the dask-jobqueue class each one builds (``local``: a Dask
#: ``LocalCluster``).
CLUSTER_KINDS = {
    "local": None,
    "slurm": "SLURMCluster",
    "pbs": "PBSCluster",
    "sge": "SGECluster",
    "lsf": "LSFCluster",
    "htcondor": "HTCondorCluster",
}

_TABLES = {
    "sweep": "the sweep itself: function (required), seeds, output, name",
    "params": "fixed keyword arguments of the experiment function",
    "config": "the base RPU configuration: preset, or algorithm + device, and overrides",
    "grid": "the values to sweep, each a list: dotted config paths, params.NAME, config.NAME",
    "cluster": "where to run: kind (local, slurm, pbs, ...), workers, jobs, ...",
}
_SWEEP_KEYS = ("function", "seeds", "output", "name")
_CONFIG_KEYS = ("preset", "algorithm", "device", "n_devices", "construction_seed", "overrides")
_RESERVED_COLUMNS = ("point_id", "seed", "elapsed_s", "worker")
_SCALARS = (bool, int, float, str)


class SweepSpecError(ConfigError):
    """A sweep file cannot be read, or a key in it is missing, unknown or of the wrong kind.

    The message names the file, the key (as ``table.key``), what was expected and what came.
    """


# --------------------------------------------------------------------------------------------
# canonical JSON and point ids
# --------------------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """Values as plain JSON types; non-finite floats as strings so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Return ``value`` as JSON text with sorted keys and no spaces (the hash input of ids)."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _point_id(payload: Dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# the spec
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One experiment run: a config (base + overrides), keyword parameters and a seed.

    Attributes
    ----------
    point_id : str
        16 hex digits: a hash of the point's canonical JSON (function, base config, overrides,
        params, seed). Equal points have equal ids in every run, which is what resuming uses.
    index : int
        Position in the expanded grid (grid order, seeds innermost).
    function : str
        The experiment function, as written in the sweep file.
    base_dir : str
        The sweep file's folder (a ``path.py:function`` is relative to it).
    base : dict
        The ``[config]`` table without its overrides (preset, or algorithm and device, ...).
    overrides : dict
        Dotted config path -> value: the fixed ``[config.overrides]`` then this point's grid
        values.
    params : dict
        Keyword arguments of the experiment function: ``[params]`` updated by the grid.
    seed : int
        The seed given to the experiment function.
    axes : dict
        This point's grid values by grid key (``"device.w_max"``, ``"params.lr"``): the columns
        that tell the points apart in the results table.
    """

    point_id: str
    index: int
    function: str
    base_dir: str
    base: Dict[str, Any]
    overrides: Dict[str, Any]
    params: Dict[str, Any]
    seed: int
    axes: Dict[str, Any]

    def columns(self) -> Dict[str, Any]:
        """The table columns that identify this point: ``point_id``, the grid axes, ``seed``."""
        out: Dict[str, Any] = {"point_id": self.point_id}
        for key, value in self.axes.items():
            out[key] = value if isinstance(value, _SCALARS) else canonical_json(value)
        out["seed"] = self.seed
        return out

    def to_dict(self) -> Dict[str, Any]:
        """A plain dict (what is sent to a worker)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class SweepSpec:
    """A checked sweep file.

    Attributes
    ----------
    path : str or None
        The file it was read from (None for a spec given as a dict).
    name : str
        ``[sweep] name``, else the file's stem.
    function : str
        ``"module:function"`` or ``"path/to/file.py:function"``.
    seeds : list of int
        The seeds, in order.
    params : dict
        Fixed keyword arguments of the experiment function.
    config : dict
        The base configuration (``preset``, or ``algorithm`` and ``device`` with optional
        ``n_devices`` and ``construction_seed``); empty for ``SingleRPUConfig()``.
    overrides : dict
        Fixed config overrides applied to every point before the grid's.
    grid : dict
        Grid key -> list of values, in file order.
    output : str or None
        The results table's path (absolute), or None for the default.
    cluster : dict
        The ``[cluster]`` table with ``kind`` filled in (``"local"`` by default).
    base_dir : str
        Folder that relative paths in the file refer to.
    """

    path: Optional[str]
    name: str
    function: str
    seeds: List[int]
    params: Dict[str, Any]
    config: Dict[str, Any]
    overrides: Dict[str, Any]
    grid: Dict[str, List[Any]]
    output: Optional[str]
    cluster: Dict[str, Any]
    base_dir: str

    @property
    def n_points(self) -> int:
        """The number of points: the product of the grid's list lengths times the seeds."""
        n = len(self.seeds)
        for values in self.grid.values():
            n *= len(values)
        return n

    def default_output(self) -> str:
        """``<file stem>.results.csv`` next to the sweep file (used without ``output``)."""
        return os.path.join(self.base_dir, f"{self.name}.results.csv")

    def points(self) -> List[SweepPoint]:
        """Expand the grid: every combination of the grid's values, times every seed.

        The last grid key varies fastest, and the seeds fastest of all, so points that differ
        only in the seed sit next to each other.
        """
        keys = list(self.grid)
        out: List[SweepPoint] = []
        index = 0
        for combo in itertools.product(*(self.grid[k] for k in keys)):
            axes = dict(zip(keys, combo))
            base, overrides, params = _split_axes(self.config, self.overrides, self.params, axes)
            for seed in self.seeds:
                payload = {
                    "function": self.function,
                    "config": base,
                    "overrides": overrides,
                    "params": params,
                    "seed": seed,
                }
                out.append(SweepPoint(
                    point_id=_point_id(payload), index=index, function=self.function,
                    base_dir=self.base_dir, base=dict(base), overrides=dict(overrides),
                    params=dict(params), seed=seed, axes=dict(axes),
                ))
                index += 1
        return out


def _split_axes(config: Dict[str, Any], overrides: Dict[str, Any], params: Dict[str, Any],
                axes: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, Any]]:
    """The base config, the overrides and the params of one grid combination ``axes``."""
    config, overrides, params = dict(config), dict(overrides), dict(params)
    for key, value in axes.items():
        if key.startswith(PARAMS_PREFIX):
            params[key[len(PARAMS_PREFIX):]] = value
        elif key.startswith(CONFIG_PREFIX):
            config[key[len(CONFIG_PREFIX):]] = value
        else:
            overrides[key] = value
    return config, overrides, params


def _load_toml(path: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise SweepSpecError(
                "reading a sweep file on Python 3.10 needs the 'tomli' package: "
                'pip install tomli (or pip install "rpu[hpc]")'
            ) from None
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise SweepSpecError(f"sweep file {path!r} cannot be read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SweepSpecError(f"sweep file {path!r} is not valid TOML: {exc}") from None


def load_spec(path: "os.PathLike[str] | str", *, check_function: bool = True) -> SweepSpec:
    """Read and check a sweep file.

    Parameters
    ----------
    path : str or path-like
        The TOML file.
    check_function : bool, default True
        Import the experiment function here and check that it takes ``config``, ``seed`` and
        the parameters (switch off when it is importable only on the workers).

    Returns
    -------
    SweepSpec

    Raises
    ------
    SweepSpecError
        An unreadable file, invalid TOML, a missing or unknown key, a value of the wrong kind,
        an unknown config path or an override value that the configuration refuses.
    """
    path = os.path.abspath(os.fspath(path))
    data = _load_toml(path)
    return parse_spec(data, base_dir=os.path.dirname(path), path=path,
                      check_function=check_function)


def _where(path: Optional[str]) -> str:
    return f"sweep file {path!r}" if path else "sweep spec"


def parse_spec(
    data: Dict[str, Any],
    *,
    base_dir: str = ".",
    path: Optional[str] = None,
    check_function: bool = True,
) -> SweepSpec:
    """Check a sweep spec given as the dict that TOML parsing returns (see :func:`load_spec`)."""
    where = _where(path)

    def fail(key: str, expected: str, value: Any = dataclasses.MISSING) -> NoReturn:
        came = "" if value is dataclasses.MISSING else f", got {value!r} ({type(value).__name__})"
        raise SweepSpecError(f"{where}: {key}: expected {expected}{came}")

    if not isinstance(data, dict):
        fail("top level", "a table", data)
    for key, value in data.items():
        if key not in _TABLES:
            valid = "; ".join(f"[{k}] {v}" for k, v in _TABLES.items())
            fail(key, f"one of the tables: {valid}", value)
        if not isinstance(value, dict):
            fail(key, f"a table [{key}]", value)

    sweep = data.get("sweep")
    if sweep is None:
        fail("[sweep]", "a [sweep] table with at least function = \"module:function\"")
    for key in sweep:
        if key not in _SWEEP_KEYS:
            fail(f"sweep.{key}", "no such key; known keys: " + ", ".join(_SWEEP_KEYS))

    function = sweep.get("function")
    if function is None:
        fail("sweep.function", 'the experiment function, "module:function" or "file.py:function"')
    if not isinstance(function, str) or function.count(":") != 1 or not all(function.split(":")):
        fail("sweep.function", 'a string "module:function" or "file.py:function"', function)

    seeds_raw = sweep.get("seeds", [0])
    if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool):
        if seeds_raw < 1:
            fail("sweep.seeds", "a positive count or a list of integers", seeds_raw)
        seeds = list(range(seeds_raw))
    elif isinstance(seeds_raw, list) and seeds_raw:
        for s in seeds_raw:
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                fail("sweep.seeds", "a list of non-negative integers", seeds_raw)
        if len(set(seeds_raw)) != len(seeds_raw):
            fail("sweep.seeds", "a list of distinct integers", seeds_raw)
        seeds = list(seeds_raw)
    else:
        fail("sweep.seeds", "a positive count or a non-empty list of integers", seeds_raw)

    name = sweep.get("name")
    if name is None:
        name = os.path.splitext(os.path.basename(path))[0] if path else "sweep"
    elif not isinstance(name, str) or not name:
        fail("sweep.name", "a non-empty string", name)

    output = sweep.get("output")
    if output is not None:
        if not isinstance(output, str) or not output.lower().endswith((".csv", ".parquet", ".pq")):
            fail("sweep.output", "a path string ending in .csv, .parquet or .pq", output)
        output = os.path.join(base_dir, os.path.expanduser(output))

    params = data.get("params", {})
    for key in params:
        if not key.isidentifier():
            fail(f"params.{key}", "a Python identifier (a keyword argument name)")

    config = dict(data.get("config", {}))
    overrides = config.pop("overrides", {})
    for key in config:
        if key not in _CONFIG_KEYS:
            fail(f"config.{key}", "no such key; known keys: " + ", ".join(_CONFIG_KEYS))
    if not isinstance(overrides, dict):
        fail("config.overrides", "a table of dotted config paths and values", overrides)

    grid_raw = data.get("grid", {})
    grid: Dict[str, List[Any]] = {}
    for key, values in grid_raw.items():
        if isinstance(values, dict):
            fail(f"grid.{key}", 'a list of values (quote dotted keys: "device.w_max" = [...])',
                 values)
        if not isinstance(values, list) or not values:
            fail(f'grid."{key}"', "a non-empty list of values", values)
        if key.startswith(PARAMS_PREFIX):
            pname = key[len(PARAMS_PREFIX):]
            if not pname.isidentifier():
                fail(f'grid."{key}"', "params.NAME with NAME a keyword argument name")
            if pname in params:
                fail(f'grid."{key}"', f"a parameter not also fixed in [params] ({pname!r} is)")
        elif key.startswith(CONFIG_PREFIX):
            cname = key[len(CONFIG_PREFIX):]
            if cname not in _CONFIG_KEYS or cname == "overrides":
                fail(f'grid."{key}"', "config.NAME with NAME one of " + ", ".join(
                    k for k in _CONFIG_KEYS if k != "overrides"))
            if cname in config:
                fail(f'grid."{key}"', f"a key not also fixed in [config] ({cname!r} is)")
        elif key in overrides:
            fail(f'grid."{key}"', "a config path not also fixed in [config.overrides]")
        seen = set()
        for v in values:
            text = canonical_json(v)
            if text in seen:
                fail(f'grid."{key}"', "distinct values", values)
            seen.add(text)
        grid[key] = list(values)
    for key in grid:
        if key in _RESERVED_COLUMNS:
            fail(f'grid."{key}"', "a name other than " + ", ".join(_RESERVED_COLUMNS))

    cluster = dict(data.get("cluster", {}))
    kind = cluster.setdefault("kind", "local")
    if kind not in CLUSTER_KINDS:
        fail("cluster.kind", "one of " + ", ".join(repr(k) for k in CLUSTER_KINDS), kind)
    for key, minimum in (("workers", 1), ("threads_per_worker", 1), ("jobs", 1)):
        if key in cluster:
            v = cluster[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
                fail(f"cluster.{key}", f"an integer >= {minimum}", v)
    if kind == "local":
        extra = set(cluster) - {"kind", "workers", "threads_per_worker", "memory_limit"}
        if extra:
            fail("cluster." + sorted(extra)[0],
                 "for kind = 'local' only workers, threads_per_worker, memory_limit")
    elif "workers" in cluster:
        fail("cluster.workers", f"jobs = N for kind = {kind!r} (workers is for kind = 'local')")

    spec = SweepSpec(
        path=path, name=name, function=function, seeds=seeds, params=dict(params),
        config=config, overrides=dict(overrides), grid=grid, output=output, cluster=cluster,
        base_dir=base_dir,
    )
    _check_config(spec, where)
    if check_function:
        _check_function(spec, where)
    return spec


def _check_config(spec: SweepSpec, where: str) -> None:
    """Build every base config of the grid and apply each override value alone to each, so
    that a typo in a path or a value that the configuration refuses is reported now, naming its
    key, and not by every worker. (Values that contradict each other, such as w_min > w_max,
    fail per point.)"""
    from .overrides import apply_overrides, make_base_config

    base_keys = [k for k in spec.grid if k.startswith(CONFIG_PREFIX)]
    for combo in itertools.product(*(spec.grid[k] for k in base_keys)):
        axes = dict(zip(base_keys, combo))
        base_spec = _split_axes(spec.config, {}, {}, axes)[0]
        what = "[config]" + "".join(f', grid."{k}" = {v!r}' for k, v in axes.items())
        try:
            base = make_base_config(base_spec)
        except ConfigError as exc:
            raise SweepSpecError(f"{where}: {what}: {exc}") from None
        try:
            fixed = apply_overrides(base, spec.overrides)
        except ConfigError as exc:
            raise SweepSpecError(f"{where}: [config.overrides] on {what}: {exc}") from None
        for key, values in spec.grid.items():
            if key.startswith((PARAMS_PREFIX, CONFIG_PREFIX)):
                continue
            for value in values:
                try:
                    apply_overrides(fixed, {key: value})
                except ConfigError as exc:
                    on = f" on {what}" if axes else ""
                    raise SweepSpecError(
                        f'{where}: grid."{key}" = {value!r}{on}: {exc}') from None


# --------------------------------------------------------------------------------------------
# the experiment function
# --------------------------------------------------------------------------------------------

_FILE_MODULES: Dict[Any, Any] = {}


def load_function(ref: str, base_dir: str = ".") -> Callable[..., Any]:
    """Import the experiment function named ``"module:function"`` or ``"file.py:function"``.

    A ``.py`` path is relative to ``base_dir`` (the sweep file's folder); the module is loaded
    once per process under a private name. Raises ``ImportError`` / ``AttributeError`` /
    ``TypeError`` with a message naming ``ref``.
    """
    module_name, _, attr = ref.partition(":")
    if module_name.endswith(".py"):
        file = os.path.abspath(os.path.join(base_dir, os.path.expanduser(module_name)))
        if not os.path.isfile(file):
            raise ImportError(f"experiment function {ref!r}: no file {file!r}")
        # Keyed by the modification time too: a worker that outlives a sweep (a shared
        # scheduler) loads an edited file again, e.g. for --retry-failed after a fix.
        stamp = (file, os.stat(file).st_mtime_ns)
        module = _FILE_MODULES.get(stamp)
        if module is None:
            digest = hashlib.sha256(file.encode()).hexdigest()[:12]
            mspec = importlib.util.spec_from_file_location(f"_rpu_sweep_{digest}", file)
            if mspec is None or mspec.loader is None:
                raise ImportError(f"experiment function {ref!r}: cannot load {file!r}")
            module = importlib.util.module_from_spec(mspec)
            mspec.loader.exec_module(module)
            _FILE_MODULES[stamp] = module
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ImportError(f"experiment function {ref!r}: cannot import module "
                              f"{module_name!r}: {exc}") from exc
    fn = getattr(module, attr, None)
    if fn is None:
        raise AttributeError(f"experiment function {ref!r}: module {module_name!r} has no "
                             f"attribute {attr!r}")
    if not callable(fn):
        raise TypeError(f"experiment function {ref!r} is a {type(fn).__name__}, not callable")
    return fn


def _check_function(spec: SweepSpec, where: str) -> None:
    try:
        fn = load_function(spec.function, spec.base_dir)
    except Exception as exc:  # any error while importing user code is a spec problem here
        raise SweepSpecError(f"{where}: sweep.function: {type(exc).__name__}: {exc}") from None
    names = set(spec.params) | {k[len(PARAMS_PREFIX):] for k in spec.grid
                                if k.startswith(PARAMS_PREFIX)}
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # builtins without a signature: nothing to check
        return
    kwargs = {name: None for name in names}
    try:
        sig.bind(config=None, seed=0, **kwargs)
    except TypeError as exc:
        raise SweepSpecError(
            f"{where}: sweep.function = {spec.function!r} cannot be called as "
            f"fn(config=..., seed=..., {', '.join(sorted(names)) or 'no params'}): {exc}"
        ) from None


def point_summary(point: SweepPoint) -> str:
    """One line that names a point: its id, grid values and seed."""
    parts = [f"{k}={v!r}" for k, v in point.axes.items()] + [f"seed={point.seed}"]
    return f"{point.point_id} ({', '.join(parts)})"
