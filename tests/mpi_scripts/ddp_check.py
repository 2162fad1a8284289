"""DDP + SyncBatchNorm training equals single-process training on the whole batch; plus
broadcast_parameters, all_reduce's gradcheck/gradgradcheck, and a rank whose gradient for
an all_reduce output is absent.

    mpiexec -n 2 python tests/mpi_scripts/ddp_check.py
"""
import numpy as np
from _harness import check, expect, finish, rank, sum_over_ranks, world

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd.function import Function
from minigrad.autograd.gradcheck import gradcheck, gradgradcheck
from minigrad.distributed import DistributedDataParallel, broadcast_parameters, get_world_size
from minigrad.distributed.nn.functional import all_reduce


def net():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 5 * 5, 6), nn.BatchNorm1d(6), nn.Tanh(),
                         nn.Linear(6, 3)).double()


def same_on_all_ranks(name, arrays):
    for i, a in enumerate(arrays):
        a = np.asarray(a, np.float64)
        expect(f"{name} [{i}] identical on every rank",
               np.array_equal(sum_over_ranks(a), world * a))


# ---- broadcast_parameters: ranks initialised differently end up with rank 0's values
mg.manual_seed(100 + rank)
model = net()
model[1].running_mean.array[...] = rank        # buffers too
broadcast_parameters(model)
same_on_all_ranks("after broadcast_parameters",
                  [p.detach().numpy() for p in model.parameters()] + [model[1].running_mean.numpy()])

# ---- DDP + SyncBN, k SGD-momentum steps on equal shards == one process on the full batch
mg.manual_seed(7 + rank)                       # DDP's own broadcast makes them equal
model = nn.SyncBatchNorm.convert_sync_batchnorm(net())
ddp = DistributedDataParallel(model)
expect("ddp.module is the wrapped module", ddp.module is model)
reference = net()
reference.load_state_dict(model.state_dict())
opt = mg.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
ref_opt = mg.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
rng = np.random.default_rng(3)
per_rank = 4
for step in range(3):
    X = rng.standard_normal((per_rank * world, 2, 5, 5))
    Y = rng.integers(0, 3, per_rank * world)
    mine = slice(rank * per_rank, (rank + 1) * per_rank)
    opt.zero_grad()
    loss = F.cross_entropy(ddp(mg.tensor(X[mine])), mg.tensor(Y[mine]))
    loss.backward()
    # by the time backward returns, .grad is already the average over ranks
    same_on_all_ranks(f"step {step} grads", [p.grad.numpy() for p in model.parameters()])
    opt.step()
    ref_opt.zero_grad()
    F.cross_entropy(reference(mg.tensor(X)), mg.tensor(Y)).backward()
    ref_opt.step()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        check(f"step {step} {name}", p.detach().numpy(), q.detach().numpy(), 1e-12)
    for (name, b), c in zip(model.named_buffers(), reference.buffers()):
        check(f"step {step} buffer {name}", b.numpy(), c.numpy(), 1e-12)

# ---- all_reduce: gradcheck and gradgradcheck (the same inputs on every rank)
x = mg.tensor(np.random.default_rng(5).standard_normal((3, 4)), requires_grad=True)
w = mg.tensor(np.random.default_rng(6).standard_normal((3, 4)), requires_grad=True)
expect("all_reduce gradcheck", gradcheck(lambda a, b: all_reduce(a * b) * a, (x, w),
                                         raise_exception=False))
expect("all_reduce gradgradcheck", gradgradcheck(lambda a, b: all_reduce(a * b) * a, (x, w),
                                                 raise_exception=False))
# different values per rank: the gradient is that of the loss summed over ranks
xr = mg.tensor(np.arange(4.0) + rank, requires_grad=True)
(all_reduce(xr * xr) * (rank + 1.0)).sum().backward()
check("d(sum_r L_r)/dx", xr.grad.numpy(), 2 * (np.arange(4.0) + rank) * sum(range(1, world + 1)),
      1e-12)


class NoGrad(Function):
    """Passes its input on but sends no gradient back (returns None)."""

    @staticmethod
    def forward(ctx, t):
        return t * 1.0

    @staticmethod
    def backward(ctx, g):
        return None


# ---- a rank whose loss sends no gradient to the all_reduce output still joins its backward
z = mg.tensor(np.ones(3), requires_grad=True)
y = all_reduce(z * 2.0)
loss = (y * 3.0).sum() if rank == 0 else NoGrad.apply(y).sum() + z.sum()
loss.backward()
check("gradient with another rank's gradient absent", z.grad.numpy(),
      np.full(3, 6.0 if rank == 0 else 7.0), 0)
expect("world size", get_world_size() == world)
finish()
