"""``make_dot(output)``: the tape behind a tensor as a Graphviz picture, after torchviz.

Reading the tape is kept apart from drawing it: ``tape_graph`` walks back from the
outputs along each node's edges (``Node.next``, what PyTorch calls ``next_functions``)
and returns plain vertices and edges; ``make_dot`` only turns those into a
``graphviz.Digraph``. So the picture's structure is testable without Graphviz.

What is drawn, with torchviz's colours and its vertex ids (``id()`` of the object):

- one grey box per recorded op (a tape node), named as in ``grad_fn=<...>`` with the
  shape and dtype of each output it produced;
- one light blue box per leaf tensor a gradient flows to, named from ``params``;
- one green (darkolivegreen1) box per tensor passed in as an output;
- with ``show_saved``, one orange box per tensor or array an op keeps for its backward,
  joined to that op by an undirected edge (a kept leaf or output is not drawn twice: the
  edge goes to its box).

Where it differs from torchviz: minigrad has no ``AccumulateGrad`` node (an edge of the
tape points at the leaf itself), so a leaf is one box, not a box and a grey node; op
names have no ``0`` suffix (``MulBackward``, as minigrad's ``grad_fn`` repr says); views
have no ``_base`` to draw.
"""
from collections import namedtuple

from minigrad import backend
from minigrad.autograd.function import _FunctionBackward
from minigrad.autograd.graph import Node, SavedOutput, _Packed
from minigrad.tensor import Tensor

# kind: "op" (a tape node), "leaf", "output" or "saved"; obj: the Node, Tensor or array
Vertex = namedtuple("Vertex", ("id", "kind", "label", "obj"))
# kind: "input" (tail's output feeds head: the tape's edge), "output" (an op made the
# output tensor) or "saved" (op head keeps tail for its backward; drawn without an
# arrow); slot: which output of a multi-output op the edge carries (None for an op with
# one output)
Edge = namedtuple("Edge", ("tail", "head", "kind", "slot"))
TapeGraph = namedtuple("TapeGraph", ("vertices", "edges"))

COLORS = {"leaf": "lightblue", "output": "darkolivegreen1", "saved": "orange"}

# what a node keeps that is bookkeeping, not a value its backward reads
_BOOKKEEPING = frozenset(("_versions", "_out_versions", "_hooks", "needs_input_grad",
                          "forward_stack"))


def make_dot(output, params=None, show_saved=False, show_attrs=False, max_attr_chars=50):
    """A ``graphviz.Digraph`` of the tape that produced ``output`` (torchviz's
    ``make_dot``): render it with ``.render(...)``, or show it in a notebook.

    ``output``: a tensor, or a tuple or list of tensors (the gradients returned by
    ``autograd.grad(..., create_graph=True)``, say: then the backward's own recorded ops
    are drawn, reaching back into the forward's). ``params``: a dict (or pairs, as
    ``named_parameters()`` gives) of name -> tensor, to name the leaf boxes.
    ``show_saved``: draw what each op keeps for its backward (a custom Function's saved
    tensors are drawn always, as torchviz does). ``show_attrs``: list in each op's box the
    values it keeps (a tensor as ``[saved tensor]``), cut to ``max_attr_chars``.

    Needs the ``graphviz`` Python package (``pip install graphviz``, or the ``[viz]``
    extra); rendering to an image also needs Graphviz's ``dot`` program."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("make_dot needs the graphviz Python package: pip install graphviz "
                          "(or minigrad's [viz] extra); rendering an image also needs "
                          "Graphviz's dot program") from None
    graph = tape_graph(output, params, show_saved, show_attrs, max_attr_chars)
    node_attr = dict(style="filled", shape="box", align="left", fontsize="10",
                     ranksep="0.1", height="0.2", fontname="monospace")
    dot = graphviz.Digraph(node_attr=node_attr, graph_attr=dict(size="12,12"))
    for v in graph.vertices.values():
        color = COLORS.get(v.kind)
        dot.node(v.id, v.label, **({"fillcolor": color} if color else {}))
    for e in graph.edges:
        attrs = {"dir": "none"} if e.kind == "saved" else {}
        if e.slot is not None:   # which output of a multi-output op travels here
            attrs.update(taillabel=f"[{e.slot}]", fontsize="8", fontname="monospace")
        dot.edge(e.tail, e.head, **attrs)
    # torchviz's resize_graph: the drawing grows with its content, from 12 inches
    size = max(12, len(dot.body) * 0.15)
    dot.graph_attr.update(size=f"{size},{size}")
    return dot


def tape_graph(output, params=None, show_saved=False, show_attrs=False, max_attr_chars=50):
    """What ``make_dot`` draws, as a ``TapeGraph``: ``vertices`` (a dict id -> Vertex, in
    the order they were found) and ``edges`` (a list of Edge, one per edge of the tape,
    so an op that takes one tensor twice has two)."""
    outputs = _outputs(output)
    names = _param_names(params)
    nodes, made = _walk(outputs)
    graph = TapeGraph({}, [])

    def add(vid, kind, label, obj):
        if vid not in graph.vertices:
            graph.vertices[vid] = Vertex(vid, kind, label, obj)

    for t in outputs:
        add(str(id(t)), "output", _tensor_label(names.get(id(t), ""), t), t)
        if t._node is not None:
            graph.edges.append(Edge(str(id(t._node)), str(id(t)), "output", t._slot))
    for node in nodes:
        add(str(id(node)), "op", _op_label(node, made[node], show_attrs, max_attr_chars), node)
        for e in node.next:
            if e is None:
                continue
            if isinstance(e, Tensor):
                add(str(id(e)), "leaf", _tensor_label(names.get(id(e), ""), e), e)
                tail, slot = e, None
            else:
                tail, slot = (e, None) if type(e) is Node else e
            graph.edges.append(Edge(str(id(tail)), str(id(node)), "input", slot))
    # last, so that a kept leaf or output keeps its own box and colour
    for node in nodes:
        if not (show_saved or isinstance(node.op, _FunctionBackward)):
            continue
        for name, value in _kept(node):
            if isinstance(value, Tensor) or backend.is_array(value):
                add(str(id(value)), "saved", _tensor_label(name, value), value)
                graph.edges.append(Edge(str(id(value)), str(id(node)), "saved", None))
    return graph


# ------------------------------------------------------------------ reading the tape

def _outputs(output):
    if isinstance(output, Tensor):
        outputs = (output,)
    elif isinstance(output, (tuple, list)) and output:
        outputs = tuple(output)
    else:
        raise TypeError(f"make_dot: expected a tensor or a non-empty tuple or list of tensors, "
                        f"got {type(output).__name__}")
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dot: output {i} is a {type(t).__name__}, not a tensor")
    # a constant among several outputs is drawn alone (a gradient that came out constant,
    # say), as torchviz would; with nothing but constants there is no tape to draw
    if all(t._node is None and not t.requires_grad for t in outputs):
        which = "the output" if len(outputs) == 1 else "none of the outputs"
        raise RuntimeError(
            f"make_dot: {which} requires grad or has a grad_fn, so no tape leads to it (was "
            f"it computed under no_grad, or from tensors that do not require grad?)")
    unique = {id(t): t for t in outputs}   # (one box per tensor, passed twice or not)
    return tuple(unique.values())


def _param_names(params):
    if params is None:
        return {}
    pairs = params.items() if hasattr(params, "items") else params
    names = {}
    for pair in pairs:
        try:
            name, t = pair
        except (TypeError, ValueError):
            raise TypeError("make_dot: params must be a dict of name -> tensor, or (name, "
                            "tensor) pairs such as named_parameters() gives") from None
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dot: params[{name!r}] is a {type(t).__name__}, not a tensor")
        names[id(t)] = name
    return names


def _walk(outputs):
    """Every node reachable from ``outputs`` (depth first, each once, iteratively: graphs
    can be 10,000s of nodes deep), and for each the (shape, dtype) of every output slot
    that something in the graph consumes: a consumer records its inputs' shapes."""
    made = {}
    order = []
    stack = []
    for t in outputs:
        if t._node is not None:
            made.setdefault(t._node, {})[t._slot or 0] = (tuple(t.shape), t.array.dtype)
            stack.append(t._node)
    seen = set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        for i, e in reversed(list(enumerate(node.next))):
            if e is None or isinstance(e, Tensor):
                continue
            producer, slot = (e, 0) if type(e) is Node else e
            made.setdefault(producer, {})[slot] = (node.shapes[i], node.dtypes[i])
            if producer not in seen:
                stack.append(producer)
    return order, made


def _kept(node):
    """(name, value) for each value ``node`` keeps for its backward, named as a reader of
    the op's rules would: ``inputs[i]``, ``result`` (its saved output), ``saved[i]`` (a
    Function's ``save_for_backward``) and the names its forward set on ``ctx``."""
    extras = node.__dict__
    for name, value in extras.items():
        if name in _BOOKKEEPING:
            continue
        if name == "_packed":        # what went through saved_tensors_hooks
            for inner, entry in value.items():
                for label, v in _named(inner, entry, node):
                    yield label + " (packed)", v.value if type(v) is _Packed else v
            continue
        if name == "_outs" and isinstance(node.op, _FunctionBackward):
            continue                 # (a Function keeps its outputs for their shapes)
        yield from _named(name, value, node)


def _named(name, value, node):
    if name == "inputs":
        yield from ((f"inputs[{i}]", t) for i, t in enumerate(value))
    elif name == "_out":
        yield "result", value
    elif name == "_outs":
        yield from ((f"result[{k}]", a) for k, a in enumerate(value))
    elif name == "saved":
        outs = node.__dict__.get("_outs", ())
        for i, s in enumerate(value):
            yield f"saved[{i}]", outs[s.slot] if type(s) is SavedOutput else s
    elif name.startswith("_"):
        return
    elif type(value) in (tuple, list) and any(_is_value(v) for v in value):
        yield from ((f"{name}[{i}]", v) for i, v in enumerate(value))
    else:
        yield name, value


def _is_value(v):
    return isinstance(v, (Tensor, _Packed)) or backend.is_array(v)


# ------------------------------------------------------------------ labels

def _shape(shape):
    return "(" + ", ".join(str(n) for n in shape) + ")"


def _array(value):
    return value.array if isinstance(value, Tensor) else value


def _tensor_label(name, t):
    a = _array(t)
    return "\n".join(([name] if name else []) + [f"{_shape(a.shape)} {a.dtype}"])


def _op_label(node, made, show_attrs, max_attr_chars):
    lines = [node.name]
    if node.n_out == 1:
        if 0 in made:
            shape, dtype = made[0]
            lines.append(f"{_shape(shape)} {dtype}")
    else:
        lines += [f"[{k}] {_shape(shape)} {dtype}" for k, (shape, dtype) in sorted(made.items())]
    if show_attrs:
        attrs = {name: ("[saved tensor]" if _is_value(v) else str(v)) for name, v in _kept(node)}
        if node.released:
            attrs = {"(freed by backward)": ""}
        if attrs:
            lines += _attr_lines(attrs, max(max(map(len, lines)), 1), max(max_attr_chars, 3))
    return "\n".join(lines)


def _attr_lines(attrs, width, max_chars):
    """torchviz's table under the name: a rule, then ``name: value`` per line."""
    col1 = max(len(k) for k in attrs)
    col2 = min(max(len(v) for v in attrs.values()), max_chars)

    def cut(s):
        return s[:col2 - 3] + "..." if len(s) > col2 else s
    return ["-" * max(col1 + col2 + 2, width)] + [f"{k:<{col1}}: {cut(v):>{col2}}"
                                                  for k, v in attrs.items()]
