"""The profiler (PyTorch's ``torch.autograd.profiler``; ``minigrad.profiler`` holds
``torch.profiler``'s names on top of it): where the time and memory of a program go, op
by op, forward and backward apart.

What is recorded, as ranges (``profiler_util.FunctionEvent``) nested by thread:

* every primitive's forward, named as minigrad names the op (``mul``, ``linear``,
  ``channel_moments``, ``conv2d``; PyTorch's rows say ``aten::mul``), with its input shapes
  (``record_shapes``) and the bytes of the arrays it returned that do not share memory
  with an input (``profile_memory``: a view allocates nothing);
* every backward rule the engine runs, named as PyTorch names the node (``MulBackward0``;
  PyTorch's row is ``autograd::engine::evaluate_function: MulBackward0``), with the shapes
  of the gradients it received and the bytes of the gradients it made itself (those made
  by ops it ran are theirs), and ``AccumulateGrad`` where a leaf's ``.grad`` is summed;
* ``record_function("name")`` blocks, and the ranges the library registers
  (``register_ranges``): each ``nn.functional`` call (``F.batch_norm``: the composite
  around its primitives) and ``Optimizer.step#SGD.step``, as PyTorch names its own.

A range's self time (and memory) is its total less its children's. Times leave out the
profiler's own bookkeeping: each hook measures what it spends and moves its thread's
clock back by as much (``_Track``), so a range with many children is not charged for
recording them. Memory is what ops allocate for their results; frees are not counted, so
self memory is never negative (PyTorch's can be).

Cost when no profiler is active: none. The hooks are not tests on the hot path; starting
a profile swaps instrumented versions into the three places everything passes through
(``graph._forward``, which runs every primitive's forward; ``engine._run_rule``, which
runs every backward rule; ``engine._accumulate_leaf``), and into the registered
namespaces, and stopping puts the plain functions back. ``record_function`` tests one
global when nothing records. One profile records at a time, process-wide (a second one
raises), as anomaly mode is process-wide. While recording, the hooks keep no reference
to any array past their own call: the engine decides by reference counts whether it may
take a gradient as ``.grad`` or add into one in place, and a profile must not change that.
"""
import functools
import os
import threading
import time
import traceback

from minigrad import backend
from minigrad.autograd import engine, graph
from minigrad.autograd.anomaly_mode import torch_name
from minigrad.autograd.graph import ADDED
from minigrad.autograd.profiler_util import EventList, FunctionEvent
from minigrad.tensor import Tensor

# the functions a profile replaces, and puts back
_plain_forward = graph._forward
_plain_run_rule = engine._run_rule
_plain_accumulate_leaf = engine._accumulate_leaf

_session = None   # the _Session recording now, or None


def is_profiler_enabled():
    """Whether a profile is recording now (PyTorch's
    ``torch.autograd.profiler._is_profiler_enabled``)."""
    return _session is not None


# ------------------------------------------------------------------ recording
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# frames inside these parts are the profiler and op dispatch, not the caller's code
_INTERNAL = tuple(os.path.join(_PACKAGE, p) for p in ("autograd", "ops", "_tensor",
                                                      "tensor.py", "__init__.py"))


def _caller_stack():
    """The Python stack of the call being recorded, innermost first, without minigrad's
    dispatch frames ("file(line): function", PyTorch's ``with_stack`` entries)."""
    frames = traceback.extract_stack()
    while frames and frames[-1].filename.startswith(_INTERNAL):
        frames.pop()
    return [f"{f.filename}({f.lineno}): {f.name}" for f in reversed(frames)]


class _Track:
    """One thread's part of a recording: its open ranges (innermost last), its id in the
    system (the trace's tid), and its clock's origin. The clock runs from the session's
    start less the time the profiler itself spent on this thread: each hook moves the
    origin on by its own bookkeeping, so that no range, nor its parents, pays for it."""
    __slots__ = ("stack", "tid", "origin")

    def __init__(self, origin):
        self.stack = []
        self.tid = threading.get_native_id()
        self.origin = origin


class _Session:
    """One recording: the events of every thread, in the order they began."""

    def __init__(self, record_shapes, profile_memory, with_stack):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.events = []
        self.tracks = {}   # thread ident -> _Track
        self.t0 = time.perf_counter_ns()

    def begin(self, name, cat, shapes, t_in):
        """Open a range; ``t_in``: the clock when the hook was entered (what it spent since
        is the profiler's)."""
        ident = threading.get_ident()
        track = self.tracks.get(ident)
        if track is None:
            track = self.tracks[ident] = _Track(self.t0)
        stack = track.stack
        e = FunctionEvent(len(self.events), name, cat, track.tid, 0, shapes,
                          _caller_stack() if self.with_stack else [])
        if stack:
            e.cpu_parent = parent = stack[-1]
            parent.cpu_children.append(e)
        self.events.append(e)
        stack.append(e)
        now = time.perf_counter_ns()
        track.origin += now - t_in
        e.start_ns = e.end_ns = now - track.origin
        return e

    def end(self, e):
        """Close ``e``; returns the clock, for ``settle`` once the hook's work after the
        range is done."""
        now = time.perf_counter_ns()
        track = self.tracks.get(threading.get_ident())
        if track is None:          # (a range ended on another thread than it began on)
            e.end_ns = max(e.start_ns, now - self.t0)
            return now
        e.end_ns = now - track.origin
        stack = track.stack
        if stack and stack[-1] is e:
            stack.pop()
        elif e in stack:           # (ranges closed out of order: close the inner ones too)
            del stack[stack.index(e):]
        return now

    def settle(self, t):
        """The profiler's own time since ``t`` (returned by ``end``) is taken off this
        thread's clock."""
        track = self.tracks.get(threading.get_ident())
        if track is not None:
            track.origin += time.perf_counter_ns() - t

    def close_open(self):
        """Close what is still open when the profile stops (a range left by an error)."""
        now = time.perf_counter_ns()
        for track in self.tracks.values():
            for e in track.stack:
                e.end_ns = now - track.origin
            track.stack.clear()


_op_names = {}


def _op_name(op):
    name = _op_names.get(op)
    if name is None:
        name = _op_names[op] = getattr(op, "op_name", op.__name__.lower())
    return name


def _shares(a, b):
    if type(a) is not type(b):
        return False
    may_share = getattr(backend.of(a).xp, "may_share_memory", None)
    return may_share is not None and bool(may_share(a, b))


def _fresh_bytes(arrays, others, made=()):
    """Bytes of ``arrays`` that are new memory: not one of ``made`` (ids of arrays a child
    range returned) and sharing no memory with ``others``."""
    n = 0
    for a in arrays:
        if a is None or a is ADDED or id(a) in made or not hasattr(a, "nbytes"):
            continue
        if any(a is b or getattr(b, "base", None) is a for b in others):
            continue
        # (an array that owns its memory, and is no other's base, shares it with none)
        if getattr(a, "base", 0) is None or not any(_shares(a, b) for b in others):
            n += a.nbytes
    return n


def _profiled_forward(op, ctx, inputs, attrs):
    t_in = time.perf_counter_ns()
    s = _session
    if s is None:   # (a profile stopped while another thread was dispatching)
        return _plain_forward(op, ctx, inputs, attrs)
    e = s.begin(_op_name(op), "cpu_op",
                [list(t.array.shape) for t in inputs] if s.record_shapes else [], t_in)
    try:
        out = _plain_forward(op, ctx, inputs, attrs)
    finally:
        t_end = s.end(e)
    if s.profile_memory:
        outs = out if type(out) is tuple else (out,)
        e.own_memory = _fresh_bytes(outs, [t.array for t in inputs])
        e.out_ids = tuple(id(a) for a in outs)
    s.settle(t_end)
    return out


def _descendant_outputs(e):
    ids, todo = set(), list(e.cpu_children)
    while todo:
        c = todo.pop()
        ids.update(c.out_ids)
        todo.extend(c.cpu_children)
    return ids


def _profiled_run_rule(node, g, create_graph, buffer_for):
    t_in = time.perf_counter_ns()
    s = _session
    if s is None:
        return _plain_run_rule(node, g, create_graph, buffer_for)
    grads_in = (g,) if node.n_out == 1 else tuple(g)
    shapes = [list(gk.array.shape) if gk is not None else [] for gk in grads_in] \
        if s.record_shapes else []
    e = s.begin(torch_name(node), "cpu_op", shapes, t_in)
    try:
        grads = _plain_run_rule(node, g, create_graph, buffer_for)
    finally:
        t_end = s.end(e)
    if s.profile_memory:
        arrays = [gi.array for gi in grads if gi is not None and gi is not ADDED]
        e.own_memory = _fresh_bytes(arrays, [gk.array for gk in grads_in if gk is not None],
                                    _descendant_outputs(e))
    s.settle(t_end)
    return grads


def _profiled_accumulate_leaf(leaf, g, create_graph, callers):
    t_in = time.perf_counter_ns()
    s = _session
    if s is None:
        return _plain_accumulate_leaf(leaf, g, create_graph, callers)
    # (the id, not the array: a reference would make the engine think .grad is shared,
    # and copy instead of adding in place)
    before = None if leaf.grad is None else id(leaf.grad.array)
    e = s.begin("AccumulateGrad", "cpu_op", [list(g.array.shape)] if s.record_shapes else [],
                t_in)
    try:
        _plain_accumulate_leaf(leaf, g, create_graph, callers)
    finally:
        t_end = s.end(e)
    if s.profile_memory and leaf.grad is not None and id(leaf.grad.array) != before:
        e.own_memory = _fresh_bytes((leaf.grad.array,), (g.array,), _descendant_outputs(e))
    s.settle(t_end)


# ------------------------------------------------------------------ registered ranges
# Callables that say, when a profile starts, which attributes to wrap in a range while it
# records: each returns (owner, attribute, name) triples, where name is a string or a
# function of the call's first argument (Optimizer.step names the optimizer's class).
_range_sources = []


def register_ranges(source):
    """Register ``source()``, called at the start of every profile, returning the
    ``(owner, attribute, name)`` whose calls are recorded as ranges while it records. Free
    when no profile is active: nothing is wrapped then."""
    _range_sources.append(source)
    return source


_wrappers = {}   # (original function, name) -> its recording wrapper


def _ranged(fn, name):
    key = (fn, name)
    wrapper = _wrappers.get(key)
    if wrapper is not None:
        return wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t_in = time.perf_counter_ns()
        s = _session
        if s is None:   # (a wrapper someone kept after the profile stopped)
            return fn(*args, **kwargs)
        label = name if type(name) is str else name(args[0])
        shapes = []
        if s.record_shapes and any(isinstance(a, Tensor) for a in args):
            shapes = [list(a.shape) if isinstance(a, Tensor) else [] for a in args]
        e = s.begin(label, "user_annotation", shapes, t_in)
        try:
            return fn(*args, **kwargs)
        finally:
            s.settle(s.end(e))

    _wrappers[key] = wrapper
    return wrapper


def _install():
    graph._forward = _profiled_forward
    engine._run_rule = _profiled_run_rule
    engine._accumulate_leaf = _profiled_accumulate_leaf
    swapped = []
    for source in _range_sources:
        for owner, attr, name in source():
            plain = owner.__dict__.get(attr) if isinstance(owner, type) else getattr(owner, attr)
            if plain is None or not callable(plain):
                continue
            wrapper = _ranged(plain, name)
            setattr(owner, attr, wrapper)
            swapped.append((owner, attr, plain, wrapper))
    return swapped


def _uninstall(swapped):
    graph._forward = _plain_forward
    engine._run_rule = _plain_run_rule
    engine._accumulate_leaf = _plain_accumulate_leaf
    for owner, attr, plain, wrapper in reversed(swapped):
        if getattr(owner, attr, None) is wrapper:   # (unless someone replaced it since)
            setattr(owner, attr, plain)


def _start(record_shapes, profile_memory, with_stack):
    global _session
    if _session is not None:
        raise RuntimeError("profile: a profiler is already recording (one profile records "
                           "at a time, for the whole process); nest record_function ranges "
                           "inside it instead")
    session = _Session(record_shapes, profile_memory, with_stack)
    session.swapped = _install()
    _session = session
    return session


def _stop(session):
    global _session
    if _session is session:
        _session = None
        _uninstall(session.swapped)
        session.close_open()
    return EventList(session.events, profile_memory=session.profile_memory)


# ------------------------------------------------------------------ the user's API
class record_function:
    """PyTorch's ``record_function(name)``: a ``with`` block (or a decorated function's
    every call) recorded as a range named ``name`` while a profile records; nothing but
    one test of a global otherwise. ``args`` is accepted, as in PyTorch, and unused."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self._event = self._session = None

    def __enter__(self):
        s = _session
        if s is not None:
            self._session = s
            self._event = s.begin(self.name, "user_annotation", [], time.perf_counter_ns())
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            if self._session is _session:
                self._session.settle(self._session.end(self._event))
            self._event = self._session = None
        return False

    def __call__(self, fn):
        name = self.name

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if _session is None:
                return fn(*args, **kwargs)
            with record_function(name):
                return fn(*args, **kwargs)
        return wrapper


class profile:
    """PyTorch's ``torch.autograd.profiler.profile``: records while its ``with`` block runs
    (``enabled=False``: records nothing). ``record_shapes``: keep each op's input shapes;
    ``profile_memory``: the bytes each op allocates; ``with_stack``: the caller's Python
    stack of each range. minigrad times the host (CPU) side only: ``use_cuda``,
    ``with_flops`` and ``with_modules`` raise rather than be ignored.

    After the block: ``function_events`` (an ``EventList``), ``key_averages()``,
    ``table()``, ``export_chrome_trace(path)``, ``total_average()``,
    ``self_cpu_time_total``."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True):
        for flag, what in ((use_cuda, "use_cuda"), (use_device, "use_device"),
                           (with_flops, "with_flops"), (with_modules, "with_modules"),
                           (not use_cpu, "use_cpu=False")):
            if flag:
                raise NotImplementedError(f"profile: {what} is not supported (minigrad "
                                          f"records host CPU time and memory only)")
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.function_events = None
        self._recording = None

    def __enter__(self):
        if self.enabled:
            self._recording = _start(self.record_shapes, self.profile_memory, self.with_stack)
        return self

    def __exit__(self, *exc):
        if self._recording is not None:
            self.function_events = _stop(self._recording)
            self._recording = None
        return False

    def _events(self):
        if self.function_events is None:
            raise RuntimeError("profile: no results yet (they exist once the profiler has "
                               "stopped: after its with block)")
        return self.function_events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        return self._events().key_averages(group_by_input_shape, group_by_stack_n)

    def table(self, *args, **kwargs):
        return self._events().table(*args, **kwargs)

    def total_average(self):
        return self._events().total_average()

    def export_chrome_trace(self, path):
        return self._events().export_chrome_trace(path)

    @property
    def self_cpu_time_total(self):
        return self._events().self_cpu_time_total

    def __str__(self):
        return self.table()
