"""Stochastic Weight Averaging and BatchNorm statistics, with PyTorch's names and semantics
(``torch.optim.swa_utils``).

- ``update_bn(loader, model)`` recomputes every BatchNorm's running statistics on a frozen
  model: the statistics reset, then a cumulative average (``momentum=None``) over one pass
  of ``loader`` in training mode without gradients. This is also "PreciseBN" (Wu & Johnson
  2021, 'Rethinking "Batch" in BatchNorm', §3): population statistics of the final
  weights, rather than the exponential average of statistics the weights had while they
  were still changing.
- ``AveragedModel`` keeps an average of a model's weights (SWA, Izmailov et al. 2018, or an
  exponential moving average with ``get_ema_multi_avg_fn``).
- ``SWALR`` anneals each group's learning rate to a constant ``swa_lr``.
"""
import copy
import itertools
import math

from minigrad.autograd.grad_mode import no_grad
from minigrad.creation import tensor
from minigrad.dtypes import int64
from minigrad.nn.modules.module import Module
from minigrad.nn.modules.normalization import _BatchNorm
from minigrad.optim.adam import _lerp_
from minigrad.optim.lr_scheduler import LRScheduler, _per_group
from minigrad.tensor import Tensor

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         f"[0,1] range.")


def _integer_in_place(name):
    return TypeError(f"{name}: integer tensors cannot be averaged in place (PyTorch's "
                     f"foreach kernels refuse them too); average floating-point tensors, or "
                     f"use get_swa_avg_fn / get_ema_avg_fn")


def get_ema_multi_avg_fn(decay=0.999):
    """An in-place EMA over lists of tensors: W_ema = decay W_ema + (1 - decay) W_model
    (a lerp by 1 - decay, as PyTorch's foreach lerp rounds it)."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        if ema_param_list[0].is_floating_point():
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                _lerp_(p_ema.array, p_model.array, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """An in-place equal-weight average over lists of tensors: W_avg += (W_model - W_avg) /
    (n + 1), with n the number of models averaged so far (a lerp by 1 / (n + 1))."""
    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if not averaged_param_list[0].is_floating_point():
            raise _integer_in_place("get_swa_multi_avg_fn")
        # the weight as PyTorch computes it: 1 / (n + 1) in the default float dtype
        weight = float((1 / (num_averaged + 1)) if isinstance(num_averaged, Tensor)
                       else 1.0 / (num_averaged + 1))
        for p_avg, p_model in zip(averaged_param_list, current_param_list, strict=True):
            _lerp_(p_avg.array, p_model.array, weight)
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """EMA of one tensor: returns decay W_ema + (1 - decay) W_model."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """Equal-weight average of one tensor: returns W_avg + (W_model - W_avg) / (n + 1)."""
    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (on ``device`` if given) whose parameters are an average of the
    ones ``update_parameters(model)`` is given, as ``torch.optim.swa_utils.AveragedModel``.

    The first call copies the model's parameters; later calls combine them with
    ``avg_fn(averaged, current, n_averaged)`` (returns the new value), or
    ``multi_avg_fn(averaged_list, current_list, n_averaged)`` (updates in place, called once
    per (device, dtype) group), or, with neither, the equal-weight average (SWA). With
    ``use_buffers=True`` the buffers (BatchNorm's running statistics) are averaged the same
    way; otherwise they are copied from ``model`` at every update. ``n_averaged`` (a buffer)
    counts the updates. ``avg_fn`` and ``multi_avg_fn`` are not in the state dict.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @no_grad()
    def update_parameters(self, model):
        if self.use_buffers:
            mine = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            mine, theirs = self.parameters(), model.parameters()
        pairs = [(p_avg.detach(), p_model.detach().to(p_avg.device))
                 for p_avg, p_model in zip(mine, theirs)]
        first = int(self.n_averaged.item()) == 0
        if first:
            for p_avg, p_model in pairs:
                p_avg.copy_(p_model)
        elif self.multi_avg_fn is not None or self.avg_fn is None:
            groups = {}   # (device, dtype) -> pairs, in the order first seen
            for p_avg, p_model in pairs:
                groups.setdefault((str(p_avg.device), p_avg.dtype), []).append((p_avg, p_model))
            for group in groups.values():
                device = group[0][0].device
                n = self.n_averaged.to(device)
                averaged, current = [p for p, _ in group], [q for _, q in group]
                if self.multi_avg_fn is not None:
                    self.multi_avg_fn(averaged, current, n)
                elif device.type == "cuda":   # PyTorch's foreach route on GPUs
                    get_swa_multi_avg_fn()(averaged, current, n)
                else:
                    average = get_swa_avg_fn()
                    for p_avg, p_model in group:
                        p_avg.copy_(average(p_avg, p_model, n))
        else:
            for p_avg, p_model in pairs:
                p_avg.copy_(self.avg_fn(p_avg, p_model, self.n_averaged.to(p_avg.device)))
        if not self.use_buffers:
            # the buffers are not averaged: keep them in step with the model's
            for b_avg, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_avg.detach().copy_(b_model.detach().to(b_avg.device))
        self.n_averaged.array[...] += 1


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute the running statistics of every BatchNorm layer of ``model`` from one pass
    over ``loader``, as ``torch.optim.swa_utils.update_bn``: each layer's statistics reset
    and its ``momentum`` set to None (a cumulative average over the batches), the model run
    in training mode without gradients on each batch (a tensor, or a list or tuple whose
    first element is the input; moved to ``device`` if given), then the momenta and the
    model's mode restored. Nothing happens when the model has no BatchNorm layer.

    The layers are the subclasses of ``_BatchNorm``: BatchNorm1d/2d/3d, their lazy forms,
    SyncBatchNorm and BatchRenorm. A layer frozen by ``nn.utils.freeze_batchnorm`` stays
    as it is (its statistics are neither reset nor recomputed: it stays in eval mode even
    under ``model.train()``, so resetting it would leave it with zero means and unit
    variances)."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm) and not module.frozen:
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        for input in loader:
            if isinstance(input, (list, tuple)):
                input = input[0]
            if device is not None:
                input = input.to(device)
            model(input)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's learning rate from its value to ``swa_lr`` (one per group, or
    one for all) over ``anneal_epochs`` steps, by ``anneal_strategy`` 'cos' ((1 - cos(pi
    t)) / 2) or 'linear' (t), then holds it there: PyTorch's SWALR, step for step."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        for lr, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups,
                             strict=True):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        # the lr before annealing is recovered from the current one, so SWALR composes with
        # other changes to group["lr"] as PyTorch's does
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs, strict=True)]

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" \
            else self._linear_anneal

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
