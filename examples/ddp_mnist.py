"""The cnn_mnist.py net trained data-parallel over MPI, with SyncBatchNorm.

Each rank trains on its own shard of every global batch (DistributedSampler); gradients
are averaged across ranks by DistributedDataParallel, and every BatchNorm is a
SyncBatchNorm, so its statistics are those of the global batch however few images each
rank holds. Rank 0 alone shows the progress bar, logs and writes the checkpoint.

    mpiexec -n 2 python examples/ddp_mnist.py            # needs pip install 'minigrad[mpi]'
    python examples/ddp_mnist.py --quick                 # a world of one process works too
"""
import os

from _common import Training, accuracy, load_mnist, parser, setup
from cnn_mnist import conv_bn_net

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn as nn


def main():
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1, help="passes over the training set")
    p.add_argument("--batch-size", type=int, default=32, help="images per step on each rank")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate")
    args = p.parse_args()
    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    setup(args)
    x_train, y_train, x_test, y_test = load_mnist(args)
    if args.quick:
        x_train, y_train, x_test, y_test = x_train[:1280 * world], y_train[:1280 * world], \
            x_test[:1000], y_test[:1000]
    train = mg.data.TensorDataset(x_train, y_train)
    sampler = dist.DistributedSampler(train, shuffle=True, seed=args.seed, drop_last=True)
    loader = mg.data.DataLoader(train, batch_size=args.batch_size, sampler=sampler,
                                drop_last=True)
    if rank == 0:
        print(f"{world} rank(s): {args.batch_size} images per rank per step, global batch "
              f"{args.batch_size * world}; {len(loader)} steps per epoch")

    model = nn.SyncBatchNorm.convert_sync_batchnorm(conv_bn_net())
    ddp = dist.DistributedDataParallel(model)   # rank 0's initial weights on every rank
    opt = mg.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9, nesterov=True)
    bar = Training(args.epochs * len(loader), "ddp_mnist") if rank == 0 else None
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)                 # a new shuffle, the same on every rank
        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(ddp(x), y)
            loss.backward()                      # gradients averaged over ranks on return
            opt.step()
            if bar is not None:
                bar.step(loss=loss.item())
        if rank == 0:                            # eval: running statistics, no communication
            with bar.paused():
                acc = accuracy(model, x_test, y_test)
                bar.show(test_acc=acc)
    if rank == 0:
        bar.close()
        print(f"trained {args.epochs} epoch(s) in {bar.seconds:.1f} s on {world} rank(s); "
              f"test accuracy {acc:.4f}")
        path = os.path.join(args.out, "ddp_mnist.pt")
        mg.save(model.state_dict(), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
