"""Random in-place fills: ``normal_``, ``uniform_``, ``random_``, ``bernoulli_`` (drawn by
minigrad.sampling, from the global generator or ``generator=``)."""

_ops = _inplace = None   # bound by minigrad.tensor (see minigrad._tensor)


class RandomMixin:
    __slots__ = ()

    def normal_(self, mean=0, std=1, *, generator=None):
        from minigrad import sampling
        return sampling.fill_(self, "normal_", sampling.draw_normal, mean, std, generator)

    def uniform_(self, a=0, b=1, *, generator=None, **aliases):
        """Fill with numbers drawn uniformly from [a, b) (``from``/``to`` also accepted as
        keywords, PyTorch's names)."""
        from minigrad import sampling
        a, b = aliases.pop("from", a), aliases.pop("to", b)
        if aliases:
            raise TypeError(f"uniform_() got an unexpected keyword argument "
                            f"{next(iter(aliases))!r}")
        return sampling.fill_(self, "uniform_", sampling.draw_uniform, a, b, generator)

    def random_(self, *args, generator=None, **aliases):
        """``random_()``, ``random_(to)``, ``random_(from, to)``: integers drawn uniformly
        from [from, to), PyTorch's defaults (see ``sampling.random_bounds``)."""
        from minigrad import sampling
        low, high = sampling.random_bounds(self, args, aliases)
        return sampling.fill_(self, "random_", sampling.draw_integers, low, high, generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        from minigrad import sampling
        return sampling.fill_(self, "bernoulli_", sampling.draw_bernoulli, p, None, generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        from minigrad import sampling
        return sampling.fill_(self, "exponential_", sampling.draw_exponential, lambd, None,
                              generator)
