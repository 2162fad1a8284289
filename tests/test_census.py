"""Every name of the PyTorch API census (/work/shared/pytorch_api_census.md) that minigrad
provides, at torch's path mapped to minigrad's: ``torch.X`` -> ``minigrad.X``,
``Tensor.X`` -> ``minigrad.Tensor.X``, ``torch.nn.X`` -> ``minigrad.nn.X``. Add names
here as they are made to exist; behaviour is tested in the family test files."""
import importlib

import pytest

CENSUS_NAMES = [
    # tensors: shape, layout, creation like this one
    "Tensor.t", "Tensor.mT", "Tensor.mH", "Tensor.H", "Tensor.view_as", "Tensor.nelement",
    "Tensor.stride", "Tensor.is_contiguous", "Tensor.narrow", "Tensor.movedim",
    "torch.movedim", "Tensor.swapaxes", "Tensor.unflatten", "Tensor.unfold",
    "Tensor.new_zeros", "Tensor.new_ones", "Tensor.new_full", "Tensor.new_empty",
    "Tensor.new_tensor", "torch.Size", "torch.is_tensor", "torch.as_tensor", "torch.concat",
    "torch.concatenate",
    # legacy tensor types
    "torch.LongTensor", "torch.FloatTensor", "torch.BoolTensor", "torch.DoubleTensor",
    "torch.IntTensor", "torch.ByteTensor",
    # linear algebra
    "torch.mm", "Tensor.mm", "torch.bmm", "Tensor.bmm", "torch.mv", "torch.dot", "Tensor.dot",
    "torch.outer", "torch.cross", "torch.norm", "Tensor.norm", "torch.dist", "torch.diag",
    # random sampling
    "torch.multinomial", "torch.randperm", "torch.normal", "Tensor.normal_", "Tensor.uniform_",
    "Tensor.random_", "Tensor.bernoulli_", "torch.bernoulli", "torch.randn_like",
    "torch.rand_like", "torch.empty_like", "torch.randint_like",
    # indexing, searching, sets
    "Tensor.unique", "torch.unique", "torch.nonzero", "Tensor.nonzero", "Tensor.equal",
    "torch.equal", "torch.repeat_interleave", "Tensor.repeat_interleave", "Tensor.scatter_",
    "Tensor.index_add_",
    # elementwise math and logic
    "torch.square", "torch.acos", "torch.asin", "torch.arccos", "torch.arcsin", "torch.arctan",
    "torch.atan", "torch.cosh", "torch.sinh", "torch.isnan", "torch.isinf", "torch.isfinite",
    "torch.bitwise_and", "torch.bitwise_xor", "torch.bitwise_or", "torch.log_softmax",
    "torch.std_mean", "torch.var_mean", "torch.pi", "torch.addcmul", "torch.addcdiv",
    # in place
    "Tensor.unsqueeze_", "Tensor.squeeze_", "Tensor.detach_", "Tensor.neg_", "Tensor.sqrt_",
    "torch.sin_", "Tensor.sin_", "Tensor.addcmul_", "Tensor.addcdiv_",
    # settings, modes, autograd
    "torch.set_printoptions", "torch.get_default_dtype", "torch.set_default_dtype",
    "torch.inference_mode", "torch.no_grad", "torch.autograd.Variable",
    "torch.autograd.function.once_differentiable", "torch.use_deterministic_algorithms",
    "torch.are_deterministic_algorithms_enabled",
    # optimizers, parametrizations, pruning
    "torch.optim.Adadelta", "torch.optim.LBFGS", "torch.nn.utils.parametrize.cached",
    "torch.nn.utils.parametrize.register_parametrization",
    "torch.nn.utils.parametrize.remove_parametrizations",
    "torch.nn.utils.prune.BasePruningMethod", "torch.nn.utils.prune.L1Unstructured",
    "torch.nn.utils.prune.global_unstructured", "torch.nn.utils.prune.l1_unstructured",
    "torch.nn.utils.prune.ln_structured", "torch.nn.utils.prune.random_unstructured",
    "torch.nn.utils.prune.remove",
    # autograd: functional API, forward AD, saved-tensor hooks, leaf hooks
    "torch.autograd.functional.jacobian", "torch.autograd.functional.vjp",
    "torch.autograd.forward_ad.dual_level", "torch.autograd.forward_ad.make_dual",
    "torch.autograd.forward_ad.unpack_dual", "torch.autograd.graph.save_on_cpu",
    "torch.autograd.graph.saved_tensors_hooks", "Tensor.register_post_accumulate_grad_hook",
    # torch.func
    "torch.func.functional_call", "torch.func.vmap", "torch.func.grad", "torch.func.jacrev",
    "torch.func.jvp", "torch.func.vjp", "torch.func.hessian", "torch.func.jacfwd",
    "torch.func.stack_module_state", "torch.vmap",
    # matrix functions and factorizations
    "torch.det", "Tensor.det", "torch.svd", "torch.linalg.eigvalsh", "torch.linalg.solve",
    "torch.matrix_exp",
    # distributions
    "torch.distributions.Categorical", "torch.distributions.Binomial",
    "torch.distributions.Multinomial", "torch.distributions.Poisson",
    # nn: lazy modules
    "torch.nn.LazyLinear", "torch.nn.LazyConv1d", "torch.nn.LazyConv2d", "torch.nn.LazyConv3d",
    "torch.nn.LazyBatchNorm1d", "torch.nn.LazyBatchNorm2d", "torch.nn.LazyBatchNorm3d",
    "torch.nn.UninitializedParameter", "torch.nn.UninitializedBuffer",
    "torch.nn.parameter.is_lazy", "torch.nn.modules.lazy.LazyModuleMixin",
    # nn: layers and their functional forms
    "torch.nn.PixelShuffle", "torch.nn.PixelUnshuffle", "torch.nn.functional.pixel_shuffle",
    "torch.nn.functional.pixel_unshuffle", "torch.nn.ReflectionPad1d", "torch.nn.ReflectionPad2d",
    "torch.nn.ReplicationPad2d", "torch.nn.ZeroPad2d", "torch.nn.ConstantPad2d",
    "torch.nn.CircularPad2d", "torch.nn.PReLU", "torch.nn.functional.prelu", "torch.nn.Threshold",
    "torch.nn.AdaptiveAvgPool1d", "torch.nn.functional.adaptive_avg_pool1d",
    "torch.nn.MaxUnpool2d", "torch.nn.functional.max_unpool2d", "torch.nn.CosineEmbeddingLoss",
    "torch.nn.functional.cosine_embedding_loss", "torch.nn.CosineSimilarity",
    "torch.nn.functional.cosine_similarity", "torch.nn.PairwiseDistance",
    "torch.nn.functional.pairwise_distance", "torch.nn.EmbeddingBag",
    "torch.nn.functional.embedding_bag", "torch.nn.functional.one_hot",
    "torch.nn.functional.relu_", "torch.nn.functional.elu_", "torch.nn.functional.leaky_relu_",
    "torch.nn.functional.hardtanh_", "torch.nn.functional.threshold_",
    "torch.nn.functional.affine_grid", "torch.nn.functional.grid_sample",
    "torch.nn.init.orthogonal_", "torch.nn.init.trunc_normal_", "torch.nn.init.constant",
    "torch.nn.init.kaiming_normal", "torch.nn.init.normal",
    # data loading
    "torch.utils.data.random_split", "torch.utils.data.RandomSampler",
    "torch.utils.data.Subset", "torch.utils.data.IterableDataset",
]


def resolve(name):
    """The minigrad object for a census name (torch's path)."""
    head, *rest = name.split(".")
    if head == "Tensor":
        obj = importlib.import_module("minigrad").Tensor
    else:
        assert head == "torch", f"census names start with torch. or Tensor., got {name}"
        obj = importlib.import_module("minigrad")
    for part in rest:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            module = importlib.import_module(f"{obj.__name__}.{part}")
            obj = module
    return obj


@pytest.mark.parametrize("name", CENSUS_NAMES)
def test_census_name_resolves(name):
    resolve(name)


def test_census_names_are_unique():
    assert len(set(CENSUS_NAMES)) == len(CENSUS_NAMES)
