"""``summary(model, ...)``: a layer-by-layer table of a model, after torchinfo's.

One forward pass runs under ``no_grad`` with a pre-hook and a forward hook on every
submodule; the hooks record the order modules are entered (parents before children),
their depth in the call stack and their outputs. Nothing else about the model changes:
the hooks are removed and every module's training flag is put back, even if forward
raises.

What the memory lines estimate (MB are 10**6 bytes, as in torchinfo):

- Input size: the bytes of the input tensors.
- Forward/backward pass size: 2 x the bytes of every tensor that a leaf module (one with
  no submodules) returns, summed over every call of a leaf. The outputs of containers are
  not added again: they are their children's outputs. The factor 2 is torchinfo's guess
  that backward holds a gradient the size of each saved output; temporaries inside a
  layer's composite (BatchNorm's mean and variance, say) are not counted.
- Params size: the bytes of the model's parameters, each shared parameter once; buffers
  (BatchNorm's running statistics) are not parameters and are not counted.
- Estimated total size: the sum of the three.
"""
from ..autograd.grad_mode import no_grad
from ..creation import rand, zeros
from ..dtypes import float32
from ..nn.modules.module import Module
from ..tensor import Tensor

HEADER = ("Layer (type:depth-idx)", "Output Shape", "Param #")
WIDTHS = (40, 25, 25)         # torchinfo's: a 90-column table
MODES = ("eval", "train", "same")


class LayerInfo:
    """One call of one module: a row of the table.

    ``depth`` is its depth in the call stack (the model is 0), ``depth_index`` its place
    among the rows of that depth (counted over the whole model, as torchinfo does),
    ``output_size`` the shape of its output (see ``output_shape``), ``num_params`` the
    parameters the row shows (its own, or all of its subtree when the table cuts the
    subtree off), ``is_recursive`` whether the module was already called earlier in the
    pass (its parameters are then not shown again)."""

    def __init__(self, module, depth, depth_index, is_recursive):
        self.module, self.class_name = module, type(module).__name__
        self.depth, self.depth_index, self.is_recursive = depth, depth_index, is_recursive
        self.is_leaf = next(module.children(), None) is None
        self.output_size, self.output_bytes, self.macs = None, 0, 0
        self.num_params = 0

    def name(self):
        indent = "" if self.depth == 0 else "│    " * (self.depth - 1) + ("├─" if self.depth == 1 else "└─")
        index = "" if self.depth == 0 else f": {self.depth}-{self.depth_index}"
        return f"{indent}{self.class_name}{index}"

    def params_text(self):
        if self.is_recursive:
            return "(recursive)"
        return f"{self.num_params:,}" if self.num_params else "--"

    def __repr__(self):
        return f"{self.class_name}: {self.depth}-{self.depth_index}"


class ModelStatistics:
    """What ``summary`` returns; ``str()`` is the table. ``summary_list`` holds every row
    (``LayerInfo``), also those deeper than ``depth``, which the table leaves out."""

    def __init__(self, summary_list, model, inputs, depth):
        self.summary_list, self.depth = summary_list, depth
        params = list(model.parameters())
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.non_trainable_params = self.total_params - self.trainable_params
        self.total_mult_adds = sum(row.macs for row in summary_list)
        self.total_input = sum(t.nbytes for t in _tensors(inputs))
        self.total_output_bytes = 2 * sum(row.output_bytes for row in summary_list if row.is_leaf)
        self.total_param_bytes = sum(p.nbytes for p in params)

    @staticmethod
    def to_megabytes(num_bytes):
        return num_bytes / 1e6

    def __str__(self):
        rule = "=" * sum(WIDTHS)
        row = lambda cells: "".join(f"{c:<{w}}" for c, w in zip(cells, WIDTHS)).rstrip()
        lines = [rule, row(HEADER), rule]
        for layer in self.summary_list:
            if layer.depth <= self.depth:
                shape = "--" if layer.output_size is None else str(layer.output_size)
                lines.append(row((layer.name(), shape, layer.params_text())))
        mb = self.to_megabytes
        lines += [rule,
                  f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.non_trainable_params:,}",
                  f"Total mult-adds (M): {self.total_mult_adds / 1e6:.2f}",
                  rule,
                  f"Input size (MB): {mb(self.total_input):.2f}",
                  f"Forward/backward pass size (MB): {mb(self.total_output_bytes):.2f}",
                  f"Params size (MB): {mb(self.total_param_bytes):.2f}",
                  f"Estimated Total Size (MB): "
                  f"{mb(self.total_input + self.total_output_bytes + self.total_param_bytes):.2f}",
                  rule]
        return "\n".join(lines)

    __repr__ = __str__


def summary(model, input_size=None, input_data=None, dtypes=None, depth=3, verbose=1,
            mode="eval"):
    """Run one forward pass of ``model`` and tabulate its layers (torchinfo's ``summary``).

    Give either ``input_size``, the shape of one input with its batch dimension (a tuple)
    or a list of shapes, one per positional input, built as uniform random tensors of
    ``dtypes`` (a list, one per input; float32 by default; integer dtypes give zeros), on
    the device of the model's first parameter; or ``input_data``: a tensor, a list or
    tuple of positional tensors, or a dict of keyword arguments.
    ``depth``: the deepest level of nesting the table shows (the model is level 0).
    ``verbose``: 0 prints nothing, 1 prints the table. ``mode``: "eval" (the default, as
    in torchinfo) or "train" sets that mode for the pass; "same" keeps the model's. Either
    way each module's own training flag is restored afterwards.
    Returns a ``ModelStatistics``; the module docstring says what the sizes estimate."""
    if not isinstance(model, Module):
        raise TypeError(f"summary: model must be an nn.Module, not {type(model).__name__}")
    if mode not in MODES:
        raise ValueError(f"summary: mode must be one of {MODES}, not {mode!r}")
    args, kwargs = _inputs(model, input_size, input_data, dtypes)
    summary_list = _run(model, args, kwargs, mode)
    _set_params(summary_list, depth)
    stats = ModelStatistics(summary_list, model, (args, kwargs), depth)
    if verbose:
        print(stats)
    return stats


# ------------------------------------------------------------------ inputs

def _inputs(model, input_size, input_data, dtypes):
    """(positional args, keyword args) for the forward pass."""
    if input_size is None and input_data is None:
        raise ValueError("summary needs input_size (a shape such as (1, 784), or a list of "
                         "shapes) or input_data (a tensor, a list of tensors or a dict of "
                         "keyword tensors) to run a forward pass; neither was given")
    if input_size is not None and input_data is not None:
        raise ValueError("summary takes input_size or input_data, not both; both were given")
    if input_data is not None:
        if isinstance(input_data, Tensor):
            return (input_data,), {}
        if isinstance(input_data, dict):
            return (), dict(input_data)
        if isinstance(input_data, (list, tuple)):
            return tuple(input_data), {}
        raise TypeError(f"summary: input_data must be a tensor, a list or tuple of them, or "
                        f"a dict, not {type(input_data).__name__}")
    shapes = [input_size] if _is_shape(input_size) else list(input_size)
    if not shapes or not all(_is_shape(s) for s in shapes):
        raise ValueError(f"summary: input_size must be a shape (a tuple of ints) or a list "
                         f"of shapes, not {input_size!r}")
    dtypes = [float32] * len(shapes) if dtypes is None else list(dtypes)
    if len(dtypes) != len(shapes):
        raise ValueError(f"summary: {len(dtypes)} dtypes for {len(shapes)} input shapes")
    device = next((p.device for p in model.parameters()), None)
    kw = {} if device is None else {"device": device}
    return tuple(rand(*s, dtype=d, **kw) if d.is_floating_point else zeros(*s, dtype=d, **kw)
                 for s, d in zip(shapes, dtypes)), {}


def _is_shape(size):
    return isinstance(size, (tuple, list)) and all(isinstance(n, int) for n in size)


# ------------------------------------------------------------------ the pass

def _run(model, args, kwargs, mode):
    """The rows of one forward pass, in the order the modules were entered."""
    modules = list(model.modules())
    modes = [m.training for m in modules]
    rows, stack, seen, counts, handles = [], [], set(), {}, []

    def enter(module, _args):
        depth = len(stack)
        counts[depth] = counts.get(depth, 0) + 1
        row = LayerInfo(module, depth, counts[depth], id(module) in seen)
        seen.add(id(module))
        rows.append(row)
        stack.append(row)

    def leave(module, _args, output):
        row = stack.pop()
        row.output_size = output_shape(output)
        row.output_bytes = sum(t.nbytes for t in _tensors(output))
        row.macs = _macs(module, output)

    try:
        for m in modules:
            handles.append(m.register_forward_pre_hook(enter))
            handles.append(m.register_forward_hook(leave))
        if mode != "same":
            model.train(mode == "train")
        with no_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        for m, training in zip(modules, modes):
            m.training = training
    return rows


def _set_params(rows, depth):
    """Each row shows its own parameters; a row at the table's last level whose
    subtree is cut off shows its whole subtree's, so the shown numbers add up."""
    for row in rows:
        if not row.is_recursive:
            recurse = row.depth >= depth and not row.is_leaf
            row.num_params = sum(p.numel() for p in row.module.parameters(recurse=recurse))


def output_shape(output):
    """The shape a row shows: a tensor's as a list; a tuple's first element's (nn.LSTM
    returns ``(output, (h, c))``); a list of tensors as a list of shapes; None if no
    tensor."""
    if isinstance(output, Tensor):
        return list(output.shape)
    if isinstance(output, tuple) and output:
        return output_shape(output[0])
    if isinstance(output, list) and output:
        shapes = [output_shape(o) for o in output]
        return None if all(s is None for s in shapes) else shapes
    if isinstance(output, dict) and output:
        return output_shape(list(output.values()))
    return None


def _tensors(value):
    """Every tensor in a nest of tuples, lists and dicts, each once."""
    found, seen, todo = [], set(), [value]
    while todo:
        v = todo.pop()
        if isinstance(v, Tensor):
            if id(v) not in seen:
                seen.add(id(v))
                found.append(v)
        elif isinstance(v, (tuple, list)):
            todo.extend(v)
        elif isinstance(v, dict):
            todo.extend(v.values())
    return found


def _macs(module, output):
    """Multiply-adds of a Linear or Conv1d/2d/3d: each output element is a dot product of
    length weight[0].numel() (the bias additions are not counted). 0 for other layers."""
    from ..nn import Conv1d, Conv2d, Conv3d, Linear
    if isinstance(module, (Linear, Conv1d, Conv2d, Conv3d)) and isinstance(output, Tensor):
        w = module.weight
        return output.numel() * (w.numel() // w.shape[0])
    return 0
