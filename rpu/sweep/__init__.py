"""Experiment sweeps on Dask: one function, a grid of config overrides, seeds, a tidy table.

``rpu sweep SPEC`` (or :func:`run_sweep`) runs an experiment function for every combination of
a grid's values and every seed, on a Dask cluster: a ``LocalCluster`` on this machine by
default, a running scheduler with ``--scheduler ADDRESS``, or a SLURM/PBS/... job queue through
dask-jobqueue. Each finished point becomes one row of a results table (CSV, or Parquet), written
as results arrive; a point that raises is reported with its traceback, written to a failures
table and skipped; running the same command again resumes, skipping the finished points. Dask,
dask-jobqueue, pandas and pyarrow come with the optional extra: ``pip install "rpu[hpc]"``.

The sweep file (TOML)::

    [sweep]
    function = "rpu.sweep.examples:train_regression"   # "module:function" or "file.py:function"
    seeds = [0, 1, 2]             # or a count: seeds = 3 means 0, 1, 2 (default [0])
    output = "device.results.csv" # optional; .csv or .parquet, relative to this file
    name = "device"               # optional; default: the file's stem

    [params]                      # optional: fixed keyword arguments of the function
    n_steps = 100

    [config]                      # optional: the base configuration (default SingleRPUConfig())
    algorithm = "sgd"             # build_config(algorithm, device, n_devices=..., ...)
    device = "SoftBoundsDevice"   # a device class of rpu.config or rpu.presets
    # preset = "ReRamSBPreset"    # ... or a whole RPU configuration class by name

    [config.overrides]            # optional: dotted paths set on every point
    "update.desired_bl" = 10

    [grid]                        # the sweep: every combination of these lists
    "device.w_max" = [0.6, 1.0]   # dotted paths into the config (quote them in TOML)
    "forward.out_noise" = [0.0, 0.06]
    "params.lr" = [0.05, 0.2]     # params.NAME varies a keyword argument of the function
    # "config.algorithm" = ["sgd", "c-ttv2"]   # config.NAME varies a key of [config]

    [cluster]                     # optional: where to run (default kind = "local")
    kind = "local"                # or "slurm", "pbs", "sge", "lsf", "htcondor"
    workers = 2                   # local: worker processes (default: the CPU count)
    # jobs = 4                    # job queues: number of jobs; every other key (cores,
    # cores = 8                   # memory, queue, account, walltime, ...) goes to
    # memory = "16GB"             # dask_jobqueue.SLURMCluster(...) / PBSCluster(...)

The experiment function is called on a worker as ``fn(config=CONFIG, seed=SEED, **params)``,
where CONFIG is the base configuration with the point's overrides applied
(:func:`apply_overrides`), and returns a dict of scalar metrics (numbers, bools, strings).
A ``file.py:function`` path is relative to the sweep file; it must be readable by the workers
(a shared file system on a cluster); a module must be importable there.

The results table has one row per finished point: ``point_id`` (a hash of the point's canonical
JSON, which is what resuming compares), one column per grid key, ``seed``, the metrics,
``elapsed_s`` and ``worker``. Failures go to ``<results stem>.failures.csv`` with the error and
the traceback; they are not run again unless ``--retry-failed`` is given. Both tables are
replaced atomically, so an interrupted sweep never leaves a torn file. Changing anything that
defines a point (function, base config, fixed overrides or parameters, seed) changes its id, so
such points run again.

Grid values are checked when the file is read, on every base configuration of the grid: a path
that names no field, or a value that the configuration refuses on its own, raises
:class:`SweepSpecError` naming the grid key. Values that only contradict each other
(``w_min > w_max``) fail as points.

Importing this package does not import Dask or pandas.
"""

from .overrides import apply_overrides, make_base_config
from .runner import SweepReport, make_cluster, run_point, run_sweep
from .spec import SweepPoint, SweepSpec, SweepSpecError, load_function, load_spec, parse_spec

__all__ = [
    "apply_overrides",
    "make_base_config",
    "load_spec",
    "parse_spec",
    "load_function",
    "run_sweep",
    "run_point",
    "make_cluster",
    "SweepSpec",
    "SweepPoint",
    "SweepReport",
    "SweepSpecError",
]
