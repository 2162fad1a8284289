"""The CUDA backend, in two parts so that only a GPU run needs CuPy:

- ``_glue.py``: the contract's functions written once against an array namespace and a
  kernel runner; it imports nothing from CuPy, so the tests run it on the host.
- ``gpu.py``: the backend module on a real GPU (CuPy arrays, NVRTC-compiled
  ``kernels/*.cu``); imported by ``minigrad.backend.for_device("cuda")`` on first use.

Importing this package imports neither.
"""
