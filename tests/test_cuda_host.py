"""The host emulation of the CUDA kernels (tests/cuda_host.py) does what a GPU launch does.

The GPU backend's tests run on it where there is no GPU, so it must itself be right: blocks,
threads and their indices; block-wide barriers and shared arrays; the argument checks; and the
first kernels' draws equal to the CPU core's.
"""
import numpy as np
import pytest

from cuda_host import DeviceArray, HostRuntime, device_xp, host_runtime, kernel_names_in
from rpu import _core
from rpu.gpu import _source

# A block-wide reduction through shared memory (needs working barriers), a kernel that records
# every thread's coordinates, and one whose threads leave before a barrier (a bug to report).
_TEST_KERNELS = r"""
template <typename T>
__global__ void emu_block_sum(const T *x, T *out, long long n) {
  __shared__ T part[256];
  long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  part[threadIdx.x] = i < n ? x[i] : (T)0;
  __syncthreads();
  for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}
template <typename T>
__global__ void emu_coordinates(int *out) {
  int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  int n = blockDim.x * blockDim.y * blockDim.z;
  int *o = out + 6 * (b * n + t);
  o[0] = threadIdx.x; o[1] = threadIdx.y; o[2] = threadIdx.z;
  o[3] = blockIdx.x; o[4] = blockIdx.y; o[5] = blockIdx.z;
}
template <typename T>
__global__ void emu_early_return(T *x) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  x[threadIdx.x] = (T)1;
}
"""
_TEST_NAMES = [f"{k}<{t}>" for k in ("emu_block_sum", "emu_coordinates", "emu_early_return")
               for t in ("float", "double")]


@pytest.fixture(scope="module")
def test_rt():
    return HostRuntime(_TEST_KERNELS, _TEST_NAMES)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_block_reduction_with_barriers(test_rt, dtype):
    x = device_xp.arange(1000, dtype=dtype) % 7
    out = device_xp.zeros(4, dtype=dtype)
    test_rt.kernel("emu_block_sum", dtype)((4,), (256,), (x, out, np.int64(1000)))
    host = x.get()
    ref = [host[256 * b: 256 * (b + 1)].sum() for b in range(4)]
    np.testing.assert_array_equal(out.get(), np.array(ref, dtype=dtype))


def test_every_thread_runs_once_with_its_coordinates(test_rt):
    grid, block = (3, 2, 2), (4, 3, 2)
    n_blocks, n_threads = 12, 24
    out = device_xp.full((n_blocks * n_threads, 6), -1, dtype=np.int32)
    test_rt.kernel("emu_coordinates", np.float32)(grid, block, (out,))
    out = out.get()
    expect = [(tx, ty, tz, bx, by, bz)
              for bz in range(2) for by in range(2) for bx in range(3)
              for tz in range(2) for ty in range(3) for tx in range(4)]
    np.testing.assert_array_equal(out, np.array(expect, dtype=np.int32))


def test_barrier_after_early_return_is_reported(test_rt):
    x = device_xp.zeros(8, dtype=np.float32)
    with pytest.raises(TypeError, match="__syncthreads"):
        test_rt.kernel("emu_early_return", np.float32)((1,), (8,), (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fill", ["uniform", "normal"])
def test_fill_kernels_draw_the_cpu_cores_numbers(dtype, fill):
    rt = host_runtime()
    rows, cols = 37, 53
    out = device_xp.zeros((rows, cols), dtype=dtype)
    rt.kernel(f"rpu_{fill}_fill", dtype)(((rows * cols + 127) // 128,), (128,),
                                         (out, np.int64(rows), np.int64(cols), np.uint64(1234),
                                          np.uint64(7), np.int32(3), np.uint32(2)))
    ref = np.zeros((rows, cols), dtype=dtype)
    getattr(_core, f"{fill}_fill")(ref, 1234, 7, 3, 2, 1)
    np.testing.assert_array_equal(out.get(), ref)


@pytest.mark.parametrize("k, bad, message", [
    (1, 37, "NumPy scalar"),                       # a Python int: its C type is unknown
    (1, np.int32(37), "signed integer of size 8"),  # int where long long is expected
    (0, device_xp.zeros((37, 53), np.float32), "itemsize of size 4"),  # float array for double
    (0, device_xp.zeros((53, 37), np.float64).T, "non-contiguous"),
    (0, np.zeros((37, 53), np.float64), "host"),  # a NumPy array where a device array belongs
    (3, np.int64(1234), "unsigned integer"),
])
def test_launch_checks_the_arguments(k, bad, message):
    rt = host_runtime()
    args = [device_xp.zeros((37, 53), np.float64), np.int64(37), np.int64(53), np.uint64(1234),
            np.uint64(7), np.int32(3), np.uint32(2)]
    with pytest.raises(TypeError, match="takes 7 arguments"):
        rt.kernel("rpu_uniform_fill", np.float64)((16,), (128,), tuple(args[:6]))
    args[k] = bad
    with pytest.raises(TypeError, match=message):
        rt.kernel("rpu_uniform_fill", np.float64)((16,), (128,), tuple(args))


def test_every_kernel_of_the_source_is_exported():
    text = "\n".join((_source._PKG / "gpu" / name).read_text() for name in _source.KERNEL_FILES)
    assert sorted(set(kernel_names_in(text))) == sorted(_source.KERNELS)
    rt = host_runtime()
    for name in _source.KERNELS:
        for dtype in (np.float32, np.float64):
            assert callable(rt.kernel(name, dtype))


def test_device_arrays_refuse_host_arrays_like_cupy():
    a = device_xp.ones((3, 4), dtype=np.float32)
    b = device_xp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert isinstance(a + b, DeviceArray) and isinstance(np.maximum(a, b), DeviceArray)
    assert isinstance(np.concatenate([a, b]), DeviceArray) and isinstance(a.sum(axis=1), DeviceArray)
    assert isinstance(device_xp.matmul(a, b.T), DeviceArray)
    assert type(b.get()) is np.ndarray and b.get()[2, 3] == 11
    assert float(a.sum()) == 12.0 and a * np.float32(2) is not None  # NumPy scalars are fine
    for mixed in (lambda: a + np.ones((3, 4)), lambda: np.concatenate([a, np.ones((3, 4))]),
                  lambda: np.clip(a, np.zeros((3, 4)), 1.0, out=a)):
        with pytest.raises(TypeError, match="host"):
            mixed()
