"""What a profile holds once it has stopped (PyTorch's ``torch.autograd.profiler_util``):
``FunctionEvent`` (one recorded range: an op, a backward rule, a ``record_function``
block), ``EventList`` (a list of them, or of their averages), ``FunctionEventAvg`` (one
row of ``key_averages()``), the table and the Chrome trace.

Times are microseconds (floats, from ``time.perf_counter_ns``), memory is bytes, as in
PyTorch; the table formats them as PyTorch does ("1.234ms", "12.000us", "23.44 KB").
"""
import json
import os

_SORT_KEYS = ("self_cpu_time_total", "cpu_time_total", "cpu_time", "cpu_memory_usage",
              "self_cpu_memory_usage", "count")


class Interval:
    """A range in microseconds: ``start``, ``end``, ``elapsed_us()``."""
    __slots__ = ("start", "end")

    def __init__(self, start, end):
        self.start, self.end = start, end

    def elapsed_us(self):
        return self.end - self.start


def _format_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _format_time_share(us, total_us):
    if total_us == 0:
        return "NaN"
    return f"{us * 100.0 / total_us:.2f}%"


def _format_memory(nbytes):
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


class _Formatted:
    """PyTorch's ``*_str`` properties (FormattedTimesMixin)."""

    @property
    def cpu_time(self):
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def cpu_time_str(self):
        return _format_time(self.cpu_time)

    @property
    def cpu_time_total_str(self):
        return _format_time(self.cpu_time_total)

    @property
    def self_cpu_time_total_str(self):
        return _format_time(self.self_cpu_time_total)


class FunctionEvent(_Formatted):
    """One recorded range. ``name``: the op (``mul``), the backward rule
    (``MulBackward0``), or a range's name; ``cat``: ``cpu_op`` or ``user_annotation``
    (the Chrome trace's category). Self time and memory are the range's own, without its
    children's (the ranges that ran inside it, on its thread)."""

    __slots__ = ("id", "name", "cat", "thread", "start_ns", "end_ns", "input_shapes", "stack",
                 "cpu_children", "cpu_parent", "own_memory", "out_ids")
    count = 1

    def __init__(self, id, name, cat, thread, start_ns, input_shapes, stack):
        self.id, self.name, self.cat, self.thread = id, name, cat, thread
        self.start_ns, self.end_ns = start_ns, start_ns
        self.input_shapes, self.stack = input_shapes, stack
        self.cpu_children, self.cpu_parent = [], None
        self.own_memory = 0
        self.out_ids = ()

    @property
    def key(self):
        return self.name

    @property
    def is_user_annotation(self):
        return self.cat == "user_annotation"

    @property
    def time_range(self):
        return Interval(self.start_ns / 1e3, self.end_ns / 1e3)

    @property
    def cpu_time_total(self):
        return (self.end_ns - self.start_ns) / 1e3

    @property
    def self_cpu_time_total(self):
        return (self.end_ns - self.start_ns - sum(c.end_ns - c.start_ns
                                                  for c in self.cpu_children)) / 1e3

    @property
    def cpu_memory_usage(self):
        return self.own_memory + sum(c.cpu_memory_usage for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.own_memory

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} "
                f"cpu_time_total={self.cpu_time_total_str} "
                f"self_cpu_time_total={self.self_cpu_time_total_str} "
                f"input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg(_Formatted):
    """One row of ``key_averages()``: the events of one key (and input shapes, when
    grouped by them) summed; ``cpu_time`` is the average total time per call."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.input_shapes = None
        self.stack = None
        self.cpu_parent = None
        self.cpu_children = None
        self.is_user_annotation = False

    def add(self, other):
        if self.key is None:
            self.key = other.key
            self.input_shapes, self.stack = other.input_shapes, other.stack
            self.cpu_parent, self.cpu_children = other.cpu_parent, other.cpu_children
            self.is_user_annotation = other.is_user_annotation
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.cpu_memory_usage += other.cpu_memory_usage
        self.self_cpu_memory_usage += other.self_cpu_memory_usage
        return self

    def __iadd__(self, other):
        return self.add(other)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} count={self.count} "
                f"self_cpu_time_total={self.self_cpu_time_total_str} "
                f"cpu_time_total={self.cpu_time_total_str} "
                f"cpu_memory_usage={self.cpu_memory_usage} input_shapes={self.input_shapes}>")


class EventList(list):
    """A list of ``FunctionEvent`` (``prof.events()``) or ``FunctionEventAvg``
    (``key_averages()``), with PyTorch's ``table``, ``key_averages``, ``total_average``
    and ``export_chrome_trace``."""

    def __init__(self, *args, profile_memory=False, **kwargs):
        super().__init__(*args, **kwargs)
        self._profile_memory = profile_memory

    @property
    def self_cpu_time_total(self):
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0):
        """One ``FunctionEventAvg`` per event name (and input shapes, and the innermost
        ``group_by_stack_n`` stack frames, when asked), in order of first appearance."""
        stats = {}
        for e in self:
            key = (e.key, e.is_user_annotation)
            if group_by_input_shapes:
                key += (str(e.input_shapes),)
            if group_by_stack_n > 0:
                key += tuple(e.stack[:group_by_stack_n])
            avg = stats.get(key)
            if avg is None:
                avg = stats[key] = FunctionEventAvg()
            avg.add(e)
        out = EventList(stats.values(), profile_memory=self._profile_memory)
        for avg in out:
            avg.stack = avg.stack[:group_by_stack_n]
            if not group_by_input_shapes:
                avg.input_shapes = ""
        return out

    def total_average(self):
        """All the events summed into one ``FunctionEventAvg`` (key ``"Total"``)."""
        total = FunctionEventAvg()
        for e in self:
            total.add(e)
        total.key = "Total"
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """PyTorch's table: one row per event (or average), sorted by ``sort_by`` (an
        attribute: ``self_cpu_time_total``, ``cpu_time_total``, ``cpu_time``,
        ``cpu_memory_usage``, ``self_cpu_memory_usage``, ``count``), largest first, at
        most ``row_limit`` rows. Percentages are of the summed self time, as in PyTorch.
        ``time_unit`` ("s", "ms", "us") fixes the unit of every time."""
        return _build_table(self, sort_by, row_limit, max_src_column_width,
                            max_name_column_width, max_shapes_column_width, header,
                            top_level_events_only, time_unit, self._profile_memory)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Write the events as Chrome trace-event JSON (open it in Perfetto or
        chrome://tracing): one complete ("X") event per range, microseconds from the
        profile's start, and with ``profile_memory`` a ``[memory]`` instant event where
        a range allocated."""
        events = []
        pid = os.getpid()
        for e in self:
            if not isinstance(e, FunctionEvent):
                raise TypeError("export_chrome_trace: a list of FunctionEvent is needed "
                                "(prof.events()), not of averages")
            args = {"External id": e.id}
            if e.input_shapes:
                args["Input Dims"] = e.input_shapes
            if e.stack:
                args["Call stack"] = ";".join(e.stack)
            events.append({"ph": "X", "cat": e.cat, "name": e.name, "pid": pid,
                           "tid": e.thread, "ts": e.start_ns / 1e3,
                           "dur": (e.end_ns - e.start_ns) / 1e3, "args": args})
            if self._profile_memory and e.own_memory:
                events.append({"ph": "i", "s": "t", "cat": "cpu_instant_event",
                               "name": "[memory]", "pid": pid, "tid": e.thread,
                               "ts": e.end_ns / 1e3, "args": {"Device Type": 0,
                                                              "Device Id": -1,
                                                              "Bytes": e.own_memory}})
        trace = {"schemaVersion": 1, "displayTimeUnit": "ms", "traceName": str(path),
                 "profile_memory": int(self._profile_memory), "traceEvents": events}
        with open(path, "w") as f:
            json.dump(trace, f)


def _build_table(events, sort_by, row_limit, max_src_column_width, max_name_column_width,
                 max_shapes_column_width, header, top_level_events_only, time_unit,
                 profile_memory):
    if len(events) == 0:
        return ""
    if sort_by is not None:
        if not hasattr(events[0], sort_by):
            raise ValueError(f"table: sort_by must be one of {', '.join(_SORT_KEYS)}, got "
                             f"{sort_by!r}")
        events = sorted(events, key=lambda e: getattr(e, sort_by), reverse=True)
    has_shapes = any(e.input_shapes for e in events)
    stacks = [e.stack for e in events if e.stack]
    name_width = max(len(e.key) for e in events) + 4
    if max_name_column_width is not None:
        name_width = min(name_width, max_name_column_width)
    widths = [name_width]
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers.append("# of Calls")
    widths += [12] * (len(headers) - 1)
    aligns = [">"] * len(headers)
    if has_shapes:
        w = max(len(str(e.input_shapes)) for e in events) + 4
        headers.append("Input Shapes")
        widths.append(w if max_shapes_column_width is None else min(w, max_shapes_column_width))
        aligns.append(">")
    if stacks:
        w = max(len(s) for st in stacks for s in st) + 4
        headers.append("Source Location")
        widths.append(w if max_src_column_width is None else min(w, max_src_column_width))
        aligns.append("<")
    row_format = "".join("{: " + a + str(w) + "}  " for a, w in zip(aligns, widths))
    separator = "".join("-" * w + "  " for w in widths)
    line_length = sum(widths) + 2 * (len(widths) - 1)

    def fmt_time(us):
        if time_unit == "s":
            return f"{us / 1e6:.3f}s"
        if time_unit == "ms":
            return f"{us / 1e3:.3f}ms"
        if time_unit == "us":
            return f"{us:.3f}us"
        return _format_time(us)

    def trim(path, width):
        if len(path) > width:
            path = path[len(path) - width:]
            if len(path) > 3:
                path = "..." + path[3:]
        return path

    total_self = sum(e.self_cpu_time_total for e in events)
    lines = []
    if header is not None:
        lines += ["=" * line_length, header]
    if top_level_events_only:
        lines += ["=" * line_length, "This report only display top-level ops statistics"]
    lines += [separator, row_format.format(*headers), separator]
    shown = 0
    for e in events:
        if shown == row_limit:
            break
        if top_level_events_only and e.cpu_parent is not None:
            continue
        shown += 1
        name = e.key
        if max_name_column_width is not None and len(name) >= max_name_column_width - 3:
            name = name[:max_name_column_width - 3] + "..."
        row = [name, _format_time_share(e.self_cpu_time_total, total_self),
               fmt_time(e.self_cpu_time_total),
               _format_time_share(e.cpu_time_total, total_self), fmt_time(e.cpu_time_total),
               fmt_time(e.cpu_time)]
        if profile_memory:
            row += [_format_memory(e.cpu_memory_usage), _format_memory(e.self_cpu_memory_usage)]
        row.append(e.count)
        if has_shapes:
            row.append(str(e.input_shapes)[:widths[len(row)]])
        if stacks:
            row.append(trim(e.stack[0], widths[-1]) if e.stack else "")
        lines.append(row_format.format(*row))
        if stacks and e.stack:
            for entry in e.stack[1:]:
                lines.append(row_format.format(*[""] * (len(headers) - 1),
                                               trim(entry, widths[-1])))
            lines.append(row_format.format(*[""] * len(headers)))
    lines += [separator, f"Self CPU time total: {fmt_time(total_self)}"]
    return "\n".join(lines) + "\n"
