"""Draw the picture in README.md's BatchNorm section: one BatchNorm1d(3) training-mode
forward on a (4, 3) batch, and the gradient graph its backward records.

    python docs/make_tape_picture.py                      # docs/examples/bn_tape.svg
    python docs/make_tape_picture.py /tmp/bn_tape.png     # the format from the suffix

The loss weights the output with a fixed random tensor r, loss = sum(BN(x) * r), since a
plain sum() would make BN's input gradient identically zero. The gradients of x and of
gamma (``weight``) are taken with create_graph=True, so the ops that BatchNorm's
backward ran are on the tape too; make_dot draws the forward and those ops together.
The forward tape's ops are drawn white, the ones its backward recorded grey. (The
gradient of beta, sum(r) over the batch, is a constant: nothing records it.)

Needs the graphviz Python package and Graphviz's dot program.
"""
import sys
from pathlib import Path

import minigrad as mg
from minigrad.utils.viz import make_dot, tape_graph

OUT = Path(__file__).resolve().parent / "examples" / "bn_tape.svg"


def picture():
    mg.manual_seed(0)
    bn = mg.nn.BatchNorm1d(3)                      # training mode: batch statistics
    x = mg.randn(4, 3, requires_grad=True)
    r = mg.randn(4, 3)
    loss = (bn(x) * r).sum()
    dx, dweight = mg.autograd.grad(loss, (x, bn.weight), create_graph=True)
    names = {"x": x, "weight": bn.weight, "bias": bn.bias,
             "loss": loss, "dloss/dx": dx, "dloss/dweight": dweight}
    dot = make_dot((loss, dx, dweight), params=names)
    for v in tape_graph(loss).vertices.values():   # the forward's own ops
        if v.kind == "op":
            dot.node(v.id, fillcolor="white")
    return dot


def main(path=OUT):
    path = Path(path)
    dot = picture()
    dot.format = path.suffix.lstrip(".")
    dot.render(outfile=path, cleanup=True)
    print(f"wrote {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
