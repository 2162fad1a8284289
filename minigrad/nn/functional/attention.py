"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward`` (the
function behind ``nn.MultiheadAttention``), composites of matmul, softmax and where.

Two mask conventions meet here, as in PyTorch. ``scaled_dot_product_attention`` reads a
boolean mask as *True = may attend*; ``MultiheadAttention`` (and the transformer layers)
read it as *True = masked out*, and turn it into an additive float mask (-inf where True)
before anything else. A float mask is added to the scores in both.

Rows whose every score is -inf (every key masked) are where the two functions differ, as
in PyTorch 2.13: ``scaled_dot_product_attention`` gives zeros there, output and
gradients (PyTorch's "safe softmax"), while ``multi_head_attention_forward`` with
``need_weights=True`` computes its weights with a plain softmax and gives NaN."""
import math
import warnings

from minigrad import ops
from minigrad.creation import ones, zeros
from minigrad.dtypes import bool_ as _bool
from minigrad.errors import InvalidArgument, InvalidDtype
from minigrad.nn.functional.dropout import dropout
from minigrad.nn.functional.linear import linear
from minigrad.ops import pad


def _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa):
    op = "scaled_dot_product_attention"
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise InvalidArgument(f"{op}: expected query, key and value to be at least 2-D, got "
                              f"shapes {query.shape}, {key.shape} and {value.shape}")
    if not (query.dtype == key.dtype == value.dtype):
        raise InvalidDtype(f"{op}: expected query, key and value to have the same dtype, got "
                           f"{query.dtype}, {key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1]:
        raise InvalidArgument(f"{op}: query's last dimension (E) must equal key's, got query "
                              f"{query.shape} and key {key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise InvalidArgument(f"{op}: key and value must have the same length S (dimension "
                              f"-2), got key {key.shape} and value {value.shape}")
    if not 0 <= dropout_p <= 1:
        raise InvalidArgument(f"{op}: dropout_p must be in [0, 1], got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise InvalidArgument(f"{op}: explicit attn_mask should not be set when is_causal=True")
    if attn_mask is not None and attn_mask.dtype != _bool and attn_mask.dtype != query.dtype:
        raise InvalidDtype(f"{op}: expected attn_mask to be bool or of query's dtype "
                           f"({query.dtype}), got {attn_mask.dtype}")
    if enable_gqa:
        if query.ndim < 3 or key.ndim < 3 or value.ndim < 3 \
                or query.shape[-3] % key.shape[-3] or query.shape[-3] % value.shape[-3]:
            raise InvalidArgument(f"{op}: enable_gqa needs the query's heads (dimension -3) to "
                                  f"be a multiple of key's and value's, got query "
                                  f"{query.shape}, key {key.shape}, value {value.shape}")


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q Kᵀ · scale + mask) V over the last two dimensions; the leading ones
    broadcast. ``attn_mask``: boolean (True = may attend) or float (added to the scores),
    broadcastable to (..., L, S); ``is_causal``: query i attends to keys 0..i (the
    top-left triangle, also when L != S); ``scale`` defaults to 1/sqrt(E); ``dropout_p``
    is applied to the weights whenever it is positive (the caller passes 0 in eval);
    ``enable_gqa``: key and value heads (dimension -3) are repeated to the query's."""
    _check_sdpa(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    if enable_gqa:
        key = key.repeat_interleave(query.shape[-3] // key.shape[-3], -3)
        value = value.repeat_interleave(query.shape[-3] // value.shape[-3], -3)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = ops.matmul(query, key.transpose(-2, -1)) * scale
    if is_causal:
        attn_mask = ones(L, S, dtype=_bool, device=query.device).tril()
    if attn_mask is not None:
        if _broadcast(scores.shape, attn_mask.shape) != tuple(scores.shape):
            raise InvalidArgument(
                f"scaled_dot_product_attention: attn_mask of shape {attn_mask.shape} must "
                f"broadcast to the scores' shape {scores.shape} (..., L, S) without growing it")
        if attn_mask.dtype == _bool:
            scores = ops.where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask
        # a row with every key masked gives zeros, as PyTorch's safe softmax; its scores
        # are replaced before the softmax too, so that no NaN reaches a gradient
        dead = (scores.detach() == float("-inf")).all(dim=-1, keepdim=True)
        if bool(dead.any()):
            weights = ops.where(dead, 0.0, ops.softmax(ops.where(dead, 0.0, scores), -1))
        else:
            weights = ops.softmax(scores, -1)
    else:
        weights = ops.softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, training=True)
    return ops.matmul(weights, value)


def _broadcast(a, b):
    out = []
    for x, y in zip((1,) * (len(b) - len(a)) + tuple(a), (1,) * (len(a) - len(b)) + tuple(b)):
        if x != y and 1 not in (x, y):
            raise InvalidArgument(f"scaled_dot_product_attention: attn_mask of shape {b} "
                                  f"does not broadcast to the scores' shape {a} (..., L, S)")
        out.append(max(x, y))
    return tuple(out)


def _canonical_mask(mask, name, dtype, other=None, other_name=""):
    """MultiheadAttention's masks as additive floats: a boolean one becomes -inf where
    True (masked out) and 0 elsewhere; a float one is used as it is."""
    if mask is None:
        return None
    if mask.dtype != _bool and not mask.is_floating_point():
        raise InvalidDtype(f"only bool and floating types of {name} are supported, got "
                           f"{mask.dtype}")
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. "
                      f"Use same type for both instead.")
    if mask.dtype == _bool:
        return zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(
            mask, float("-inf"))
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched (3-D query), refusing shapes that fit neither form."""
    op = "MultiheadAttention"
    if query.ndim not in (2, 3):
        raise InvalidArgument(f"{op}: query should be unbatched 2-D (L, E) or batched 3-D, "
                              f"got shape {query.shape}")
    batched = query.ndim == 3
    form = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise InvalidArgument(f"{op}: for {form} query {query.shape}, expected key and value "
                              f"to be {query.ndim}-D, got {key.shape} and {value.shape}")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise InvalidArgument(f"{op}: for {form} query {query.shape}, expected "
                              f"key_padding_mask to be {query.ndim - 1}-D, got "
                              f"{key_padding_mask.shape}")
    if attn_mask is not None:
        if attn_mask.ndim not in (2, 3):
            raise InvalidArgument(f"{op}: for {form} query {query.shape}, expected attn_mask "
                                  f"to be 2-D or 3-D, got {attn_mask.shape}")
        expected = (num_heads, query.shape[0], key.shape[0])
        if not batched and attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
            raise InvalidArgument(f"{op}: expected a 3-D attn_mask of shape {expected} for "
                                  f"unbatched query {query.shape}, got {attn_mask.shape}")
    return batched


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """PyTorch's function of the same name, sequence first: query (L, N, E), key (S, N,
    kdim), value (S, N, vdim), or unbatched without N. Returns (output (L, N, E), weights
    (N, L, S) averaged over heads, (N, heads, L, S), or None when not ``need_weights``).
    With ``need_weights`` the weights are an explicit softmax (a fully masked row gives
    NaN, as PyTorch's); without, the heads go through ``scaled_dot_product_attention``."""
    op = "MultiheadAttention"
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{op}: static_k and static_v are not supported")
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype,
                                       attn_mask, "attn_mask")
    if is_causal and attn_mask is None:
        raise InvalidArgument(f"{op}: need attn_mask if specifying the is_causal hint (a "
                              f"causal mask such as Transformer.generate_square_subsequent_mask)")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None   # scaled_dot_product_attention builds the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query.dtype)
        if key_padding_mask is not None:
            is_causal = False   # the merged mask below carries the causal part
    if embed_dim != embed_dim_to_check:
        raise InvalidArgument(f"{op}: was expecting embedding dimension of "
                              f"{embed_dim_to_check}, but got query {query.shape}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise InvalidArgument(f"{op}: embed_dim {embed_dim} not divisible by num_heads "
                              f"{num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise InvalidArgument(f"{op}: key's sequence and batch dims {tuple(key.shape[:2])}"
                                  f" do not match value's {tuple(value.shape[:2])}")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if key.shape != value.shape:
            raise InvalidArgument(f"{op}: key shape {key.shape} does not match value shape "
                                  f"{value.shape}")
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    for x, w, what in ((key, w_k, "key"), (value, w_v, "value")):
        if x.shape[-1] != w.shape[1]:
            raise InvalidArgument(f"{op}: expected {what} with {w.shape[1]} features in the "
                                  f"last dimension (kdim/vdim), got shape {x.shape}")
    b_q, b_k, b_v = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise InvalidArgument(f"{op}: the shape of the 2-D attn_mask is "
                                      f"{attn_mask.shape}, but should be {(tgt_len, src_len)}")
            attn_mask = attn_mask.unsqueeze(0)
        elif tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise InvalidArgument(f"{op}: the shape of the 3-D attn_mask is {attn_mask.shape}, "
                                  f"but should be {(bsz * num_heads, tgt_len, src_len)}")
    if bias_k is not None and bias_v is not None:
        k = ops.cat([k, bias_k.repeat(1, bsz, 1)])
        v = ops.cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    elif bias_k is not None or bias_v is not None:
        raise InvalidArgument(f"{op}: bias_k and bias_v must be given together")

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zero = zeros(bsz * num_heads, 1, head_dim, dtype=k.dtype, device=k.device)
        k, v = ops.cat([k, zero], dim=1), ops.cat([v, zero], dim=1)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise InvalidArgument(f"{op}: expected key_padding_mask of shape {(bsz, src_len)} "
                                  f"(N, S), got {key_padding_mask.shape}")
        key_padding_mask = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(
            bsz, num_heads, 1, src_len).reshape(bsz * num_heads, 1, src_len)
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = ops.matmul(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
        if attn_mask is not None:
            scores = attn_mask + scores
        weights = ops.softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p)
        out = ops.matmul(weights, v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
            attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    return (out if batched else out.squeeze(1)), None
