"""Compiled Cython/OpenMP kernels. Use them through ``minigrad.backend``, never directly:
the backend layer owns shapes, strides and dtype policy and hands kernels contiguous buffers."""
