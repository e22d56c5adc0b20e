"""L-BFGS as the optimization of tasks/gatys/ uses it: one loss evaluation per step, no line search, and a
curvature history that can be handed to a resampled problem (the next scale of the pyramid).

This is the step torch.optim.LBFGS takes with max_iter=1 and no line search (same first step, same pair
test, same initial Hessian scale; tests/test_lbfgs.py checks the two agree), written out because:
- creating any torch.optim optimizer imports torch._dynamo: 1.2 s on a 2-core CPU (torch already imported),
  2 % of the default 512 px run, a larger share on a GPU, where the optimization itself takes seconds;
- the pyramid carries the curvature pairs to the next scale, which with torch's optimizer meant writing
  into its private state dict.

The two-loop recursion is Algorithm 7.4 of Nocedal & Wright, "Numerical Optimization" (2nd ed., 2006); the
initial Hessian scale s.y / y.y is their equation 7.20.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

# A pair is kept only when its curvature s.y is clearly positive, which keeps the inverse Hessian positive
# definite, so every direction is a descent direction (torch.optim.LBFGS uses the same threshold).
CURVATURE_EPS = 1e-10

Pair = tuple[torch.Tensor, torch.Tensor]  # (s, y): a step taken and the change of the gradient over it


class LBFGS:
    """Minimizes closure() over `params` (tensors with requires_grad, updated in place).

    Each step() calls the closure once (it zeroes and fills the gradients and returns the loss), turns the
    gradient into a quasi-Newton direction from the last `history_size` pairs, and moves the parameters by
    lr times it. `pairs` (oldest first, flat over all parameters in order) may be given to start from a
    known curvature instead of a blind first step.
    """

    def __init__(self, params: Sequence[torch.Tensor], lr: float = 1.0, history_size: int = 50,
                 pairs: Sequence[Pair] = ()) -> None:
        self.params = list(params)
        self.lr = lr
        self.history_size = history_size
        self.pairs: list[Pair] = [pair for pair in pairs if pair[1].dot(pair[0]) > CURVATURE_EPS][-history_size:]
        self._previous: tuple[torch.Tensor, torch.Tensor] | None = None  # (last step, gradient before it)

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([
            (p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self.params
        ])

    def _direction(self, grad: torch.Tensor) -> torch.Tensor:
        """-H grad by the two-loop recursion; scalars stay tensors, so a GPU never waits on them."""
        q = grad.neg()
        if not self.pairs:
            return q
        inverse_curvatures = [1.0 / y.dot(s) for s, y in self.pairs]
        alphas = []
        for (s, y), rho in zip(reversed(self.pairs), reversed(inverse_curvatures), strict=True):
            alpha = rho * s.dot(q)
            q.addcmul_(y, alpha, value=-1)
            alphas.append(alpha)
        s_last, y_last = self.pairs[-1]
        q.mul_(y_last.dot(s_last) / y_last.dot(y_last))
        for (s, y), rho, alpha in zip(self.pairs, inverse_curvatures, reversed(alphas), strict=True):
            beta = rho * y.dot(q)
            q.addcmul_(s, alpha - beta)
        return q

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        grad = self._flat_grad()
        if self._previous is not None:
            last_step, last_grad = self._previous
            change = grad - last_grad
            if change.dot(last_step) > CURVATURE_EPS:
                self.pairs = [*self.pairs, (last_step, change)][-self.history_size:]
        first = self._previous is None and not self.pairs
        # The very first step is steepest descent, at most 1 in the sum of absolute gradient entries (as
        # torch's), since without curvature nothing tells its scale.
        rate = self.lr
        if first:
            rate *= min(1.0, 1.0 / max(grad.abs().sum().item(), 1e-30))
        step = self._direction(grad).mul_(rate)
        offset = 0
        for p in self.params:
            count = p.numel()
            p.add_(step[offset:offset + count].view_as(p))
            offset += count
        self._previous = (step, grad)
        return loss
