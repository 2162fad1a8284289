"""minigrad.utils.viz.make_dot, torchviz's picture of the tape. The structure is checked
on ``tape_graph`` (what make_dot draws) without Graphviz: one box per recorded op, the
tape's edges exactly, names, shapes and dtypes, saved values; then against PyTorch's own
graph of the same computation where torch is installed; the Digraph where the graphviz
package is; an SVG where Graphviz's dot program is."""
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

import minigrad as mg
from minigrad.autograd.engine import _reachable
from minigrad.utils.viz import make_dot, tape_graph


def bn_loss():
    mg.manual_seed(0)
    bn = mg.nn.BatchNorm1d(3)
    x = mg.randn(4, 3, requires_grad=True)
    loss = (bn(x) * mg.randn(4, 3)).sum()
    return bn, x, loss


def ops(graph):
    return [v for v in graph.vertices.values() if v.kind == "op"]


def of_kind(graph, kind):
    return [v for v in graph.vertices.values() if v.kind == kind]


def inputs_of(graph, vid):
    return [e.tail for e in graph.edges if e.kind == "input" and e.head == vid]


def check_against_tape(graph, outputs):
    """One op vertex per node the engine would replay, and each op's incoming edges are
    its tape edges, in order, duplicates included."""
    roots = [t._node for t in outputs if t._node is not None]
    assert {id(v.obj) for v in ops(graph)} == {id(n) for n in _reachable(roots)}
    assert len(ops(graph)) == len(_reachable(roots))
    for v in ops(graph):
        tails = [str(id(e[0] if type(e) is tuple else e)) for e in v.obj.next if e is not None]
        assert inputs_of(graph, v.id) == tails
    for e in graph.edges:
        assert e.tail in graph.vertices and e.head in graph.vertices


# ---------------------------------------------------------------- structure, no Graphviz

def test_one_vertex_per_recorded_op_and_the_tape_edges():
    bn, x, loss = bn_loss()
    graph = tape_graph(loss)
    check_against_tape(graph, [loss])
    assert Counter(v.label.split("\n")[0] for v in ops(graph)) == Counter(
        {"ChannelMomentsBackward": 1, "RsqrtEpsBackward": 1, "MulBackward": 1,
         "ChannelAffineBackward": 1, "SumBackward": 1})
    # leaves: x, gamma, beta (the running statistics are buffers, not on the tape)
    assert {id(v.obj) for v in of_kind(graph, "leaf")} == {id(x), id(bn.weight), id(bn.bias)}
    (out,) = of_kind(graph, "output")
    assert out.obj is loss
    assert [e for e in graph.edges if e.kind == "output"] == [
        (str(id(loss.grad_fn)), str(id(loss)), "output", None)]


def test_labels_name_params_and_give_each_output_shape_and_dtype():
    mg.manual_seed(0)
    w = mg.randn(3, 2, dtype=mg.float64, requires_grad=True)
    x = mg.randn(5, 3, dtype=mg.float64)
    y = (x @ w).tanh()
    graph = tape_graph(y.sum(), params={"w": w})
    labels = {v.obj.name if v.kind == "op" else v.kind: v.label for v in graph.vertices.values()}
    assert labels["MatMulBackward"] == "MatMulBackward\n(5, 2) float64"
    assert labels["TanhBackward"] == "TanhBackward\n(5, 2) float64"
    assert labels["SumBackward"] == "SumBackward\n() float64"
    assert labels["leaf"] == "w\n(3, 2) float64"
    assert labels["output"] == "() float64"
    # params as named_parameters() gives them
    lin = mg.nn.Linear(3, 2)
    graph = tape_graph(lin(x.float()).sum(), params=lin.named_parameters())
    assert sorted(v.label for v in of_kind(graph, "leaf")) == ["bias\n(2) float32",
                                                              "weight\n(2, 3) float32"]


def test_a_multi_output_op_labels_each_output_and_its_edges_say_which():
    bn, x, loss = bn_loss()
    graph = tape_graph(loss)
    (moments,) = [v for v in ops(graph) if v.obj.name == "ChannelMomentsBackward"]
    assert moments.label == "ChannelMomentsBackward\n[0] (3) float32\n[1] (3) float32"
    slots = {graph.vertices[e.head].obj.name: e.slot for e in graph.edges if e.tail == moments.id}
    assert slots == {"ChannelAffineBackward": 0, "RsqrtEpsBackward": 1}   # the mean, the variance


def test_an_op_taking_one_tensor_twice_has_two_edges():
    a = mg.randn(3, requires_grad=True)
    graph = tape_graph(a * a)
    (mul,) = ops(graph)
    assert inputs_of(graph, mul.id) == [str(id(a))] * 2
    assert len(of_kind(graph, "leaf")) == 1


def test_show_saved_draws_what_each_op_keeps():
    a = mg.randn(3, requires_grad=True)
    h = a.exp()                      # keeps its output
    loss = (h * a).sum()             # keeps both inputs: h (drawn orange) and the leaf a
    assert of_kind(tape_graph(loss), "saved") == []
    graph = tape_graph(loss, params={"a": a}, show_saved=True)
    check_against_tape(graph, [loss])
    saved = {v.label for v in of_kind(graph, "saved")}
    assert saved == {"result\n(3) float32", "inputs[0]\n(3) float32"}
    edges = [(graph.vertices[e.tail], graph.vertices[e.head].obj.name)
             for e in graph.edges if e.kind == "saved"]
    # a kept leaf is not drawn twice: the undirected edge goes to its own box
    assert sorted((v.kind, v.label.split("\n")[0], op) for v, op in edges) == [
        ("leaf", "a", "MulBackward"), ("saved", "inputs[0]", "MulBackward"),
        ("saved", "result", "ExpBackward")]
    (kept_h,) = [v for v, op in edges if v.label.startswith("inputs[0]")]
    assert kept_h.obj is h


def test_show_attrs_lists_what_an_op_keeps_and_says_when_backward_freed_it():
    a = mg.randn(2, 3, requires_grad=True)
    loss = (a * a).sum(1).sum()
    graph = tape_graph(loss, show_attrs=True)
    labels = [v.label for v in ops(graph)]
    assert any(re.search(r"^dims: \(1,\)$", label, re.M) for label in labels)
    assert any("inputs[0]: [saved tensor]" in label for label in labels)
    loss.backward()
    graph = tape_graph(loss, show_attrs=True)
    assert all("(freed by backward)" in v.label for v in ops(graph))
    check_against_tape(graph, [loss])        # the edges outlive what backward freed


def test_a_custom_functions_saved_tensors_are_drawn_always():
    class Square(mg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    a = mg.randn(3, requires_grad=True)
    graph = tape_graph(Square.apply(a.exp()).sum())
    assert [v.obj.name for v in ops(graph)] == ["SumBackward", "SquareBackward", "ExpBackward"]
    assert [v.label for v in of_kind(graph, "saved")] == ["saved[0]\n(3) float32"]


def test_create_graph_draws_the_backwards_own_ops():
    bn, x, loss = bn_loss()
    forward = tape_graph(loss)
    grads = mg.autograd.grad(loss, (x, bn.weight), create_graph=True)
    graph = tape_graph(grads)
    check_against_tape(graph, grads)
    assert len(of_kind(graph, "output")) == 2
    new = {id(v.obj) for v in ops(graph)} - {id(v.obj) for v in ops(forward)}
    assert len(new) > len(ops(forward))
    assert all(v.obj.seq > loss.grad_fn.seq for v in ops(graph) if id(v.obj) in new)
    # BN's gradient goes through its statistics: the backward reaches the forward's moments
    assert "ChannelMomentsBackward" in {v.obj.name for v in ops(graph) if id(v.obj) not in new}
    # a list works too, and the forward and its gradients can be drawn together
    both = tape_graph([loss, *grads])
    check_against_tape(both, [loss, *grads])
    assert len(ops(both)) == len(ops(forward)) + len(new)


def test_what_is_not_a_graph_is_refused_or_drawn_alone():
    with pytest.raises(TypeError, match="make_dot: expected a tensor .* got ndarray"):
        tape_graph(mg.ones(2).numpy())
    with pytest.raises(TypeError, match="make_dot: output 0 is a list"):
        tape_graph([[1.0]])
    with pytest.raises(TypeError, match="make_dot: expected a tensor"):
        tape_graph(())
    with pytest.raises(TypeError, match="make_dot: output 1 is a float"):
        tape_graph((mg.ones(2, requires_grad=True), 1.0))
    with pytest.raises(RuntimeError, match="make_dot: the output requires grad or has a "
                                           "grad_fn, so no tape"):
        tape_graph(mg.ones(2) * 2)
    with pytest.raises(RuntimeError, match="none of the outputs"):
        tape_graph((mg.ones(2), mg.zeros(1)))
    with pytest.raises(TypeError, match="params must be a dict"):
        tape_graph(mg.ones(2, requires_grad=True), params=[1, 2])
    with pytest.raises(TypeError, match=r"params\['w'\] is a list"):
        tape_graph(mg.ones(2, requires_grad=True), params={"w": [1.0]})
    # a leaf that requires grad is its own one-box picture, as in torchviz
    w = mg.ones(2, requires_grad=True)
    graph = tape_graph(w, params={"w": w})
    assert [(v.kind, v.label) for v in graph.vertices.values()] == [("output", "w\n(2) float32")]
    assert graph.edges == []
    # a constant beside a real output (a gradient that came out constant) is drawn alone
    c = mg.ones(3)
    graph = tape_graph((w.sum(), c))
    assert graph.vertices[str(id(c))].kind == "output"
    assert not [e for e in graph.edges if str(id(c)) in (e.tail, e.head)]


def test_a_deep_tape_is_walked_without_recursion():
    depth = sys.getrecursionlimit() + 100
    t = mg.ones(1, requires_grad=True)
    for _ in range(depth):
        t = t * 1.0
    graph = tape_graph(t)
    assert len(ops(graph)) == depth and len(graph.edges) == depth + 1


# ---------------------------------------------------------------- against PyTorch's graph

def canonical(graph, vid):
    """The ordered expression a vertex computes: its name(first label line) over its inputs."""
    v = graph.vertices[vid]
    if v.kind != "op":
        return v.label.split("\n")[0]
    return v.obj.name + "(" + ", ".join(canonical(graph, t) for t in inputs_of(graph, vid)) + ")"


def torch_canonical(fn, names):
    if fn is None:
        return None
    if type(fn).__name__ == "AccumulateGrad":
        return names[id(fn.variable)]
    inner = [torch_canonical(f, names) for f, _ in fn.next_functions]
    name = re.sub(r"\d+$", "", type(fn).__name__)
    return name + "(" + ", ".join(i for i in inner if i is not None) + ")"


def torch_ops(fn, seen=None):
    seen = set() if seen is None else seen
    if fn is None or fn in seen or type(fn).__name__ == "AccumulateGrad":
        return seen
    seen.add(fn)
    for f, _ in fn.next_functions:
        torch_ops(f, seen)
    return seen


def net(x, w):
    h = (x * w).sigmoid()
    return ((h.exp() - h.tanh()).relu() / 2).mean() + (h * x).sum()


def test_the_graph_is_pytorchs_where_the_op_names_agree(torch, rng):
    """Mul, Sigmoid, Exp, Tanh, Sub, Relu, Div, Mean, Sum, Add: minigrad names these ops as
    PyTorch does, less the trailing 0; the graphs are the same expression with the same
    sharing (h feeds three ops in both)."""
    xs, ws = rng.standard_normal((4, 3)), rng.standard_normal(3)
    x, w = mg.tensor(xs, requires_grad=True), mg.tensor(ws, requires_grad=True)
    tx, tw = torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True)
    loss, tloss = net(x, w), net(tx, tw)
    graph = tape_graph(loss, params={"x": x, "w": w})
    check_against_tape(graph, [loss])
    (root,) = [e.tail for e in graph.edges if e.kind == "output"]
    assert canonical(graph, root) == torch_canonical(tloss.grad_fn, {id(tx): "x", id(tw): "w"})
    assert len(ops(graph)) == len(torch_ops(tloss.grad_fn)) == 11


def test_linear_is_one_op_where_pytorch_records_two(torch, rng):
    """nn.Linear -> ReLU -> sum: Sum and Relu agree; minigrad's Linear primitive is one
    LinearBackward where PyTorch records AddmmBackward0 over TBackward0 (the weight's
    transpose). Other names that differ: MatMul (Mm), PowScalar (Pow), Permute (T),
    Reshape (View)."""
    xs = rng.standard_normal((4, 3)).astype("float32")
    lin, tlin = mg.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    graph = tape_graph(mg.nn.functional.relu(lin(mg.tensor(xs))).sum(),
                       params=lin.named_parameters())
    tloss = torch.nn.functional.relu(tlin(torch.tensor(xs))).sum()
    (root,) = [e.tail for e in graph.edges if e.kind == "output"]
    tnames = {id(p): n for n, p in tlin.named_parameters()}
    assert canonical(graph, root) == "SumBackward(ReluBackward(LinearBackward(weight, bias)))"
    assert torch_canonical(tloss.grad_fn, tnames) == \
        "SumBackward(ReluBackward(AddmmBackward(bias, TBackward(weight))))"


# ---------------------------------------------------------------- the Digraph and the picture

def test_make_dot_draws_the_graph_with_torchvizs_colours():
    graphviz = pytest.importorskip("graphviz")
    bn, x, loss = bn_loss()
    dot = make_dot(loss, params=dict(bn.named_parameters()), show_saved=True)
    assert isinstance(dot, graphviz.Digraph)
    graph = tape_graph(loss, params=dict(bn.named_parameters()), show_saved=True)
    src = dot.source
    for v in graph.vertices.values():
        assert re.search(rf"^\t{v.id} \[", src, re.M)
    assert len(re.findall(r"^\t\d+ -> \d+", src, re.M)) == len(graph.edges)
    assert src.count("fillcolor=lightblue") == len(of_kind(graph, "leaf")) == 3
    assert src.count("fillcolor=darkolivegreen1") == 1
    assert src.count("fillcolor=orange") == len(of_kind(graph, "saved"))
    assert src.count("dir=none") == len([e for e in graph.edges if e.kind == "saved"])
    assert 'taillabel="[1]"' in src


def test_without_graphviz_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r"pip install graphviz .*\[viz\]"):
        make_dot(mg.ones(2, requires_grad=True).sum())


def test_it_renders_to_svg(tmp_path):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed (apt-get install graphviz)")
    bn, x, loss = bn_loss()
    grads = mg.autograd.grad(loss, (x, bn.weight), create_graph=True)
    path = make_dot((loss, *grads), params={"x": x}).render(tmp_path / "tape", format="svg")
    svg = open(path).read()
    assert svg.count('class="node"') == len(tape_graph((loss, *grads)).vertices)
    assert "ChannelMomentsBackward" in svg and "x" in svg


def test_the_readme_picture_is_drawn_by_its_script(tmp_path):
    """docs/make_tape_picture.py draws what docs/examples/bn_tape.svg shows."""
    pytest.importorskip("graphviz")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs"))
    try:
        import make_tape_picture
    finally:
        sys.path.pop(0)
    dot = make_tape_picture.picture()
    assert dot.source.count("fillcolor=white") == 5      # BN's forward tape, Algorithm 1
    committed = make_tape_picture.OUT.read_text()
    assert committed.count('class="node"') == len(set(re.findall(r"^\t(\d+) \[", dot.source, re.M)))
