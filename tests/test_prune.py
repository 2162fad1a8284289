"""nn.utils.prune against torch.nn.utils.prune: the same masks for the deterministic
methods (L1, Ln-structured, global, custom, iterated through the container), the same
parameters, buffers, state dict keys, hooks, outputs, gradients and training; for the
random methods the structure, the counts and the rule that only unpruned entries are
pruned (the random choice itself differs: minigrad's generator)."""
import re

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.nn.utils import prune

R = np.random.default_rng(0)
CONV_W = R.standard_normal((6, 3, 3, 3))
CONV_B = R.standard_normal(6)
LIN_W = R.standard_normal((5, 24))
LIN_B = R.standard_normal(5)
X = R.standard_normal((2, 3, 4, 4))


def _net(lib, lib_nn):
    net = lib_nn.Sequential(lib_nn.Conv2d(3, 6, 3), lib_nn.ReLU(), lib_nn.Flatten(),
                            lib_nn.Linear(24, 5)).double()
    with lib.no_grad():
        for p, v in zip(net.parameters(), (CONV_W, CONV_B, LIN_W, LIN_B)):
            p.copy_(lib.tensor(v))
    return net


def _both(torch):
    import torch.nn.utils.prune as tprune
    return ((mg, nn, prune, _net(mg, nn)), (torch, torch.nn, tprune, _net(torch, torch.nn)))


def _np(t):
    return t.detach().numpy()


def _compare_models(ours, theirs, rtol=1e-12):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    for (k, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=1e-14, err_msg=k)


STEPS = {
    "l1 fraction": lambda p, net: p.l1_unstructured(net[0], "weight", amount=0.3),
    "l1 count": lambda p, net: p.l1_unstructured(net[3], "weight", amount=17),
    "l1 bias": lambda p, net: p.l1_unstructured(net[0], "bias", amount=0.5),
    "l1 twice": lambda p, net: (p.l1_unstructured(net[0], "weight", amount=0.3),
                                p.l1_unstructured(net[0], "weight", amount=0.5)),
    "ln dim 0": lambda p, net: p.ln_structured(net[0], "weight", amount=0.5, n=2, dim=0),
    "ln dim 1 l1": lambda p, net: p.ln_structured(net[0], "weight", amount=1, n=1, dim=1),
    "ln dim -1 inf": lambda p, net: p.ln_structured(net[3], "weight", amount=0.25,
                                                     n=float("inf"), dim=-1),
    "ln -inf": lambda p, net: p.ln_structured(net[3], "weight", amount=2, n=float("-inf"),
                                              dim=0),
    "ln fro": lambda p, net: p.ln_structured(net[3], "weight", amount=0.4, n="fro", dim=0),
    "ln p=3": lambda p, net: p.ln_structured(net[0], "weight", amount=2, n=3, dim=0),
    "l1 then ln": lambda p, net: (p.l1_unstructured(net[0], "weight", amount=0.4),
                                  p.ln_structured(net[0], "weight", amount=0.5, n=2, dim=0)),
    "ln then l1": lambda p, net: (p.ln_structured(net[3], "weight", amount=2, n=1, dim=0),
                                  p.l1_unstructured(net[3], "weight", amount=0.5)),
    "ln twice": lambda p, net: (p.ln_structured(net[0], "weight", amount=2, n=2, dim=0),
                                p.ln_structured(net[0], "weight", amount=2, n=2, dim=0)),
    "global": lambda p, net: p.global_unstructured(
        [(net[0], "weight"), (net[3], "weight"), (net[3], "bias")],
        pruning_method=p.L1Unstructured, amount=0.6),
    "global count after l1": lambda p, net: (
        p.l1_unstructured(net[3], "weight", amount=0.5),
        p.global_unstructured([(net[0], "weight"), (net[3], "weight")],
                              pruning_method=p.L1Unstructured, amount=40)),
    "identity": lambda p, net: p.identity(net[0], "weight"),
    "custom mask": lambda p, net: p.custom_from_mask(
        net[3], "bias", mask=(mg if p is prune else __import__("torch")).tensor(
            [0.0, 1.0, 1.0, 0.0, 1.0], dtype=(mg if p is prune else __import__("torch")).float64)),
    "importance scores": lambda p, net: p.l1_unstructured(
        net[3], "weight", amount=0.5,
        importance_scores=(mg if p is prune else __import__("torch")).tensor(
            np.arange(120.0).reshape(5, 24)[::-1].copy())),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_masks_and_models_match_torch(torch, name):
    nets = []
    for lib, lib_nn, p, net in _both(torch):
        STEPS[name](p, net)
        assert p.is_pruned(net)
        x = lib.tensor(X)
        out = net(x)
        (out ** 2).sum().backward()
        nets.append((net, out))
    (ours, out), (theirs, tout) = nets
    _compare_models(ours, theirs)
    np.testing.assert_allclose(_np(out), _np(tout), rtol=1e-12)
    for (k, a), b in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=k)


def test_the_reparametrization(torch):
    for lib, lib_nn, p, net in _both(torch):
        conv = net[0]
        weight = conv.weight
        method = p.l1_unstructured(conv, "weight", amount=0.3)
        assert method is conv
        assert conv.weight_orig is weight                    # the same Parameter
        assert "weight" not in dict(conv.named_parameters())
        assert conv.weight_mask.dtype == weight.dtype
        hooks = list(conv._forward_pre_hooks.values())
        assert len(hooks) == 1 and isinstance(hooks[0], p.L1Unstructured)
        assert hooks[0]._tensor_name == "weight"
        assert int((conv.weight_mask == 0).sum()) == round(0.3 * 162)
        np.testing.assert_array_equal(_np(conv.weight), _np(conv.weight_orig * conv.weight_mask))
        # the hook recomputes the pruned weight before every forward
        with lib.no_grad():
            weight.add_(1.0)
        net(lib.tensor(X))
        np.testing.assert_array_equal(_np(conv.weight), _np(conv.weight_orig * conv.weight_mask))
        p.l1_unstructured(conv, "weight", amount=0.2)
        hooks = list(conv._forward_pre_hooks.values())
        assert len(hooks) == 1 and isinstance(hooks[0], p.PruningContainer)
        assert len(hooks[0]) == 2 and isinstance(hooks[0][1], p.L1Unstructured)


def test_training_a_pruned_model_as_in_torch(torch):
    nets = []
    for lib, lib_nn, p, net in _both(torch):
        p.global_unstructured([(net[0], "weight"), (net[3], "weight")],
                              pruning_method=p.L1Unstructured, amount=0.5)
        opt = (mg.optim if lib is mg else torch.optim).SGD(net.parameters(), lr=0.05,
                                                          momentum=0.9)
        for _ in range(4):
            opt.zero_grad()
            (net(lib.tensor(X)) ** 2).mean().backward()
            opt.step()
        nets.append(net)
        assert float((net[0].weight == 0).sum()) >= float((net[0].weight_mask == 0).sum())
    _compare_models(*nets)


def test_remove_makes_it_permanent(torch):
    nets = []
    for lib, lib_nn, p, net in _both(torch):
        weight = net[0].weight
        p.ln_structured(net[0], "weight", amount=0.5, n=2, dim=0)
        p.l1_unstructured(net[3], "bias", amount=2)
        p.remove(net[0], "weight")
        assert net[0].weight is weight and isinstance(weight, lib_nn.Parameter)
        assert not hasattr(net[0], "weight_mask") and not hasattr(net[0], "weight_orig")
        assert len(net[0]._forward_pre_hooks) == 0
        assert p.is_pruned(net)
        p.remove(net[3], "bias")
        assert not p.is_pruned(net)
        with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
            p.remove(net[3], "bias")
        nets.append(net)
    _compare_models(*nets)
    assert int((nets[0][0].weight == 0).sum()) == 3 * 27


def test_random_methods_prune_the_right_amount_of_unpruned_units():
    mg.manual_seed(3)
    net = _net(mg, nn)
    prune.random_unstructured(net[3], "weight", amount=0.25)
    mask = net[3].weight_mask.numpy()
    assert set(np.unique(mask)) == {0.0, 1.0} and int((mask == 0).sum()) == 30
    prune.random_unstructured(net[3], "weight", amount=0.5)       # half of the other 90
    mask2 = net[3].weight_mask.numpy()
    assert int((mask2 == 0).sum()) == 30 + 45
    assert np.all(mask2[mask == 0] == 0)
    prune.random_structured(net[0], "weight", amount=2, dim=1)    # 2 of 3 input channels
    m = net[0].weight_mask.numpy()
    per_channel = m.sum(axis=(0, 2, 3))
    assert sorted(per_channel.tolist()) == [0.0, 0.0, 54.0]
    prune.random_structured(net[0], "weight", amount=0.5, dim=0)  # 3 of 6 output channels
    m = net[0].weight_mask.numpy()
    assert int((m.sum(axis=(1, 2, 3)) == 0).sum()) == 3
    assert int((m.sum(axis=(0, 2, 3)) == 0).sum()) == 2         # (still)
    # the same seed prunes the same entries again
    mg.manual_seed(3)
    again = _net(mg, nn)
    prune.random_unstructured(again[3], "weight", amount=0.25)
    np.testing.assert_array_equal(again[3].weight_mask.numpy(), mask)


def test_random_structure_as_torchs(torch):
    import torch.nn.utils.prune as tprune
    for lib, p, net in ((mg, prune, _net(mg, nn)), (torch, tprune, _net(torch, torch.nn))):
        p.random_unstructured(net[3], "bias", amount=0.4)
        p.random_structured(net[0], "weight", amount=0.5, dim=0)
        assert [n for n, _ in net.named_buffers()] == ["0.weight_mask", "3.bias_mask"]
        assert int((net[3].bias_mask == 0).sum()) == 2
        assert int((net[0].weight_mask.sum(dim=(1, 2, 3)) == 0).sum()) == 3


def test_a_custom_method_as_in_the_pytorch_tutorial(torch):
    import torch.nn.utils.prune as tprune
    results = []
    for lib, lib_nn, p in ((mg, nn, prune), (torch, torch.nn, tprune)):
        class FooBarPruningMethod(p.BasePruningMethod):
            """Prune every other entry in a tensor."""
            PRUNING_TYPE = "unstructured"

            def compute_mask(self, t, default_mask):
                mask = default_mask.clone()
                mask.view(-1)[::2] = 0
                return mask

        def foobar_unstructured(module, name):
            FooBarPruningMethod.apply(module, name)
            return module

        net = _net(lib, lib_nn)
        foobar_unstructured(net[3], "bias")
        foobar_unstructured(net[3], "bias")     # (again: on the unpruned entries)
        results.append(_np(net[3].bias_mask))
        t = lib.tensor([1.0, 2.0, 3.0, 4.0])
        results.append(_np(FooBarPruningMethod().prune(t)))
    np.testing.assert_array_equal(results[0], results[2])
    np.testing.assert_array_equal(results[1], results[3])


def test_errors_as_torchs(torch):
    import torch.nn.utils.prune as tprune
    cases = [
        (lambda p, net: p.l1_unstructured(net[0], "weight", amount=1.5), ValueError),
        (lambda p, net: p.l1_unstructured(net[0], "weight", amount=-1), ValueError),
        (lambda p, net: p.l1_unstructured(net[0], "weight", amount="a"), TypeError),
        (lambda p, net: p.l1_unstructured(net[3], "bias", amount=6), ValueError),
        (lambda p, net: p.ln_structured(net[3], "bias", amount=1, n=2, dim=0), ValueError),
        (lambda p, net: p.ln_structured(net[0], "weight", amount=1, n=2, dim=4), IndexError),
        (lambda p, net: p.ln_structured(net[0], "weight", amount=1, n="fro", dim=0),
         RuntimeError),
        (lambda p, net: p.global_unstructured([(net[0], "weight")],
                                              pruning_method=p.RandomStructured, amount=1),
         TypeError),
        (lambda p, net: p.remove(net[0], "weight"), ValueError),
    ]
    for fn, exc in cases:
        messages, names = [], []
        for lib, p, net in ((mg, prune, _net(mg, nn)), (torch, tprune, _net(torch, torch.nn))):
            with pytest.raises(exc) as e:
                fn(p, net)
            messages.append(str(e.value))
            # a failed prune leaves the parameter where it was (last, as in torch)
            names.append([n for n, _ in net.named_parameters()])
            assert not list(net.buffers()) and not net[0]._forward_pre_hooks
        assert names[0] == names[1]
        assert sorted(names[0]) == ["0.bias", "0.weight", "3.bias", "3.weight"]
        if exc is not TypeError:
            ours, theirs = (re.sub(r"torch\.Size\(\[(\d+)\]\)", r"(\1,)", m)
                            .split(" of module")[0].split(" for tensor of size")[0]
                            .split(" (the Frobenius")[0] for m in messages)
            assert ours == theirs


def test_state_dicts_move_between_pruned_models(torch):
    import torch.nn.utils.prune as tprune
    tnet = _net(torch, torch.nn)
    tprune.l1_unstructured(tnet[0], "weight", amount=0.3)
    net = _net(mg, nn)
    prune.identity(net[0], "weight")
    net.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    np.testing.assert_allclose(_np(net(mg.tensor(X))), _np(tnet(torch.tensor(X))), rtol=1e-12)


def test_on_a_device(device):
    net = _net(mg, nn)
    cpu = _net(mg, nn)
    net.to(device)
    for m in (net, cpu):
        prune.l1_unstructured(m[0], "weight", amount=0.3)
        prune.ln_structured(m[0], "weight", amount=2, n=2, dim=0)
        prune.global_unstructured([(m[0], "weight"), (m[3], "weight")],
                                  pruning_method=prune.L1Unstructured, amount=0.5)
    assert net[0].weight_mask.device == mg.device(device)
    for (k, a), b in zip(net.state_dict().items(), cpu.state_dict().values()):
        np.testing.assert_array_equal(a.cpu().numpy(), b.numpy(), err_msg=k)
    np.testing.assert_allclose(net(mg.tensor(X, device=device)).detach().cpu().numpy(),
                               cpu(mg.tensor(X)).detach().numpy(), rtol=1e-10)
