"""One study per claim about batch normalization, gathered by ``examples/bn_claims.py``.

Each study is a module here with:

- a docstring that states the protocol and what the claim predicts, written before the
  study was first run (the report quotes it; never tune it toward an answer);
- ``NAME`` (the ``--only`` name), ``TITLE`` (a few words), ``CLAIM`` (the claim as the
  literature states it, with the citation), ``PROTOCOL`` (one line for the report's table);
- ``add_arguments(parser)`` (optional): the study's own options, prefixed with its NAME;
- ``run(args, mnist) -> dict``: the results, JSON-able. ``args`` has ``quick``, ``seeds``
  (a list of ints) and the common options of ``_common.parser``; ``mnist`` is
  ``_common.load_mnist``'s tuple (train images, train labels, test images, test labels);
- ``plot(plt, results)``: draws the study's figure on matplotlib's pyplot (``_common.save``
  saves it);
- ``summarize(results) -> dict`` with ``numbers`` (a short Markdown line: the numbers the
  claim rests on, with their spread over seeds), ``verdict`` (one of ``VERDICTS``, decided
  from the numbers by a rule stated in the docstring before the runs) and ``detail``
  (Markdown paragraphs: what the data show and the study's limits). A study that tests
  several claims returns ``rows`` instead of ``numbers`` and ``verdict``: a list of dicts
  with ``title``, ``claim``, ``protocol``, ``numbers`` and ``verdict``, a table row each.
"""
import importlib

VERDICTS = ("reproduced", "partly", "not reproduced", "reversed")

# the report's order; each name is a module of this package
STUDIES = ("depth", "init_scale", "regularization", "steps_to_accuracy", "noisy_bn",
           "landscape", "curvature", "small_batch", "ics", "sequence")


def load(name):
    if name not in STUDIES:
        raise ValueError(f"no study {name!r}; the studies are {', '.join(STUDIES)}")
    return importlib.import_module(f"claims.{name}")
