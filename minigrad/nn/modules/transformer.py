"""Transformer layers: ``TransformerEncoderLayer`` (self-attention and a feed-forward
block, each with a residual connection and a LayerNorm) and ``TransformerEncoder`` (a
stack of copies of one layer), with PyTorch's submodule names, so that state dicts load
either way.

PyTorch's eval-mode fast paths (its fused encoder kernel, and nested tensors for padded
batches) are not reproduced: they compute the same function, and minigrad has one
definition. The one visible difference: with ``enable_nested_tensor`` and a padding mask,
PyTorch's fast path returns zeros at padded positions, where this (and PyTorch's own
ordinary path) returns the layer's output there."""
import copy

from minigrad.creation import full
from minigrad.nn import functional as F
from minigrad.nn.functional.attention import _canonical_mask
from minigrad.nn.modules.attention import MultiheadAttention
from minigrad.nn.modules.dropout import Dropout
from minigrad.nn.modules.linear import Linear
from minigrad.nn.modules.module import Module, ModuleList
from minigrad.nn.modules.normalization import LayerNorm


def _activation(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    if isinstance(activation, str) or not callable(activation):
        raise ValueError(f"TransformerEncoderLayer: activation should be 'relu', 'gelu' or a "
                         f"callable, not {activation!r}")
    return activation


def _square_subsequent_mask(size, device=None, dtype=None):
    """The causal mask as PyTorch writes it: -inf above the diagonal, 0 elsewhere."""
    return full((size, size), float("-inf"), dtype=dtype, device=device).triu(1)


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block (linear1, activation, dropout, linear2),
    each added back to its input: post-norm, ``norm(x + block(x))``, by default (as in
    Vaswani et al. 2017), or pre-norm, ``x + block(norm(x))``, with ``norm_first``."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 dtype=None):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias, dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias, dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src (S, N, E) (``batch_first``: (N, S, E)) or unbatched (S, E); ``src_mask``
        (S, S) or (N·nhead, S, S), ``src_key_padding_mask`` (N, S): boolean (True = masked
        out) or additive float. ``is_causal`` says that ``src_mask`` is the causal mask."""
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                               src.dtype, src_mask, "src_mask")
        src_mask = _canonical_mask(src_mask, "src_mask", src.dtype)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ``layers.1``, ...),
    then ``norm`` if given. ``enable_nested_tensor`` and ``mask_check`` are accepted and
    kept for PyTorch's signature; they only steer PyTorch's nested-tensor fast path, which
    minigrad does not have (see the module's docstring)."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """As ``TransformerEncoderLayer.forward``, through every layer. ``is_causal=None``
        (the default) detects the causal mask: a square ``mask`` equal to
        ``-inf`` above the diagonal and 0 elsewhere, or its boolean form."""
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                               src.dtype, mask, "mask")
        mask = _canonical_mask(mask, "mask", src.dtype)
        if src.ndim == 2:
            seq_len = src.shape[0]
        else:
            seq_len = src.shape[1 if self.layers[0].self_attn.batch_first else 0]
        is_causal = _detect_is_causal_mask(mask, is_causal, seq_len)
        out = src
        for layer in self.layers:
            out = layer(out, src_mask=mask, is_causal=is_causal,
                        src_key_padding_mask=src_key_padding_mask)
        return self.norm(out) if self.norm is not None else out


def _detect_is_causal_mask(mask, is_causal, size):
    """``is_causal`` as given, or (when None) whether ``mask`` is the causal mask."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    causal = _square_subsequent_mask(size, mask.device, mask.dtype)
    return tuple(mask.shape) == tuple(causal.shape) and bool((mask == causal).all())
