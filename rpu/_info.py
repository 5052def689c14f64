"""What this installation of rpu is: versions, build options, backends, threads and BLAS."""
import platform
import sys


def info():
    """Return a dict describing the installation (used by ``rpu info`` and ``show_config``)."""
    import numpy as np
    import scipy

    from rpu import _core, _threads
    from rpu._version import __version__
    from rpu.backends import gpu_available

    try:
        from rpu import _build_info
        build_openmp = _build_info.OPENMP
    except ImportError:  # an in-place build made before setup.py wrote the file
        build_openmp = None
    blas = []
    try:
        from threadpoolctl import threadpool_info
        blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads, "
                f"{p.get('filepath')})" for p in threadpool_info() if p.get("user_api") == "blas"]
    except ImportError:
        blas = ["threadpoolctl not installed"]
    return {
        "rpu": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "openmp": _core.openmp_enabled(),
        "openmp_build_flag": build_openmp,
        "threads": _threads.effective_n_threads(),
        "cpus": _threads.cpu_count(),
        "backends": ["cpu"] + (["cuda"] if gpu_available() else []),
        "blas": blas,
        "optional": _optional_packages(),
    }


#: Optional packages and what rpu uses them for (read from their metadata, never imported).
OPTIONAL = {"matplotlib": "rpu plot, demo.png", "dask": "rpu sweep", "distributed": "rpu sweep",
            "torch": "rpu.adapters.torch", "jax": "rpu.adapters.jax", "cupy": "GPU",
            "cuda-bindings": "NVRTC compile test"}


def _optional_packages():
    from importlib import metadata
    found = []
    for name, use in OPTIONAL.items():
        try:
            found.append(f"{name} {metadata.version(name)} ({use})")
        except metadata.PackageNotFoundError:
            pass
    return found


def show_config():
    """Print the installation facts of :func:`info`, one per line."""
    facts = info()
    if facts["openmp"]:
        facts["openmp"] = f"yes (compiled with OpenMP; {facts['threads']} threads in use)"
    else:
        facts["openmp"] = "no (built without OpenMP: the core runs single-threaded)"
    for key, value in facts.items():
        if key == "openmp_build_flag":
            continue
        if isinstance(value, list):
            value = "; ".join(value) if value else "none found"
        print(f"{key:>10}: {value}")
