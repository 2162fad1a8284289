"""The profiler (``mg.profiler``, PyTorch's ``torch.profiler``): one row per op forward and
per backward rule with the right counts, self and total times, nesting of
``record_function``, input shapes, bytes allocated, the table's columns and formats against
PyTorch's, sorting, the Chrome trace, schedules, and that with no profile active nothing
is recorded and the hot path is the plain one."""
import json

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import engine, graph, profiler as autograd_profiler
from minigrad.autograd.anomaly_mode import torch_name
from minigrad.autograd.profiler import _fresh_bytes
from minigrad.autograd.profiler_util import _format_memory, _format_time
from minigrad.profiler import ProfilerAction, profile, record_function, schedule


def _names(events):
    return [e.name for e in events]


def _first(events):
    """{name: the first event of that name}."""
    found = {}
    for e in events:
        found.setdefault(e["name"] if isinstance(e, dict) else e.name, e)
    return found


def _counts(prof):
    return {a.key: a.count for a in prof.key_averages()}


def _nodes(t):
    """The nodes of ``t``'s graph, by PyTorch's name, with how many of each."""
    found = {}
    for node in engine._reachable([graph._edge(t)]):
        found[torch_name(node)] = found.get(torch_name(node), 0) + 1
    return found


def _layer_step(prof_kwargs=None):
    """Linear -> BatchNorm1d -> ReLU, forward and backward, under a profile."""
    net = mg.nn.Sequential(mg.nn.Linear(6, 4), mg.nn.BatchNorm1d(4), mg.nn.ReLU())
    x = mg.randn(8, 6)
    with profile(**(prof_kwargs or {})) as prof:
        loss = net(x).sum()
        nodes = _nodes(loss)
        loss.backward()
    return prof, nodes


# ---------------------------------------------------------------- rows and counts
def test_simple_op_rows_forward_and_backward_apart():
    x = mg.randn(3, 4, requires_grad=True)
    y = mg.randn(3, 4, requires_grad=True)
    with profile() as prof:
        (x * y).sum().backward()
    top = [e.name for e in prof.events() if e.cpu_parent is None]
    assert top == ["mul", "sum", "SumBackward0", "MulBackward0", "AccumulateGrad",
                   "AccumulateGrad"]
    # mul's plain backward is its array rule: no op of its own inside its range
    mul_backward = next(e for e in prof.events() if e.name == "MulBackward0")
    assert mul_backward.cpu_children == []
    assert _counts(prof)["mul"] == 1 and _counts(prof)["MulBackward0"] == 1
    # a backward rule written in tensor ops runs them inside its own range (and their rows
    # count those calls too, as PyTorch's aten::mul row does)
    with profile() as prof:
        x.abs().sum().backward()
    abs_backward = next(e for e in prof.events() if e.name == "AbsBackward0")
    assert _names(abs_backward.cpu_children) == ["sign", "mul"]
    assert _counts(prof)["mul"] == 1 and _counts(prof)["AbsBackward0"] == 1


def test_layers_every_recorded_op_has_its_forward_and_backward_rows():
    prof, nodes = _layer_step()
    counts = _counts(prof)
    assert counts["F.linear"] == counts["F.batch_norm"] == counts["F.relu"] == 1
    for name, n in nodes.items():
        assert counts[name] == n, name          # each node's rule ran exactly once
        op = name[:-len("Backward0")]
        forward = [k for k in counts if k.replace("_", "") == op.lower()]
        assert forward and counts[forward[0]] >= n, name   # (+ unrecorded running stats)
    backward_rows = {k for k in counts if k.endswith("Backward0")}
    assert backward_rows == set(nodes)
    assert counts["AccumulateGrad"] == 4        # weight, bias, BN weight, BN bias
    assert {"linear", "channel_moments", "channel_affine", "relu"} <= set(counts)


def test_self_time_is_total_less_children():
    prof, _ = _layer_step()
    events = prof.events()
    for e in events:
        assert 0 <= e.self_cpu_time_total <= e.cpu_time_total
        assert e.self_cpu_time_total == pytest.approx(
            e.cpu_time_total - sum(c.cpu_time_total for c in e.cpu_children), abs=1e-9)
        for c in e.cpu_children:
            assert c.cpu_parent is e
            assert e.time_range.start <= c.time_range.start <= c.time_range.end \
                <= e.time_range.end
    for a in prof.key_averages():
        assert 0 <= a.self_cpu_time_total <= a.cpu_time_total
        assert a.cpu_time == pytest.approx(a.cpu_time_total / a.count)
    assert events.self_cpu_time_total == pytest.approx(
        sum(e.cpu_time_total for e in events if e.cpu_parent is None))


def test_backward_rule_ops_are_its_children():
    x = mg.randn(5, requires_grad=True, dtype=mg.float64)
    with profile() as prof:
        (g,) = mg.autograd.grad((x ** 3).sum(), x, create_graph=True)
    pow_backward = next(e for e in prof.events() if e.name.startswith("Pow")
                        and e.name.endswith("Backward0"))
    assert pow_backward.cpu_children                   # the tensor-form rule's ops
    assert all(not c.name.endswith("Backward0") for c in pow_backward.cpu_children)
    assert pow_backward.self_cpu_time_total < pow_backward.cpu_time_total


# ---------------------------------------------------------------- record_function
def test_record_function_nests_and_decorates():
    @record_function("decorated")
    def helper(t):
        return t.exp()

    x = mg.randn(4)
    with profile() as prof:
        with record_function("outer"):
            with record_function("inner"):
                y = x * 2
            helper(y)
    ev = _first(prof.events())
    assert ev["outer"].cpu_parent is None
    assert ev["inner"].cpu_parent is ev["outer"]
    assert ev["mul"].cpu_parent is ev["inner"]
    assert ev["decorated"].cpu_parent is ev["outer"]
    assert ev["exp"].cpu_parent is ev["decorated"]
    assert ev["outer"].cat == ev["inner"].cat == "user_annotation"
    assert ev["mul"].cat == "cpu_op"
    assert helper(x).shape == (4,)            # the decorator with no profile active


def test_record_function_without_a_profile_records_nothing():
    with record_function("alone") as r:
        mg.randn(3) * 2
    assert r._event is None and not autograd_profiler.is_profiler_enabled()
    with profile() as prof:
        mg.randn(3) + 1
    assert "alone" not in _names(prof.events())


def test_record_function_nested_in_a_loop_keeps_order():
    with profile() as prof:
        for i in range(3):
            with record_function(f"step{i}"):
                mg.ones(2) * i
    steps = [e for e in prof.events() if e.name.startswith("step")]
    assert [e.name for e in steps] == ["step0", "step1", "step2"]
    assert all(len(e.cpu_children) >= 1 for e in steps)


# ---------------------------------------------------------------- shapes and memory
def test_input_shapes_are_recorded_when_asked():
    a, b = mg.randn(3, 4, requires_grad=True), mg.randn(4, 5, requires_grad=True)
    with profile(record_shapes=True) as prof:
        (a @ b).sum().backward()
    ev = _first(prof.events())
    assert ev["matmul"].input_shapes == [[3, 4], [4, 5]]
    assert ev["MatMulBackward0"].input_shapes == [[3, 5]]
    with profile() as prof:
        a @ b
    assert prof.events()[0].input_shapes == []


def test_group_by_input_shape():
    with profile(record_shapes=True) as prof:
        mg.ones(2, 3) * 2
        mg.ones(2, 3) * 3
        mg.ones(4) * 2
    rows = [(a.key, a.input_shapes, a.count) for a in
            prof.key_averages(group_by_input_shape=True) if a.key == "mul"]
    assert sorted(rows, key=str) == sorted([("mul", [[2, 3], []], 2), ("mul", [[4], []], 1)],
                                           key=str)
    assert [a.count for a in prof.key_averages() if a.key == "mul"] == [3]
    assert all(a.input_shapes == "" for a in prof.key_averages())


def test_memory_is_the_bytes_of_new_results():
    x = mg.randn(10, 20, dtype=mg.float64, requires_grad=True)
    y = mg.randn(10, 20, dtype=mg.float64)
    with profile(profile_memory=True) as prof:
        z = x * y
        v = z.reshape(200)            # a view: nothing allocated
        c = v.sum()
    ev = _first(prof.events())
    assert ev["mul"].self_cpu_memory_usage == z.array.nbytes == 1600
    assert ev["reshape"].self_cpu_memory_usage == 0
    assert ev["sum"].self_cpu_memory_usage == c.array.nbytes
    with profile(profile_memory=True) as prof:
        with record_function("block"):
            x * y
    block = next(e for e in prof.events() if e.name == "block")
    assert block.self_cpu_memory_usage == 0 and block.cpu_memory_usage == 1600
    with profile() as prof:
        x * y
    assert prof.events()[0].cpu_memory_usage == 0
    # an op that hands back its input, or the base of one, allocated nothing
    a = np.zeros((4, 5))
    assert _fresh_bytes((a,), (a,)) == 0 and _fresh_bytes((a,), (a[1:],)) == 0
    assert _fresh_bytes((a[1:],), (a,)) == 0 and _fresh_bytes((a,), (a.copy(),)) == a.nbytes


def test_backward_memory_counts_gradients_the_rule_made():
    x = mg.randn(8, 5, dtype=mg.float64, requires_grad=True)
    w = mg.randn(3, 5, dtype=mg.float64, requires_grad=True)
    b = mg.randn(3, dtype=mg.float64, requires_grad=True)
    with profile(profile_memory=True) as prof:
        F.linear(x, w, b).sum().backward()
    linear_backward = next(e for e in prof.events() if e.name == "LinearBackward0")
    assert linear_backward.self_cpu_memory_usage == x.grad.array.nbytes + \
        w.grad.array.nbytes + b.grad.array.nbytes
    # the fresh gradients become .grad as they are: accumulating allocates nothing
    accumulate = [e for e in prof.events() if e.name == "AccumulateGrad"]
    assert len(accumulate) == 3 and all(e.self_cpu_memory_usage == 0 for e in accumulate)
    with profile(profile_memory=True) as prof:      # now .grad exists: summed in place
        F.linear(x, w, b).sum().backward()
    assert all(e.self_cpu_memory_usage == 0 for e in prof.events()
               if e.name == "AccumulateGrad")


# ---------------------------------------------------------------- the table
def _header(table):
    import re
    return re.split(r"\s{2,}", table.splitlines()[1].strip())


def test_table_columns_match_torch(torch):
    def torch_header(**kw):
        with torch.profiler.profile(record_shapes=True, profile_memory=kw["memory"]) as p:
            torch.ones(3, 4) * 2
        return _header(p.key_averages(group_by_input_shape=kw["shapes"]).table())

    for memory in (False, True):
        for shapes in (False, True):
            with profile(record_shapes=True, profile_memory=memory) as prof:
                mg.ones(3, 4) * 2
            ours = _header(prof.key_averages(group_by_input_shape=shapes).table())
            assert ours == torch_header(memory=memory, shapes=shapes), (memory, shapes)
    assert ours == ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total",
                    "CPU time avg", "CPU Mem", "Self CPU Mem", "# of Calls", "Input Shapes"]


def test_formats_match_torch(torch):
    from torch.autograd import profiler_util as tpu
    for us in (0.0, 0.5, 12.0, 999.9994, 1234.5678, 2.5e6):
        assert _format_time(us) == tpu._format_time(us)
    for n in (0, 4, 1023, 1024, 24000, 5 << 20, 3 << 30, -2400):
        assert _format_memory(n) == tpu._format_memory(n)
    assert _format_time(1234.0) == "1.234ms" and _format_time(12.0) == "12.000us"


@pytest.mark.parametrize("key", ["self_cpu_time_total", "cpu_time_total", "cpu_time",
                                 "cpu_memory_usage", "self_cpu_memory_usage", "count"])
def test_table_sorts_by_each_key(key):
    prof, _ = _layer_step({"profile_memory": True})
    averages = prof.key_averages()
    table = averages.table(sort_by=key, row_limit=100)
    names = [line[:line.index("  ", len(line) - len(line.lstrip()))].strip()
             for line in table.splitlines()[3:-2]]
    by_name = {a.key: getattr(a, key) for a in averages}
    values = [by_name[n] for n in names]
    assert len(values) == len(averages)
    assert values == sorted(values, reverse=True)


def test_table_row_limit_and_totals():
    prof, _ = _layer_step()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=3)
    lines = table.splitlines()
    assert len(lines) == 3 + 3 + 2          # header block, 3 rows, separator and total
    assert lines[-1].startswith("Self CPU time total: ")
    with pytest.raises(ValueError, match="sort_by"):
        prof.key_averages().table(sort_by="self_cpu_time")
    assert prof.key_averages().table(time_unit="ms").count("ms") > 10
    assert "Input Shapes" not in prof.events().table()   # (no shapes recorded: no column)


# ---------------------------------------------------------------- Chrome trace
def test_chrome_trace_loads_and_nests(tmp_path):
    x = mg.randn(6, 6, requires_grad=True)
    with profile(record_shapes=True, profile_memory=True) as prof:
        with record_function("outer"):
            with record_function("inner"):
                (x @ x).relu().sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    complete = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(complete) == len(prof.events())
    for e in complete:
        assert {"name", "ph", "ts", "dur", "pid", "tid", "cat", "args"} <= set(e)
        assert e["cat"] in ("cpu_op", "user_annotation") and e["dur"] >= 0
    by_name = _first(complete)
    assert by_name["matmul"]["args"]["Input Dims"] == [[6, 6], [6, 6]]

    def inside(child, parent):
        return parent["ts"] <= child["ts"] and \
            child["ts"] + child["dur"] <= parent["ts"] + parent["dur"] + 1e-3
    assert inside(by_name["inner"], by_name["outer"])
    for name in ("matmul", "relu", "MatMulBackward0", "ReluBackward0", "AccumulateGrad"):
        assert inside(by_name[name], by_name["inner"]), name
    # every pair of ranges on a thread nests or is disjoint (what Perfetto requires)
    for a in complete:
        for b in complete:
            if a is not b and a["ts"] <= b["ts"] < a["ts"] + a["dur"]:
                assert inside(b, a), (a["name"], b["name"])
    memory = [e for e in trace["traceEvents"] if e["name"] == "[memory]"]
    assert memory and all(e["args"]["Bytes"] > 0 for e in memory)


# ---------------------------------------------------------------- off, nested, errors
def test_no_profile_means_plain_hot_path():
    plain = (graph._forward, engine._run_rule, engine._accumulate_leaf, F.linear,
             mg.optim.Optimizer.step)
    assert graph._forward is autograd_profiler._plain_forward
    assert engine._run_rule is autograd_profiler._plain_run_rule
    assert engine._accumulate_leaf is autograd_profiler._plain_accumulate_leaf
    assert autograd_profiler._session is None
    with profile():
        assert graph._forward is autograd_profiler._profiled_forward
        assert engine._run_rule is autograd_profiler._profiled_run_rule
        assert F.linear is not plain[3] and F.linear.__wrapped__ is plain[3]
        assert mg.optim.Optimizer.step is not plain[4]
    assert (graph._forward, engine._run_rule, engine._accumulate_leaf, F.linear,
            mg.optim.Optimizer.step) == plain
    # (the recording paths are not referenced by the ops' own code)
    assert "profil" not in "".join(graph.Primitive.apply.__code__.co_names)


@pytest.mark.parametrize("kw", [{}, {"record_shapes": True, "profile_memory": True,
                                  "with_stack": True}])
def test_profiling_leaves_gradient_buffers_alone(kw):
    """The engine reuses buffers by reference counts: a profile must hold no array, or
    .grad would be copied instead of added into in place."""
    w = mg.randn(30, 20, requires_grad=True)
    x = mg.randn(16, 30)

    def step():
        (x @ w).sigmoid().sum().backward()
    step()
    before = id(w.grad.array)
    step()
    assert id(w.grad.array) == before          # without a profile: in place
    with profile(**kw):
        step()
    assert id(w.grad.array) == before


def test_second_profile_raises_and_the_first_goes_on():
    with profile() as outer:
        with pytest.raises(RuntimeError, match="already recording"):
            with profile():
                pass
        mg.ones(2) * 2
    assert "mul" in _names(outer.events())
    assert autograd_profiler._session is None


def test_an_error_inside_restores_the_plain_path():
    with pytest.raises(ValueError):
        with profile() as prof:
            with record_function("failing"):
                mg.ones(2) * 2
                raise ValueError("boom")
    assert graph._forward is autograd_profiler._plain_forward
    failing = next(e for e in prof.events() if e.name == "failing")
    assert failing.cpu_time_total >= failing.cpu_children[0].cpu_time_total


def test_results_before_stop_raise():
    prof = profile()
    with pytest.raises(RuntimeError, match="no results"):
        prof.key_averages()


def test_optimizer_and_functional_ranges():
    lin = mg.nn.Linear(3, 2)
    opt = mg.optim.SGD(lin.parameters(), lr=0.1)
    with profile() as prof:
        opt.zero_grad()
        F.mse_loss(lin(mg.randn(4, 3)), mg.zeros(4, 2)).backward()
        opt.step()
    counts = _counts(prof)
    assert counts["Optimizer.step#SGD.step"] == 1
    assert counts["Optimizer.zero_grad#SGD.zero_grad"] == 1
    assert counts["F.linear"] == counts["F.mse_loss"] == 1
    ev = _first(prof.events())
    assert ev["linear"].cpu_parent is ev["F.linear"]


def test_with_stack_names_the_caller():
    with profile(with_stack=True) as prof:
        mg.ones(2) * 2          # stack-marker
    mul = next(e for e in prof.events() if e.name == "mul")
    assert "test_profiler.py" in mul.stack[0] and "test_with_stack" in mul.stack[0]
    table = prof.key_averages(group_by_stack_n=1).table()
    assert "Source Location" in _header(table)


# ---------------------------------------------------------------- schedule, aliases
@pytest.mark.filterwarnings("ignore:Profiler won.t be using warmup")
def test_schedule_matches_torch(torch):
    for kw in (dict(wait=1, warmup=1, active=2), dict(wait=0, warmup=0, active=1, repeat=2),
               dict(wait=2, warmup=1, active=3, repeat=1, skip_first=2),
               dict(wait=2, warmup=1, active=2, skip_first_wait=1)):
        ours, theirs = schedule(**kw), torch.profiler.schedule(**kw)
        assert [ours(i).name for i in range(16)] == [theirs(i).name for i in range(16)], kw


def test_step_records_the_scheduled_steps():
    ready = []
    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=1),
                 on_trace_ready=lambda p: ready.append(_names(p.events()))) as prof:
        for i in range(6):
            mg.ones(2) * i
            prof.step()
    assert len(ready) == 1
    steps = [n for n in ready[0] if n.startswith("ProfilerStep#")]
    assert steps == ["ProfilerStep#2", "ProfilerStep#3"]
    assert ready[0].count("mul") == 2
    assert prof.current_action is None and autograd_profiler._session is None
    assert schedule(wait=0, warmup=0, active=1)(0) is ProfilerAction.RECORD_AND_SAVE


def test_step_without_schedule_records_everything():
    with profile() as prof:
        for i in range(3):
            mg.ones(2) * i
            prof.step()
    assert _counts(prof)["mul"] == 3 and prof.step_num == 3


def test_autograd_profiler_alias():
    with mg.autograd.profiler.profile(record_shapes=True) as prof:
        with mg.autograd.profiler.record_function("block"):
            mg.ones(2, 2).exp()
    assert "block" in prof.table() and "exp" in str(prof)
    assert prof.key_averages().total_average().count == len(prof.function_events)
    with mg.autograd.profiler.profile(enabled=False) as off:
        mg.ones(2) * 2
    assert off.function_events is None
    with pytest.raises(NotImplementedError, match="with_flops"):
        mg.autograd.profiler.profile(with_flops=True)


def test_other_activities_warn():
    with pytest.warns(UserWarning, match="host"):
        profile(activities=[mg.profiler.ProfilerActivity.CPU, mg.profiler.ProfilerActivity.CUDA])
    assert mg.profiler.supported_activities() == {mg.profiler.ProfilerActivity.CPU}


def test_threads_have_their_own_stacks():
    import threading
    out = []
    with profile() as prof:
        with record_function("main"):
            t = threading.Thread(target=lambda: out.append(mg.ones(3).exp()))
            t.start()
            t.join()
    exp = next(e for e in prof.events() if e.name == "exp")
    main = next(e for e in prof.events() if e.name == "main")
    assert exp.cpu_parent is None and exp.thread != main.thread
    assert np.allclose(out[0].numpy(), np.e)
