"""Run the GPU backend's CUDA source on the CPU: a kernel runtime for machines without a GPU.

``HostRuntime`` has the interface of ``rpu.gpu._runtime.CupyRuntime`` (``xp``, ``kernel``,
``name``). Its ``xp`` is NumPy dressed as CuPy (``device_xp``): arrays made by it are
``DeviceArray`` (an ndarray subclass with CuPy's ``get()``), and mixing them with plain NumPy
arrays in one operation raises ``TypeError``, as CuPy does -- so a ``np.zeros`` where the backend
needed ``xp.zeros`` fails here as it would on a GPU, instead of passing silently. It compiles the exact RawModule text of
``rpu.gpu._source.module_source()`` with the host C++ compiler, behind a small shim that gives the
CUDA vocabulary a CPU meaning, and runs each launch like this:

- blocks one after the other; the threads of a block as fibers (ucontext) on one OS thread, each
  running until it finishes or reaches ``__syncthreads()``, where it waits for the others -- so
  block-wide barriers and static ``__shared__`` arrays (one instance per kernel, which is one per
  block because blocks do not overlap) behave as on a GPU;
- arguments are checked against the kernel's C++ parameter list before the launch: their number,
  their kind (pointer, signed or unsigned integer, floating point) and size, and for pointers the
  element size of the array passed. A mismatch that a real launch would turn into garbage or an
  illegal address raises ``TypeError`` here instead.

The compiler flags are the CPU core's (-ffp-contract=off, no fast-math), so an emulated kernel that
does the core's arithmetic in the core's order gives the core's bits. What the emulation cannot
show: races between threads (fibers never interleave inside a barrier interval), and the last bits
of the GPU's transcendental functions. Those need the real device (``gpu_runtime`` param "cuda").

The compiled library is cached by source hash under the system's temporary directory.
"""
import ctypes
import hashlib
import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from rpu.gpu import _source

_SHIM = r"""
// ---- CUDA vocabulary on the host (tests/cuda_host.py) ----
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>
#include <type_traits>
#include <utility>
struct rpu_emu_dim3 { unsigned int x, y, z; };
static rpu_emu_dim3 threadIdx, blockIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static
static void rpu_emu_sync();
#define __syncthreads() rpu_emu_sync()
static inline int atomicAdd(int *a, int v) { int o = *a; *a = o + v; return o; }
static inline unsigned int atomicAdd(unsigned int *a, unsigned int v) { unsigned int o = *a; *a = o + v; return o; }
static inline unsigned long long atomicAdd(unsigned long long *a, unsigned long long v) { unsigned long long o = *a; *a = o + v; return o; }
static inline float atomicAdd(float *a, float v) { float o = *a; *a = o + v; return o; }
static inline double atomicAdd(double *a, double v) { double o = *a; *a = o + v; return o; }
static inline int atomicOr(int *a, int v) { int o = *a; *a = o | v; return o; }
static inline int atomicMax(int *a, int v) { int o = *a; *a = o > v ? o : v; return o; }
static inline int atomicMin(int *a, int v) { int o = *a; *a = o < v ? o : v; return o; }
// ---- end of shim ----
"""

_LAUNCHER = r"""
// ---- the host launcher (tests/cuda_host.py) ----
namespace rpu_emu {
struct Fiber { ucontext_t ctx; int state; };  // 0 runnable, 1 at barrier, 2 done
static ucontext_t scheduler;
static Fiber *fibers = 0;
static char *stacks = 0;
static size_t n_fibers = 0, capacity = 0, current = 0;
static const size_t stack_size = 256 * 1024;
static void (*body)(void *) = 0;
static void *body_arg = 0;

static void fiber_main() {
  body(body_arg);
  fibers[current].state = 2;
  swapcontext(&fibers[current].ctx, &scheduler);
}

template <typename... A>
struct Call {
  void (*kernel)(A...);
  void **args;
  template <size_t... I>
  void run(std::index_sequence<I...>) {
    kernel(*static_cast<typename std::remove_reference<A>::type *>(args[I])...);
  }
  static void entry(void *self) { static_cast<Call *>(self)->run(std::index_sequence_for<A...>{}); }
};

template <typename A> constexpr char kind() {
  return std::is_pointer<A>::value ? 'p'
         : std::is_floating_point<A>::value ? 'f'
         : std::is_signed<A>::value ? 'i' : 'u';
}
template <typename A> constexpr int size() {
  // pointers: the size of what they point at (1 for void)
  typedef typename std::remove_cv<typename std::remove_pointer<A>::type>::type P;
  return std::is_pointer<A>::value ? (std::is_void<P>::value ? 1 : (int)sizeof(typename std::conditional<std::is_void<P>::value, char, P>::type))
                                   : (int)sizeof(A);
}

// Returns 0, or writes a message to err and returns 1.
template <typename... A>
static int launch(void (*kernel)(A...), const unsigned int *grid, const unsigned int *block,
                  void **args, int n_args, const char *kinds, const int *sizes, char *err,
                  size_t err_len) {
  const int n = (int)sizeof...(A);
  if (n_args != n) { snprintf(err, err_len, "the kernel takes %d arguments, got %d", n, n_args); return 1; }
  const char want_kind[] = {kind<A>()..., 0};
  const int want_size[] = {size<A>()..., 0};
  for (int k = 0; k < n; ++k) {
    if (kinds[k] != want_kind[k] || (sizes[k] != want_size[k] && !(kinds[k] == 'p' && sizes[k] == 0))) {
      snprintf(err, err_len, "argument %d: the kernel expects %s of size %d, got %s of size %d", k,
               want_kind[k] == 'p' ? "a pointer to elements" : want_kind[k] == 'f' ? "a float"
               : want_kind[k] == 'i' ? "a signed integer" : "an unsigned integer", want_size[k],
               kinds[k] == 'p' ? "an array of itemsize" : kinds[k] == 'f' ? "a float"
               : kinds[k] == 'i' ? "a signed integer" : "an unsigned integer", sizes[k]);
      return 1;
    }
  }
  size_t per_block = (size_t)block[0] * block[1] * block[2];
  if (per_block == 0 || per_block > 1024) { snprintf(err, err_len, "block size %zu is not in [1, 1024]", per_block); return 1; }
  if (per_block > capacity) {
    free(fibers); free(stacks);
    fibers = (Fiber *)calloc(per_block, sizeof(Fiber));
    stacks = (char *)malloc(per_block * stack_size);
    if (!fibers || !stacks) { snprintf(err, err_len, "out of memory for %zu fibers", per_block); capacity = 0; return 1; }
    capacity = per_block;
  }
  Call<A...> call = {kernel, args};
  body = &Call<A...>::entry;
  body_arg = &call;
  gridDim = {grid[0], grid[1], grid[2]};
  blockDim = {block[0], block[1], block[2]};
  n_fibers = per_block;
  for (unsigned int bz = 0; bz < grid[2]; ++bz)
    for (unsigned int by = 0; by < grid[1]; ++by)
      for (unsigned int bx = 0; bx < grid[0]; ++bx) {
        for (size_t t = 0; t < per_block; ++t) {
          Fiber &f = fibers[t];
          getcontext(&f.ctx);
          f.ctx.uc_stack.ss_sp = stacks + t * stack_size;
          f.ctx.uc_stack.ss_size = stack_size;
          f.ctx.uc_link = 0;
          makecontext(&f.ctx, fiber_main, 0);
          f.state = 0;
        }
        size_t done = 0;
        while (done < per_block) {
          // one round: every runnable fiber runs to the next barrier or to its end
          for (size_t t = 0; t < per_block; ++t) {
            if (fibers[t].state != 0) continue;
            current = t;
            blockIdx = {bx, by, bz};
            threadIdx = {(unsigned int)(t % block[0]), (unsigned int)((t / block[0]) % block[1]),
                         (unsigned int)(t / ((size_t)block[0] * block[1]))};
            swapcontext(&scheduler, &fibers[t].ctx);
          }
          done = 0;
          size_t waiting = 0;
          for (size_t t = 0; t < per_block; ++t) {
            done += fibers[t].state == 2;
            waiting += fibers[t].state == 1;
          }
          if (waiting > 0 && done > 0) {
            snprintf(err, err_len, "block (%u, %u, %u): %zu threads wait at __syncthreads() while %zu have returned (a barrier inside a branch or after an early return)",
                     bx, by, bz, waiting, done);
            return 1;
          }
          for (size_t t = 0; t < per_block; ++t)
            if (fibers[t].state == 1) fibers[t].state = 0;
        }
      }
  return 0;
}
}  // namespace rpu_emu

static void rpu_emu_sync() {
  rpu_emu::fibers[rpu_emu::current].state = 1;
  swapcontext(&rpu_emu::fibers[rpu_emu::current].ctx, &rpu_emu::scheduler);
}
"""


def _wrapper_source(names):
    lines = []
    for k, expr in enumerate(names):
        lines.append(
            f'extern "C" int rpu_emu_launch_{k}(const unsigned int *g, const unsigned int *b, '
            f'void **a, int n, const char *kinds, const int *sizes, char *err, size_t len) '
            f'{{ return rpu_emu::launch(&{expr}, g, b, a, n, kinds, sizes, err, len); }}')
    return "\n".join(lines) + "\n"


def host_source(extra_source="", extra_names=()):
    """The complete host C++ text: shim, the RawModule source (plus ``extra_source``), the
    launcher and one extern "C" entry per name expression of ``rpu.gpu._source`` (plus
    ``extra_names``)."""
    return (_SHIM + _source.module_source() + "\n" + extra_source + "\n" + _LAUNCHER
            + _wrapper_source(list(_source.name_expressions()) + list(extra_names)))


def _compile(text):
    # RPU_CUDA_HOST_SANITIZE=1 (the CI sanitizer job) builds the kernels with AddressSanitizer
    # and UBSan: a kernel that reads or writes outside its arrays -- an illegal address on a
    # GPU -- aborts the test run here.
    sanitize = os.environ.get("RPU_CUDA_HOST_SANITIZE", "") not in ("", "0")
    flags = ["-std=c++17", "-O1", "-ffp-contract=off", "-fno-math-errno", "-fno-trapping-math",
             "-fPIC", "-shared", "-w"]
    if sanitize:
        flags += ["-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                  "-fno-omit-frame-pointer"]
    digest = hashlib.sha256((" ".join(flags) + text).encode()).hexdigest()[:20]
    cache = Path(tempfile.gettempdir()) / f"rpu-cuda-host-{os.getuid()}"
    cache.mkdir(exist_ok=True)
    lib = cache / f"{digest}.so"
    if not lib.exists():
        src = cache / f"{digest}.cpp"
        src.write_text(text)
        tmp = cache / f"{digest}.{os.getpid()}.so"
        cmd = [os.environ.get("CXX", "g++")] + flags + [str(src), "-o", str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError("the host build of the CUDA source failed:\n" + proc.stderr[-6000:])
        os.replace(tmp, lib)  # atomic: a concurrent run sees the whole library or none
    return ctypes.CDLL(str(lib))


def _dims(value, what):
    dims = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
    if not 1 <= len(dims) <= 3 or any(int(v) < 1 for v in dims):
        raise ValueError(f"{what} must be 1 to 3 positive ints, got {value!r}.")
    return (ctypes.c_uint * 3)(*(list(map(int, dims)) + [1] * (3 - len(dims))))


_SCALAR_KINDS = {"f": "f", "i": "i", "u": "u", "b": "u"}


# ----- NumPy dressed as CuPy ----------------------------------------------------------------------
class DeviceArray(np.ndarray):
    """An array "on the device" of the host emulation (see the module docstring)."""

    def get(self):
        """A plain NumPy copy (cupy.ndarray.get)."""
        return np.array(self.view(np.ndarray), copy=True)

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        name = f"{ufunc.__name__}.{method}"
        args = [_unwrap(a, name) for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o, name) for o in out)
        return _wrap(getattr(ufunc, method)(*args, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        return _wrap(func(*_unwrap_tree(args, name), **_unwrap_tree(kwargs, name)))


def _unwrap(a, name):
    if isinstance(a, DeviceArray):
        return a.view(np.ndarray)
    if isinstance(a, np.ndarray):
        raise TypeError(f"{name}: a NumPy (host) array of shape {a.shape} meets device arrays; "
                        f"CuPy refuses this too -- copy it with xp.asarray first.")
    return a


def _unwrap_tree(v, name):
    if isinstance(v, (list, tuple)):
        return type(v)(_unwrap_tree(e, name) for e in v)
    if isinstance(v, dict):
        return {k: _unwrap_tree(e, name) for k, e in v.items()}
    return _unwrap(v, name)


def _wrap(v):
    if isinstance(v, np.ndarray) and not isinstance(v, DeviceArray):
        return v.view(DeviceArray)
    if isinstance(v, tuple):
        return tuple(_wrap(e) for e in v)
    if isinstance(v, list):
        return [_wrap(e) for e in v]
    return v


# NumPy functions that make arrays from nothing or from host data: on CuPy they return device
# arrays, so here they return DeviceArray. Every other function dispatches through DeviceArray.
_MAKERS = ("array", "asarray", "ascontiguousarray", "empty", "empty_like", "zeros", "zeros_like",
           "ones", "ones_like", "full", "full_like", "arange", "linspace", "eye", "identity")


class _DeviceXP:
    """The ``xp`` of HostRuntime: NumPy's namespace, with device-array makers."""

    ndarray = DeviceArray

    def __getattr__(self, name):
        obj = getattr(np, name)
        if name in _MAKERS:
            def make(*args, **kwargs):
                # host inputs are allowed here: this is the host-to-device copy
                args = [a.view(np.ndarray) if isinstance(a, DeviceArray) else a for a in args]
                return _wrap(np.array(obj(*args, **kwargs), copy=True)
                             if name in ("asarray", "ascontiguousarray") else obj(*args, **kwargs))
            return make
        return obj

    def __repr__(self):
        return "<NumPy dressed as CuPy (tests/cuda_host.py)>"


device_xp = _DeviceXP()


class HostKernel:
    """One kernel instantiation, launched on the CPU (see the module docstring)."""

    def __init__(self, lib, index, expr):
        self._fn = getattr(lib, f"rpu_emu_launch_{index}")
        self._fn.restype = ctypes.c_int
        self.expr = expr

    def __call__(self, grid, block, args, shared_mem=0):
        if shared_mem:
            raise ValueError("the host runtime supports static __shared__ arrays only.")
        args = tuple(args)
        n = len(args)
        holders, kinds, sizes = [], [], []
        for k, a in enumerate(args):
            if a is None:
                holders.append(ctypes.c_void_p(0))
                kinds.append("p")
                sizes.append(0)
            elif isinstance(a, np.ndarray):
                if not isinstance(a, DeviceArray):
                    raise TypeError(f"{self.expr}: argument {k} is a NumPy (host) array; a kernel "
                                    f"needs device arrays (xp.asarray).")
                if not a.flags.c_contiguous:
                    raise TypeError(f"{self.expr}: argument {k} is a non-contiguous array; kernels "
                                    f"index raw memory, pass a C-contiguous one.")
                holders.append(ctypes.c_void_p(a.ctypes.data))
                kinds.append("p")
                sizes.append(a.itemsize)
            elif isinstance(a, np.generic) and a.dtype.kind in _SCALAR_KINDS:
                holders.append(ctypes.create_string_buffer(a.tobytes(), a.itemsize))
                kinds.append(_SCALAR_KINDS[a.dtype.kind])
                sizes.append(a.itemsize)
            else:
                raise TypeError(f"{self.expr}: argument {k} is {type(a).__name__}; pass an array, "
                                f"None or a NumPy scalar of the parameter's exact C type.")
        # like cuLaunchKernel's kernelParams: the address of each argument's value
        ptrs = (ctypes.c_void_p * max(n, 1))(*[ctypes.addressof(h) for h in holders])
        err = ctypes.create_string_buffer(512)
        rc = self._fn(_dims(grid, "grid"), _dims(block, "block"), ptrs, ctypes.c_int(n),
                      ctypes.c_char_p("".join(kinds).encode()), (ctypes.c_int * max(n, 1))(*sizes),
                      err, ctypes.c_size_t(len(err)))
        if rc != 0:
            raise TypeError(f"{self.expr}: {err.value.decode()}.")


class HostRuntime:
    """The kernel runtime of the GPU backend, on the CPU (``xp = numpy``)."""

    name = "host emulation of the CUDA kernels"
    xp = device_xp

    def __init__(self, extra_source="", extra_names=()):
        # extra_source/extra_names: more kernels, for the emulator's own tests
        names = list(_source.name_expressions()) + list(extra_names)
        lib = _compile(host_source(extra_source, extra_names))
        self._kernels = {expr: HostKernel(lib, k, expr) for k, expr in enumerate(names)}

    def kernel(self, name, dtype):
        ctype = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}[np.dtype(dtype)]
        try:
            return self._kernels[f"{name}<{ctype}>"]
        except KeyError:
            raise KeyError(f"no kernel {name}<{ctype}> in rpu.gpu._source.name_expressions()") from None


_HOST = None


def host_runtime():
    """The process's HostRuntime (compiled once)."""
    global _HOST
    if _HOST is None:
        _HOST = HostRuntime()
    return _HOST


def cuda_available():
    from rpu.gpu import is_available
    return is_available()


@pytest.fixture(params=["host", "cuda"], scope="session")
def gpu_runtime(request):
    """The GPU backend's kernel runtime: the host emulation always, CuPy on a CUDA device when
    there is one (skipped otherwise)."""
    if request.param == "host":
        return host_runtime()
    if not cuda_available():
        pytest.skip("no CUDA device with CuPy on this machine")
    from rpu.gpu._runtime import cuda_runtime
    return cuda_runtime()


def to_host(a):
    """A plain NumPy copy of an array of either runtime (or of a NumPy array)."""
    if hasattr(a, "get"):
        return a.get()
    return np.array(a, copy=True)


@pytest.fixture
def backend(gpu_runtime):
    """A CudaBackend on each kernel runtime of ``gpu_runtime``."""
    from rpu.gpu import CudaBackend
    return CudaBackend(gpu_runtime)


def exact_results(backend):
    """Whether results must be bit-equal (host emulation) rather than float-close (a GPU)."""
    return isinstance(backend.runtime, HostRuntime)


def assert_same(backend, got, want, rtol=1e-6, atol=1e-7):
    """GPU-backend results against host ones: bit-equal on the emulation, close on a GPU."""
    got = to_host(got)
    assert isinstance(want, np.ndarray) or np.isscalar(want)
    if exact_results(backend):
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def kernel_names_in(text):
    """The kernel names a .cu text defines (for tests that check the name lists)."""
    return re.findall(r"__global__\s+void\s+(\w+)\s*\(", text)
