"""2-D convolution as three primitives closed under differentiation:

    Conv2d(x, w)              -> y
    Conv2dInputGrad(g, w)     -> dx   (the adjoint of Conv2d in x)
    Conv2dWeightGrad(x, g)    -> dw   (the adjoint of Conv2d in w)

Each one's backward is written with the other two, so second derivatives work. Conv1d is
Conv2d over a height of 1. Bias is a broadcast add, its gradient the engine's sum.
"""
import numbers

from minigrad._shapes import window_out_size
from minigrad import backend
from minigrad.autograd.graph import Primitive
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.ops.arithmetic import add
from minigrad.ops.shape import pad as _pad
from minigrad.ops.shape import reshape, squeeze, unsqueeze


class Conv2d(Primitive):
    op_name = "conv2d"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, w, params):
        ctx.params = params
        return backend.of(x).conv2d_forward(x, w, *params)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.inputs
        p = ctx.params
        return (Conv2dInputGrad.apply(g, w, x_shape=ctx.shapes[0], params=p)
                if ctx.next[0] is not None else None,
                Conv2dWeightGrad.apply(x, g, w_shape=ctx.shapes[1], params=p)
                if ctx.next[1] is not None else None)


class Conv2dInputGrad(Primitive):
    op_name = "conv2d backward (input)"
    save_inputs = True

    @staticmethod
    def forward(ctx, g, w, x_shape, params):
        ctx.params = params
        return backend.of(g).conv2d_backward_input(g, w, x_shape, *params)

    @staticmethod
    def backward(ctx, gg):
        g, w = ctx.inputs
        p = ctx.params
        return (Conv2d.apply(gg, w, params=p) if ctx.next[0] is not None else None,
                Conv2dWeightGrad.apply(gg, g, w_shape=ctx.shapes[1], params=p)
                if ctx.next[1] is not None else None)


class Conv2dWeightGrad(Primitive):
    op_name = "conv2d backward (weight)"
    save_inputs = True

    @staticmethod
    def forward(ctx, x, g, w_shape, params):
        ctx.params = params
        return backend.of(x).conv2d_backward_weight(x, g, w_shape, *params)

    @staticmethod
    def backward(ctx, gg):
        x, g = ctx.inputs
        p = ctx.params
        return (Conv2dInputGrad.apply(g, gg, x_shape=ctx.shapes[0], params=p)
                if ctx.next[0] is not None else None,
                Conv2d.apply(x, gg, params=p) if ctx.next[1] is not None else None)


def pair(v, name, op):
    if isinstance(v, numbers.Integral):
        return (int(v), int(v))
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise InvalidArgument(f"{op}: {name} must be an int or a pair, got {v}")
    return v


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """PyTorch's F.conv2d: input (N, C, H, W) or (C, H, W), weight (K, C/groups, kh, kw)."""
    if input.ndim not in (3, 4):
        raise ValueError(f"conv2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                         f"shape {input.shape}")
    if input.ndim == 3:
        return squeeze(conv2d(unsqueeze(input, 0), weight, bias, stride, padding, dilation,
                              groups), 0)
    return _conv(input, weight, bias, stride, padding, dilation, groups, "conv2d")


def _check_operands(op, input, weight, groups):
    """What conv2d and its transpose both need of their operands."""
    if input.ndim != 4 or weight.ndim != 4:
        raise InvalidArgument(f"{op}: expected a 4-D input and weight, got shapes "
                              f"{input.shape} and {weight.shape}")
    if input.array.dtype != weight.array.dtype:
        raise InvalidDtype(f"{op}: input is {input.dtype!r} but weight is {weight.dtype!r}")
    if min(weight.shape[2:]) < 1:
        raise InvalidArgument(f"{op}: kernel size should be greater than zero, got a weight "
                              f"of shape {weight.shape}")
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise InvalidArgument(f"{op}: groups must be a positive integer, got {groups!r}")


def _conv(input, weight, bias, stride, padding, dilation, groups, op):
    _check_operands(op, input, weight, groups)
    N, C, H, W = input.shape
    K, Cg, kh, kw = weight.shape
    if C % groups or K % groups or Cg * groups != C:
        raise InvalidArgument(f"{op}: groups={groups}, weight of shape {weight.shape} expects "
                              f"input with {Cg * groups} channels, got input of shape "
                              f"{input.shape}")
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    if min(stride) < 1 or min(dilation) < 1:
        raise InvalidArgument(f"{op}: stride {stride} and dilation {dilation} must be positive")
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise InvalidArgument(f"{op}: padding='same' needs stride 1, got {stride}")
            total = (dilation[0] * (kh - 1), dilation[1] * (kw - 1))
            left = (total[0] // 2, total[1] // 2)
            extra = (total[0] - 2 * left[0], total[1] - 2 * left[1])
            if any(extra):  # odd total padding: PyTorch puts the extra row/column at the end
                input = _pad(input, (0, extra[1], 0, extra[0]))
            padding = left
        else:
            raise InvalidArgument(f"{op}: padding must be an int, a pair, 'same' or 'valid', "
                                  f"got {padding!r}")
    padding = pair(padding, "padding", op)
    if min(padding) < 0:
        raise InvalidArgument(f"{op}: padding {padding} must not be negative")
    H, W = input.shape[2:]
    Ho = window_out_size(H, kh, stride[0], padding[0], dilation[0])
    Wo = window_out_size(W, kw, stride[1], padding[1], dilation[1])
    if Ho < 1 or Wo < 1:
        raise InvalidArgument(f"{op}: input of spatial size ({H}, {W}) with padding {padding} is "
                              f"smaller than the dilated kernel {(kh, kw)} (dilation {dilation})")
    out = Conv2d.apply(input, weight, params=(stride, padding, dilation, groups))
    if bias is not None:
        if bias.shape != (K,):
            raise InvalidArgument(f"{op}: bias must have shape ({K},), got {bias.shape}")
        out = add(out, reshape(bias, (1, K, 1, 1)))
    return out


def _as_2d(v, height_value):
    """A 1-D conv argument as the 2-D one over a height of 1."""
    if isinstance(v, str):
        return v
    return (height_value, int(v if isinstance(v, numbers.Integral) else v[0]))


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """PyTorch's F.conv1d: input (N, C, L) or (C, L), weight (K, C/groups, k)."""
    if input.ndim not in (2, 3):
        raise ValueError(f"conv1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got shape "
                         f"{input.shape}")
    if input.ndim == 2:
        return squeeze(conv1d(unsqueeze(input, 0), weight, bias, stride, padding, dilation,
                              groups), 0)
    if input.ndim != 3 or weight.ndim != 3:
        raise InvalidArgument(f"conv1d: expected a 3-D input and weight, got shapes {input.shape} "
                              f"and {weight.shape}")
    out = _conv(unsqueeze(input, 2), unsqueeze(weight, 2), None, _as_2d(stride, 1),
                _as_2d(padding, 0), _as_2d(dilation, 1), groups, "conv1d")
    out = squeeze(out, 2)
    if bias is not None:
        K = weight.shape[0]
        if bias.shape != (K,):
            raise InvalidArgument(f"conv1d: bias must have shape ({K},), got {bias.shape}")
        out = add(out, reshape(bias, (1, K, 1)))
    return out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """PyTorch's F.conv_transpose2d: input (N, C_in, H, W) or (C_in, H, W), weight
    (C_in, C_out/groups, kh, kw). It is the adjoint of conv2d in its input, so it is
    ``Conv2dInputGrad`` with this weight (conv2d's (K, C/groups) layout read the other way);
    output_padding adds rows/columns that conv2d's floor division would ignore."""
    op = "conv_transpose2d"
    if input.ndim == 3:
        return squeeze(conv_transpose2d(unsqueeze(input, 0), weight, bias, stride, padding,
                                        output_padding, groups, dilation), 0)
    _check_operands(op, input, weight, groups)
    N, C, H, W = input.shape
    Cin, Cg, kh, kw = weight.shape
    if Cin != C or C % groups:
        raise InvalidArgument(f"{op}: weight of shape {weight.shape} expects input with {Cin} "
                              f"channels (divisible by groups={groups}), got input of shape "
                              f"{input.shape}")
    stride, padding = pair(stride, "stride", op), pair(padding, "padding", op)
    dilation, output_padding = pair(dilation, "dilation", op), pair(output_padding,
                                                                     "output_padding", op)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(output_padding) < 0:
        raise InvalidArgument(f"{op}: stride {stride} and dilation {dilation} must be positive, "
                              f"padding {padding} and output_padding {output_padding} not negative")
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= s and op_ >= d:
            raise InvalidArgument(f"{op}: output padding must be smaller than either stride or "
                                  f"dilation, but got output_padding {output_padding}, stride "
                                  f"{stride} and dilation {dilation}")
    out_hw = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in
                   zip((H, W), stride, padding, dilation, (kh, kw), output_padding))
    if min(out_hw) < 1:
        raise InvalidArgument(f"{op}: input of spatial size ({H}, {W}) gives a non-positive output "
                              f"size {out_hw}")
    out = Conv2dInputGrad.apply(input, weight, x_shape=(N, Cg * groups) + out_hw,
                                params=(stride, padding, dilation, groups))
    if bias is not None:
        if bias.shape != (Cg * groups,):
            raise InvalidArgument(f"{op}: bias must have shape ({Cg * groups},), got {bias.shape}")
        out = add(out, reshape(bias, (1, Cg * groups, 1, 1)))
    return out
