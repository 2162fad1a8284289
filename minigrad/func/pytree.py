"""Nested containers of tensors (pytrees), as ``torch.func`` walks them: tuples (named
ones too), lists and dicts are nodes whose children are flattened in order (dicts in
insertion order); None is a node without children; anything else is a leaf."""


class Spec:
    """The shape of a pytree: its node type, its keys (dict) or field layout, and its
    children's specs; a leaf's spec has kind "leaf"."""
    __slots__ = ("kind", "type", "context", "children", "num_leaves")

    def __init__(self, kind, type_=None, context=None, children=()):
        self.kind, self.type, self.context, self.children = kind, type_, context, children
        self.num_leaves = 1 if kind == "leaf" else sum(c.num_leaves for c in children)

    def __eq__(self, other):
        return (isinstance(other, Spec) and self.kind == other.kind and self.type is other.type
                and self.context == other.context and self.children == other.children)

    def __repr__(self):
        if self.kind == "leaf":
            return "*"
        if self.kind == "none":
            return "None"
        inner = ", ".join(map(repr, self.children))
        if self.kind == "dict":
            inner = ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.context, self.children))
            return "{" + inner + "}"
        if self.kind == "list":
            return "[" + inner + "]"
        if self.kind == "namedtuple":
            return f"{self.type.__name__}({inner})"
        return "(" + inner + (",)" if len(self.children) == 1 else ")")


_LEAF = Spec("leaf")


def _kind(tree):
    if tree is None:
        return "none"
    t = type(tree)
    if t is dict or isinstance(tree, dict):
        return "dict"
    if t is list:
        return "list"
    if isinstance(tree, tuple):
        return "namedtuple" if hasattr(t, "_fields") else "tuple"
    return "leaf"


def _children(tree, kind):
    if kind == "dict":
        return list(tree.keys()), list(tree.values())
    if kind == "none":
        return None, []
    return None, list(tree)


def tree_flatten(tree):
    """(leaves in order, spec)."""
    leaves = []

    def walk(node):
        kind = _kind(node)
        if kind == "leaf":
            leaves.append(node)
            return _LEAF
        context, kids = _children(node, kind)
        return Spec(kind, type(node), context, tuple(walk(k) for k in kids))
    return leaves, walk(tree)


def tree_unflatten(leaves, spec):
    """The pytree of ``spec``'s shape holding ``leaves`` in order."""
    it = iter(leaves)

    def build(s):
        if s.kind == "leaf":
            return next(it)
        kids = [build(c) for c in s.children]
        if s.kind == "none":
            return None
        if s.kind == "dict":
            return s.type(zip(s.context, kids)) if s.type is not dict else dict(zip(s.context,
                                                                                    kids))
        if s.kind == "namedtuple":
            return s.type(*kids)
        return s.type(kids) if s.kind == "list" else tuple(kids)
    return build(spec)


def tree_map(fn, tree):
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def broadcast_prefix(prefix, spec):
    """``prefix`` (a pytree whose leaves, None included, each stand for a whole subtree of
    ``spec``: vmap's in_dims/out_dims) as one value per leaf of ``spec``; None when it
    does not match."""
    out = []

    def walk(p, s):
        kind = _kind(p)
        if kind in ("leaf", "none"):
            out.extend([p] * s.num_leaves)
            return True
        if kind != s.kind or type(p) is not s.type:
            return False
        context, kids = _children(p, kind)
        if len(kids) != len(s.children) or (kind == "dict" and context != s.context):
            return False
        return all(walk(k, c) for k, c in zip(kids, s.children))
    return out if walk(prefix, spec) else None
