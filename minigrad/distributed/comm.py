"""The process group: MPI's COMM_WORLD, or a world of one process when there is no launcher.

``init()`` (or PyTorch's ``init_process_group``) imports mpi4py (which initializes MPI)
and installs an excepthook that aborts the whole job on an uncaught exception, so a
failure on one rank never leaves the others waiting forever in a collective. Without
mpi4py, or before ``init()``, the world is this one process: ``get_world_size()`` is 1
and every collective is the identity. (PyTorch raises instead where no process group was
initialized; minigrad lets the same script run without a launcher.)

The array-level collectives here work in place on NumPy buffers; the tensor-level ones
with PyTorch's names are in ``collectives.py``, the differentiable ``all_reduce`` in
``nn/functional.py``.
"""
import importlib.util
import os
import sys
import time
import traceback

import numpy as np

from minigrad.errors import InvalidArgument

_state = {"comm": None, "MPI": None, "rank": 0, "size": 1, "hook": None, "group": False}


class stats:
    """Time spent inside MPI collectives (waiting for slower ranks included), for
    benchmarks: ``stats.seconds`` and ``stats.calls`` since the last ``stats.reset()``."""
    seconds = 0.0
    calls = 0

    @classmethod
    def reset(cls):
        cls.seconds, cls.calls = 0.0, 0


# launchers set one of these; with one of them > 1 and no mpi4py we must not go on alone
_LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


def init():
    """Join the MPI job (idempotent). Returns nothing; see ``get_rank``/``get_world_size``."""
    if _state["comm"] is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError:
        if any(int(os.environ.get(k, "1")) > 1 for k in _LAUNCHER_SIZES):
            raise ImportError("minigrad.distributed.init: launched by mpiexec but mpi4py is "
                              "not installed; pip install 'minigrad[mpi]'") from None
        _state["comm"] = False  # a world of one process
        return
    comm = MPI.COMM_WORLD
    _state.update(comm=comm, MPI=MPI, rank=comm.Get_rank(), size=comm.Get_size())
    if _state["size"] > 1 and sys.excepthook is not _abort_on_exception:
        _state["hook"] = sys.excepthook
        sys.excepthook = _abort_on_exception


# the names PyTorch's backends go by; "gloo" runs its CPU collectives through MPI here
_BACKENDS = ("mpi", "gloo")


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """PyTorch's ``torch.distributed.init_process_group`` on MPI: join the job started by
    ``mpiexec -n N python script.py``; rank and world size come from MPI.

    ``backend`` may be "mpi", "gloo" or None: gloo is PyTorch's library of CPU
    collectives, and the same collectives (sum, product, min, max, average, bitwise) run
    here through MPI with the same results, so a gloo script needs only its launcher
    changed. "nccl" (collectives on GPU memory) and other backends are refused. The
    rendezvous arguments (``init_method``, ``store``) are not needed with MPI's launcher
    and are ignored; ``world_size`` and ``rank``, where given, must be MPI's. ``timeout``
    is accepted: MPI collectives have no timeout (a rank that raises ends the job instead).
    Initializing twice without ``destroy_process_group`` is an error, as in PyTorch.
    """
    if _state["group"]:
        raise ValueError("trying to initialize the default process group twice!")
    name = "gloo" if backend is None else str(backend).lower()
    if name not in _BACKENDS:
        raise ValueError(f"init_process_group: backend {backend!r} is not available in "
                         f"minigrad, which runs collectives through MPI on CPU memory; use "
                         f"backend='mpi' (or 'gloo', PyTorch's CPU backend, which maps to it) "
                         f"and launch with `mpiexec -n N python script.py`")
    if device_id is not None and str(device_id) != "cpu":
        raise ValueError(f"init_process_group: device_id={device_id!r}: minigrad's "
                         f"collectives run on CPU memory")
    joined_before = _state["comm"] is not None
    init()
    for what, given, actual in (("world_size", world_size, _state["size"]),
                                ("rank", rank, _state["rank"])):
        if given is not None and given != -1 and int(given) != actual:
            if not joined_before:
                _leave()
            raise ValueError(f"init_process_group: {what}={given}, but MPI's is {actual}; "
                             f"with MPI the launcher decides (mpiexec -n N)")
    _state["group"] = True


def destroy_process_group(group=None):
    """Leave the process group: ``is_initialized()`` is False again and the world is one
    process until the next ``init_process_group``. (MPI itself stays initialized: it can
    be initialized once per process, and mpi4py finalizes it at exit.)"""
    if group is not None:
        raise ValueError("destroy_process_group: minigrad has one process group; pass None")
    if _state["comm"] is None:
        raise ValueError("Default process group has not been initialized, please make sure "
                         "to call init_process_group.")
    _leave()


def _leave():
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _state["hook"] or sys.__excepthook__
    _state.update(comm=None, MPI=None, rank=0, size=1, hook=None, group=False)


def is_available():
    """True when processes can be joined (mpi4py is installed); without it a script runs
    as a world of one process."""
    return importlib.util.find_spec("mpi4py") is not None


def get_backend(group=None):
    """"mpi": the backend that runs the collectives."""
    if _state["comm"] is None:
        raise ValueError("Default process group has not been initialized, please make sure "
                         "to call init_process_group.")
    return "mpi"


def _abort_on_exception(kind, value, tb):
    """Show the traceback, then end every rank (as ``python -m mpi4py`` does)."""
    rank = _state["rank"]
    sys.stderr.write(f"[rank {rank}] uncaught exception; aborting the MPI job\n")
    sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
    sys.stderr.flush()
    _state["comm"].Abort(1)


def is_initialized():
    return _state["comm"] is not None


def get_rank(group=None):
    """This process's rank (0 before ``init``)."""
    return _state["rank"]


def get_world_size(group=None):
    """The number of processes (1 before ``init``)."""
    return _state["size"]


def _comm():
    return _state["comm"] if _state["size"] > 1 else None


def _timed(call, *args, **kwargs):
    start = time.perf_counter()
    call(*args, **kwargs)
    stats.seconds += time.perf_counter() - start
    stats.calls += 1


def allreduce_array_(a, op="SUM"):
    """Reduce the NumPy array ``a`` (C-contiguous) over ranks with MPI's ``op`` ("SUM",
    "PROD", "MIN", "MAX", "BAND", "BOR", "BXOR"), in place, with no pickling."""
    comm = _comm()
    if comm is None:
        return a
    if not (isinstance(a, np.ndarray) and a.flags.c_contiguous):
        raise InvalidArgument("all_reduce: needs a C-contiguous NumPy buffer (MPI works on "
                              "host memory here)")
    _timed(comm.Allreduce, _state["MPI"].IN_PLACE, a, op=getattr(_state["MPI"], op))
    return a


def broadcast_array_(a, src=0):
    comm = _comm()
    if comm is not None:
        comm.Bcast(a, root=src)
    return a


def allgather_array(a):
    """Every rank's ``a`` (C-contiguous NumPy, the same shape and dtype on every rank),
    stacked along a new first axis, on every rank."""
    out = np.empty((get_world_size(),) + a.shape, a.dtype)
    comm = _comm()
    if comm is None:
        out[0] = a
    else:
        _timed(comm.Allgather, a, out)
    return out


def barrier_():
    comm = _comm()
    if comm is not None:
        _timed(comm.Barrier)
