"""Scalar primitives that let the compiled loops reproduce numpy's reference loop bit for bit.

The paper's loop computes dot products with ``x @ y`` and squares with ``r**2`` on numpy scalars.
Two details decide whether a compiled loop gives the *same* floats:

* ``x @ y`` is BLAS ``ddot``, whose summation order (SIMD lanes, unrolling) differs from a plain
  loop; a loop sum drifts ~1e-10 relative on the loss within 1000 iterations. So :func:`dot` calls
  the very ``ddot`` that numpy is linked against, looked up in numpy's own BLAS library.
* ``r**2`` on a numpy float64 is libm ``pow(r, 2.0)``, which differs from the correctly rounded
  ``r*r`` in ~0.1% of cases. LLVM folds ``pow(r, 2.0)`` into ``r*r`` when the exponent is a
  compile-time constant, so the kernels take the exponent as a run-time argument (:data:`TWO`).

If numpy's ``ddot`` cannot be found (an unusual BLAS build), :func:`dot` falls back to a loop
sum and :data:`BITWISE` is False: results then agree with the reference to ~1e-9, not exactly.
"""

from __future__ import annotations

import ctypes
import warnings
from pathlib import Path

import numpy as np
from numba import njit, types

TWO = 2.0  # pass to kernels as a run-time value: see the module docstring

# (symbol, integer width) of the CBLAS ddot entry points numpy wheels and distributions use.
_CANDIDATES = (
    ("scipy_cblas_ddot64_", 64),  # numpy wheels: scipy-openblas64, ILP64
    ("scipy_cblas_ddot", 32),
    ("cblas_ddot64_", 64),
    ("cblas_ddot", 32),
)


def _agrees_with_numpy(fn: ctypes._CFuncPtr) -> bool:
    rs = np.random.RandomState(0)
    for n in (1, 7, 100, 1001):
        a, b = rs.randn(n) * 1e3, rs.randn(n)
        if fn(n, a.ctypes.data, 1, b.ctypes.data, 1) != float(a @ b):
            return False
    return True


def _find_numpy_ddot() -> tuple[str, int] | None:
    """(symbol, int width) of numpy's own ddot, after making it linkable by name for numba."""
    try:
        import llvmlite.binding as llvm
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    # numpy's own library first, whatever was imported before: scipy ships another OpenBLAS
    # with a 32-bit ddot, and numba's cache (keyed by source, not by symbol) must always find
    # the symbol it was compiled against — a cache built with the other one segfaults.
    numpy_dir = str(Path(np.__file__).resolve().parent.parent)
    libs = sorted((lib for lib in threadpool_info() if lib.get("user_api") == "blas"),
                  key=lambda lib: not str(Path(lib["filepath"]).resolve()).startswith(
                      (f"{numpy_dir}/numpy.libs", f"{numpy_dir}/numpy/")))
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib["filepath"])
        except OSError:
            continue
        for symbol, width in _CANDIDATES:
            fn = getattr(handle, symbol, None)
            if fn is None:
                continue
            int_t = ctypes.c_int64 if width == 64 else ctypes.c_int32
            fn.argtypes = [int_t, ctypes.c_void_p, int_t, ctypes.c_void_p, int_t]
            fn.restype = ctypes.c_double
            if _agrees_with_numpy(fn):
                llvm.load_library_permanently(lib["filepath"])
                return symbol, width
    return None


_FOUND = _find_numpy_ddot()
BITWISE = _FOUND is not None

if _FOUND is not None:
    _int = types.int64 if _FOUND[1] == 64 else types.int32
    _ptr = types.CPointer(types.float64)
    _ddot = types.ExternalFunction(_FOUND[0], types.float64(_int, _ptr, _int, _ptr, _int))

    @njit(cache=True, nogil=True)
    def dot(a: np.ndarray, b: np.ndarray) -> float:
        """``a @ b`` for contiguous float64 vectors, through numpy's own BLAS ddot."""
        return _ddot(a.size, a.ctypes, 1, b.ctypes, 1)

else:
    warnings.warn(
        "numpy's BLAS ddot was not found; the fast toy loops agree with the reference loop "
        "to ~1e-9 relative instead of bit for bit",
        RuntimeWarning,
        stacklevel=2,
    )

    @njit(cache=True, nogil=True)
    def dot(a: np.ndarray, b: np.ndarray) -> float:
        s = 0.0
        for i in range(a.size):
            s += a[i] * b[i]
        return s
