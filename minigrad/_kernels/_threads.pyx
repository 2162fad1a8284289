# cython: language_level=3
"""The one thread pool: how a kernel splits its work, and how many threads run it.

Every kernel module asks ``threads_for(work)`` how many pieces to split a loop into, so
the count is process-wide (``omp_set_num_threads`` alone would only set the calling OS
thread's value, and kernels run from another Python thread would ignore it), and small
work stays serial: waking a team costs microseconds, more than a pass over a few thousand
elements. BLAS runs single-threaded inside these threads (see ``minigrad.backend.cpu``).

How many threads *run* those pieces is ``team(pieces)``, which adapts to the machine. A
parallel region ends at a barrier, so when another process takes a core, a descheduled
thread stalls the whole team for a time slice, and a team of two on a busy two-core
machine runs several times slower than one thread would. The signal is the process's
involuntary context switches (``getrusage``): the kernel preempts our threads only when
some other thread wanted their core. Counted over windows of WINDOW seconds, more than
RATE per second per running thread make a window contended (measured on a 2-core VM with
a team of two, in 100 ms windows: 20-78/s idle, 100-260/s with one or two busy processes,
and 100-270/s for a single thread there). STREAK contended windows in a row halve the
team (down to one thread); it grows back (doubling) after a window without contention,
at most once per back-off period. A grown team that meets contention in its first window
is halved at once, and the back-off doubles (HOLD_MIN up to HOLD_MAX), so on a machine
that stays busy the probing costs one window in HOLD_MAX; the back-off resets after a
clean window at full strength. On an idle
machine nothing changes; the cost is one clock read per parallel region and one getrusage
per window. Results never depend on it: the split (``threads_for``) stays what the thread
count says, and only the number of threads working through the pieces changes.
``MINIGRAD_ADAPTIVE_THREADS=0`` turns it off.
"""
import os

from posix.resource cimport RUSAGE_SELF, getrusage, rusage
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from minigrad._kernels._omp cimport MG_OPENMP, omp_get_max_threads, omp_set_num_threads

# Elements (or flop-equivalents) worth one thread: below 2 * GRAIN a loop runs serially.
# PyTorch's grain size for elementwise loops is of the same order (32768).
cdef enum:
    GRAIN = 32768

# More than this many threads is certainly a mistake: libgomp reserves a stack per thread
# and dies (SIGSEGV) somewhere above tens of thousands of them.
MAX_THREADS = 1024

# The adaptive team (see the module docstring): seconds, and switches per second per
# running thread.
cdef double WINDOW = 0.1
cdef double RATE = 40.0
cdef int STREAK = 2
cdef double HOLD_MIN = 0.2
cdef double HOLD_MAX = 6.4

cdef int _num_threads = max(1, omp_get_max_threads())
# GNU libgomp's thread pool does not survive fork(): a child that opens a parallel region
# with more than one thread waits forever for workers that exist only in the parent. So a
# forked child (multiprocessing workers, DataLoader-style) runs every kernel on one thread,
# as PyTorch's intra-op pool does after fork.
cdef bint _forked = False

cdef bint _adaptive = os.environ.get("MINIGRAD_ADAPTIVE_THREADS", "1") not in ("0", "")
cdef int _team = _num_threads       # threads that run a split, at most _num_threads
cdef double _window_start = -1.0    # (no window yet)
cdef long _window_switches = 0
cdef double _grow_after = 0.0       # the team does not grow before this time
cdef double _hold = HOLD_MIN
cdef int _streak = 0                # contended windows in a row
cdef bint _probation = False        # the team grew, and has not had a clean window since
cdef long _windows = 0, _contended = 0, _shrinks = 0   # counters, for adaptive_state()


cdef int threads_for(Py_ssize_t work) noexcept nogil:
    """Pieces to split a loop over ``work`` elements into: 1 below 2 * GRAIN, then one per
    GRAIN, at most the process-wide thread count; always 1 in a forked child."""
    cdef Py_ssize_t n = work // GRAIN
    if n <= 1 or _forked:
        return 1
    return <int>min(n, <Py_ssize_t>_num_threads)


cdef int team(int pieces) noexcept nogil:
    """Threads to run a loop split into ``pieces`` (``num_threads=`` of its prange)."""
    if pieces <= 1:
        return 1
    if _adaptive:
        _tick(_now())
    return min(pieces, _team)


cdef inline double _now() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec + 1e-9 * ts.tv_nsec


cdef inline void _tick(double now) noexcept nogil:
    cdef rusage usage
    if now - _window_start < WINDOW:
        return
    getrusage(RUSAGE_SELF, &usage)
    _end_window(now, usage.ru_nivcsw)


cdef void _end_window(double now, long switches) noexcept nogil:
    """Close the window that started at ``_window_start`` with ``switches`` involuntary
    context switches counted so far; adjust the team; open the next window."""
    global _team, _window_start, _window_switches, _grow_after, _hold, _streak, _probation
    global _windows, _contended, _shrinks
    cdef long n = switches - _window_switches
    cdef double span = now - _window_start
    if _window_start >= 0:
        _windows += 1
        if n >= RATE * _team * span:
            _contended += 1
            _streak += 1
            if (_streak >= STREAK or _probation) and _team > 1:
                _team = max(1, _team // 2)
                _shrinks += 1
                _streak = 0
                _probation = False
                _grow_after = now + _hold
                _hold = min(2 * _hold, HOLD_MAX)
        else:
            _streak = 0
            _probation = False
            if _team < _num_threads:
                if now >= _grow_after:
                    _team = min(_num_threads, 2 * _team)
                    _probation = True
            else:
                _hold = HOLD_MIN
    _window_start = now
    _window_switches = switches


def _after_fork_in_child():
    global _forked
    _forked = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_child():
    """True in a process forked from one that had loaded the kernels (kernels run serially)."""
    return bool(_forked)


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(MG_OPENMP)


def get_num_threads():
    return 1 if _forked or not MG_OPENMP else _num_threads


def set_num_threads(n):
    global _num_threads, _team
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"set_num_threads: expected an int, got {type(n).__name__}")
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"set_num_threads: expected a thread count between 1 and "
                         f"{MAX_THREADS}, got {n}")
    _num_threads = n
    _team = n
    omp_set_num_threads(n)


def grain():
    return GRAIN


def team_size(int pieces):
    """``team(pieces)`` from Python: the threads that run a split into ``pieces`` now."""
    cdef int n
    with nogil:
        n = team(pieces)
    return n


def adaptive_state():
    """The adaptive team's state: whether it is on, the current team, and how many windows
    were measured, found contended, and shrank the team."""
    return {"adaptive": bool(_adaptive), "team": _team, "threads": _num_threads,
            "windows": _windows, "contended": _contended, "shrinks": _shrinks,
            "hold_s": _hold}


def set_adaptive(bint on):
    """Turn the adaptive team on or off (off: every split runs on the full thread count)."""
    global _adaptive, _team, _window_start, _hold, _streak, _probation
    _adaptive = on
    _team = _num_threads
    _window_start = -1.0
    _hold = HOLD_MIN
    _streak = 0
    _probation = False


def _pin_team(int n):
    """Fix the team at ``n`` threads with the adaptive rule off (for the tests); undo with
    ``set_adaptive(True)``."""
    global _adaptive, _team
    _adaptive = False
    _team = max(1, min(n, _num_threads))


def _simulate(list windows):
    """Drive the controller with made-up ``(time, cumulative switches)`` window ends, from a
    fresh state, and return the team after each (for the tests; the real clock and
    getrusage are not read). The state is restored afterwards."""
    global _team, _window_start, _window_switches, _grow_after, _hold, _streak, _probation
    global _windows, _contended, _shrinks
    saved = (_team, _window_start, _window_switches, _grow_after, _hold, _streak, _probation,
             _windows, _contended, _shrinks)
    _team, _window_start, _window_switches, _grow_after, _hold, _streak, _probation = \
        _num_threads, -1.0, 0, 0.0, HOLD_MIN, 0, False
    teams = []
    try:
        for now, switches in windows:
            _end_window(now, switches)
            teams.append(_team)
    finally:
        (_team, _window_start, _window_switches, _grow_after, _hold, _streak, _probation,
         _windows, _contended, _shrinks) = saved
    return teams
