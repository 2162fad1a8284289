"""Rank 1 raises while the others wait in a collective: the job must end, not hang.

    mpiexec -n 3 python tests/mpi_scripts/abort_check.py
"""
import numpy as np

import minigrad as mg
import minigrad.distributed as dist

dist.init()
if dist.get_rank() == 1:
    raise ValueError("boom on rank 1")
dist.all_reduce(mg.tensor(np.ones(3)))    # never completes: rank 1 is gone
print("unreachable: the collective completed", flush=True)
