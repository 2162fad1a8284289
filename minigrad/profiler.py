"""``minigrad.profiler``: PyTorch's ``torch.profiler`` names over the recorder in
``minigrad.autograd.profiler`` (what it records, and why it costs nothing when off, is
written there; docs/tools.md shows a table)::

    with mg.profiler.profile(record_shapes=True, profile_memory=True) as prof:
        with mg.profiler.record_function("step"):
            ...
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    prof.export_chrome_trace("trace.json")     # open in https://ui.perfetto.dev

``schedule`` and ``prof.step()`` record chosen steps of a loop, as in PyTorch.
"""
import enum
import os
import socket
import time
import warnings

from minigrad.autograd.profiler import _start, _stop, record_function
from minigrad.autograd.profiler_util import EventList

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule",
           "tensorboard_trace_handler", "supported_activities"]


class ProfilerActivity(enum.Enum):
    CPU = 0
    CUDA = 2


def supported_activities():
    """The activities that can be profiled: minigrad times the host, so CPU."""
    return {ProfilerActivity.CPU}


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """PyTorch's schedule: after ``skip_first`` steps, cycles of ``wait`` idle steps,
    ``warmup`` steps (not recorded) and ``active`` recorded steps, the last of which hands
    the recording to ``on_trace_ready``; ``repeat`` cycles (0: until the loop ends).
    ``skip_first_wait``: the first cycle has no wait."""
    if warmup < 0 or active <= 0 or wait < 0 or repeat < 0 or skip_first < 0:
        raise ValueError("schedule: wait, warmup, repeat and skip_first must be >= 0 and "
                         "active > 0")

    def schedule_fn(step):
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        mod = step % cycle
        if mod < wait:
            return ProfilerAction.NONE
        if mod < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if mod < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return schedule_fn


def _always_record(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` that writes each recording's Chrome trace into ``dir_name``
    (``<worker>.<time>.pt.trace.json``, PyTorch's file name)."""
    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        worker = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        name = f"{worker}.{time.time_ns() // 1_000_000}.pt.trace.json"
        if use_gzip:
            name += ".gz"
        path = os.path.join(dir_name, name)
        if use_gzip:
            import gzip
            plain = path[:-3]
            prof.export_chrome_trace(plain)
            with open(plain, "rb") as f, gzip.open(path, "wb") as g:
                g.write(f.read())
            os.remove(plain)
        else:
            prof.export_chrome_trace(path)
    return handler


class profile:
    """PyTorch's ``torch.profiler.profile``. Records while active (the ``with`` block, or
    between ``start()`` and ``stop()``); ``record_shapes``, ``profile_memory`` and
    ``with_stack`` as in ``minigrad.autograd.profiler.profile``. ``activities``: CPU (CUDA
    is accepted with a warning: minigrad's times are host times). With a ``schedule``,
    ``step()`` ends a loop step: only the steps the schedule marks RECORD are recorded,
    each inside a ``ProfilerStep#N`` range, and ``on_trace_ready(prof)`` is called when
    a recording window ends. Without one, everything is recorded and ``step()`` only
    counts. Results: ``events()``, ``key_averages()``, ``export_chrome_trace(path)``."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, experimental_config=None,
                 execution_trace_observer=None, acc_events=False, use_cuda=None):
        activities = set(activities) if activities is not None else {ProfilerActivity.CPU}
        if activities - {ProfilerActivity.CPU}:
            warnings.warn("profile: minigrad records host (CPU) time only; the activities "
                          f"{sorted(a.name for a in activities - {ProfilerActivity.CPU})} "
                          "are not recorded", stacklevel=2)
        if with_flops or with_modules:
            raise NotImplementedError("profile: with_flops and with_modules are not "
                                      "supported (minigrad records time and memory only)")
        self.activities = activities
        self.schedule = schedule if schedule is not None else _always_record
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = None
        self._recording = None
        self._step_range = None
        self._events = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        self.current_action = self.schedule(self.step_num)
        self._enter_action()

    def stop(self):
        if self._recording is not None:
            self._save(self.current_action in (ProfilerAction.RECORD,
                                               ProfilerAction.RECORD_AND_SAVE))
        self.current_action = None

    def step(self):
        """The end of one step of the loop: move on in the schedule."""
        previous = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        if self._recording is not None:
            if self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE) \
                    and previous is not ProfilerAction.RECORD_AND_SAVE:
                self._next_step_range()
                return
            self._save(True)
        self._enter_action()

    def _enter_action(self):
        if self.current_action in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE):
            self._recording = _start(self.record_shapes, self.profile_memory,
                                     self.with_stack)
            self._next_step_range()

    def _next_step_range(self):
        if self._step_range is not None:
            self._step_range.__exit__(None, None, None)
            self._step_range = None
        if self.record_steps:
            self._step_range = record_function(f"ProfilerStep#{self.step_num}").__enter__()

    def _save(self, ready):
        if self._step_range is not None:
            self._step_range.__exit__(None, None, None)
            self._step_range = None
        events = _stop(self._recording)
        self._recording = None
        if self.acc_events and self._events is not None:
            events = EventList(list(self._events) + list(events),
                               profile_memory=self.profile_memory)
        self._events = events
        if ready and self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ---------------------------------------------------------------- results
    def events(self):
        """The recorded ranges of the last recording window, in order of their start (an
        ``EventList`` of ``FunctionEvent``)."""
        if self._events is None:
            raise RuntimeError("profile: no results yet (they exist once a recording window "
                               "has ended: after the with block, or in on_trace_ready)")
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        """One row per name (and input shapes, when grouped by them): ``EventList`` of
        ``FunctionEventAvg``, with ``table(sort_by=..., row_limit=...)``."""
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path):
        return self.events().export_chrome_trace(path)
