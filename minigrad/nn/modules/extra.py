"""More layers: transposed convolution, 1-D/3-D and adaptive max
pooling, channel dropout. Each is a thin module over its function in ``nn.functional``."""
from minigrad.creation import empty
from minigrad.nn import functional as F
from minigrad.nn.modules.conv import _AvgPoolNd, _ConvNd, _MaxPoolNd, _tuple
from minigrad.nn.modules.module import Module
from minigrad.nn.parameter import Parameter


class ConvTranspose2d(_ConvNd):
    """The adjoint of Conv2d in its input; weight (in_channels, out_channels/groups, kh, kw)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, dtype=None):
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got "
                             f"{padding!r}")
        # the weight is Conv2d(out, in)'s: (in_channels, out_channels/groups, kh, kw), and
        # its fan-in (what the default init reads) is PyTorch's too; only the bias differs
        super().__init__(out_channels, in_channels, kernel_size, stride, padding, dilation,
                         groups, bias, dtype)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.output_padding = _tuple(output_padding, 2)
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
            self.reset_parameters()

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class MaxPool1d(_MaxPoolNd):
    """max_pool2d over a height of 1."""
    _pool = staticmethod(F.max_pool1d)


class MaxPool3d(_MaxPoolNd):
    """A composite: 2-D max pooling per depth plane, then a maximum over the depth taps."""
    _pool = staticmethod(F.max_pool3d)


class AvgPool1d(Module):
    """avg_pool2d over a height of 1."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _tuple(kernel_size, 1)
        self.stride = self.kernel_size if stride is None else _tuple(stride, 1)
        self.padding = _tuple(padding, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(_AvgPoolNd):
    """A composite: 2-D average pooling per depth plane, then a linear map over depth."""
    _pool = staticmethod(F.avg_pool3d)


class AdaptiveMaxPool2d(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Dropout2d(Module):
    """Zeroes whole channels with probability p in training (minigrad's RNG)."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout2d: probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"
