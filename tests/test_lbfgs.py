import subprocess
import sys

import torch

from stylize.lbfgs import LBFGS


def problem(seed: int = 0):
    """A smooth, non-quadratic loss over two parameters of different shapes (as the pyramid's levels)."""
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.randn(20, 20, generator=generator)
    hessian = matrix @ matrix.T / 20 + 0.1 * torch.eye(20)
    start = [torch.randn(2, 3, 2, generator=generator), torch.randn(8, generator=generator)]

    def loss(params):
        flat = torch.cat([p.reshape(-1) for p in params])
        return 0.5 * flat @ hessian @ flat + torch.nn.functional.softplus(3 * flat).sum()

    return start, loss


def run(optimizer_for, steps: int, seed: int = 0):
    start, loss = problem(seed)
    params = [p.clone().requires_grad_(True) for p in start]
    optimizer = optimizer_for(params)
    values = []

    def closure():
        for p in params:
            p.grad = None
        value = loss(params)
        value.backward()
        return value

    for _ in range(steps):
        values.append(optimizer.step(closure).item())
    return params, values, optimizer


def test_same_steps_as_torch_lbfgs_with_one_evaluation_and_no_line_search():
    ours, our_values, _ = run(lambda p: LBFGS(p, lr=1.0, history_size=5), 25)
    theirs, their_values, _ = run(lambda p: torch.optim.LBFGS(
        p, lr=1.0, max_iter=1, history_size=5, tolerance_grad=-1.0, tolerance_change=-1.0), 25)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert our_values[-1] < 0.5 * our_values[0]
    torch.testing.assert_close(torch.tensor(our_values), torch.tensor(their_values), rtol=1e-4, atol=1e-5)


def test_history_is_bounded_and_only_positive_curvature_is_kept():
    _, _, optimizer = run(lambda p: LBFGS(p, history_size=4), 12)
    assert len(optimizer.pairs) == 4
    assert all(y.dot(s) > 0 for s, y in optimizer.pairs)
    flat = torch.ones(20)
    kept = LBFGS([torch.zeros(20, requires_grad=True)], pairs=[(flat, -flat), (flat, flat)]).pairs
    assert len(kept) == 1 and kept[0][1].dot(kept[0][0]) > 0


def test_given_curvature_beats_a_blind_start():
    # The curvature of a finished run, handed to a fresh start: its first steps are quasi-Newton steps,
    # not the tiny steepest-descent step a blind start takes.
    _, _, finished = run(lambda p: LBFGS(p), 15)
    _, blind, _ = run(lambda p: LBFGS(p), 3, seed=0)
    _, informed, _ = run(lambda p: LBFGS(p, pairs=finished.pairs), 3, seed=0)
    assert informed[-1] < blind[-1]


def test_a_transfer_does_not_import_torch_dynamo():
    # Creating any torch.optim optimizer imports torch._dynamo (seconds on a small CPU): the optimization
    # must not pay for it.
    code = (
        "import sys, torch\n"
        "from stylize.tasks.gatys import GatysTransfer\n"
        "from stylize.config import GatysConfig\n"
        "GatysTransfer([torch.rand(1, 3, 40, 40)], GatysConfig(size=0, steps=2), 'cpu')(torch.rand(1, 3, 40, 40))\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
