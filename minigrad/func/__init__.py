"""``torch.func``: composable function transforms (grad, vjp, jvp, jacrev, jacfwd, hessian,
vmap) and the functional form of modules (functional_call, stack_module_state).

See each module for what minigrad does in place of PyTorch's batching and forward-mode
machinery: ``vmap`` loops over the batch, forward mode is the double-vector-Jacobian
trick. Results, structures and errors follow PyTorch."""
from minigrad.func.eager_transforms import (grad, grad_and_value, hessian, jacfwd, jacrev, jvp,
                                            vjp)
from minigrad.func.functional_call import functional_call, stack_module_state
from minigrad.func.vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call", "stack_module_state"]
