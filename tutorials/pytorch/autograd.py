# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Autograd: the graph, `backward`, `autograd.grad`, `gradcheck`, custom functions, a small engine
#
# Reverse-mode automatic differentiation records every operation on tensors that require gradients
# as a node of a directed acyclic graph, then walks that graph backwards from one scalar, applying the
# chain rule: each node turns the gradient of its output into gradients of its inputs (a
# vector-Jacobian product). This notebook looks at the graph PyTorch builds, the two ways of running
# it (`backward` and `torch.autograd.grad`), how to check gradients numerically, how to write an
# operation with a backward of its own, and finally writes a scalar autograd engine (in the style of
# Karpathy's micrograd) whose gradients and training steps are checked against PyTorch's.

# %%
import math
import random

import torch
import torch.nn.functional as F

_ = torch.manual_seed(0)

# %% [markdown]
# ## The graph
#
# Tensors created by the user with `requires_grad=True` are **leaves**; results of operations on them
# carry a `grad_fn`, the backward node that produced them, and `grad_fn.next_functions` points at the
# nodes of the inputs (`AccumulateGrad` for a leaf: it adds into `.grad`). The graph is built while the
# forward runs (define-by-run), so Python control flow just picks which operations get recorded.

# %%
x = torch.tensor(0.5, requires_grad=True)
w = torch.tensor(-0.8, requires_grad=True)
b = torch.tensor(0.3, requires_grad=True)
z = w * x + b
y = torch.tanh(z)


def show(fn, depth=0):
    """Print the backward graph below grad_fn ``fn``."""
    print("  " * depth + type(fn).__name__)
    for child, _ in fn.next_functions:
        if child is not None:
            show(child, depth + 1)


show(y.grad_fn)
print("leaves:", x.is_leaf, w.is_leaf, "| z is a leaf:", z.is_leaf, "| z.grad_fn:", type(z.grad_fn).__name__)
assert x.is_leaf and not z.is_leaf and y.grad_fn is not None

# %% [markdown]
# ## `backward`
#
# `y.backward()` runs the graph from the scalar `y` and **adds** ∂y/∂leaf into each leaf's `.grad`.
# Non-leaf gradients are not kept unless asked for (`retain_grad`). By hand, with z = w·x + b and
# y = tanh z: ∂y/∂z = 1 − tanh²z, ∂y/∂w = (1 − y²)·x, ∂y/∂x = (1 − y²)·w, ∂y/∂b = 1 − y².

# %%
z.retain_grad()
y.backward()
dz = 1 - y.detach() ** 2
print(f"x.grad={x.grad.item():.6f} w.grad={w.grad.item():.6f} b.grad={b.grad.item():.6f} z.grad={z.grad.item():.6f}")
assert torch.allclose(x.grad, dz * w.detach()) and torch.allclose(w.grad, dz * x.detach())
assert torch.allclose(b.grad, dz) and torch.allclose(z.grad, dz)

# %% [markdown]
# Gradients **accumulate**: a second backward (of a fresh forward, since the first backward freed the
# graph's saved tensors) adds to `.grad` instead of replacing it. That is why training loops call
# `optimizer.zero_grad()`, and also what makes gradient accumulation over micro-batches free.

# %%
first = w.grad.clone()
torch.tanh(w * x + b).backward()
print("after a second backward w.grad doubled:", first.item(), "->", w.grad.item())
assert torch.allclose(w.grad, 2 * first)
try:
    y.backward()  # the graph of y was freed by the first backward
except RuntimeError as e:
    print("backward twice through the same graph:", str(e).split(".")[0])
for leaf in (x, w, b):
    leaf.grad = None

# %% [markdown]
# A non-scalar output needs the vector `v` of the vector-Jacobian product vᵀJ: `out.backward(v)`.
# With v = ones this is the gradient of `out.sum()`.

# %%
u = torch.randn(5, requires_grad=True)
out = u**2  # Jacobian is diag(2u)
v = torch.arange(5.0)
out.backward(v)
assert torch.allclose(u.grad, 2 * u.detach() * v)
print("vector-Jacobian product v * 2u:", u.grad)

# %% [markdown]
# ## `torch.autograd.grad`
#
# `torch.autograd.grad(outputs, inputs)` returns the gradients instead of accumulating them, for any
# tensors in the graph (not only leaves). With `create_graph=True` the backward pass is itself
# recorded, so it can be differentiated again: higher derivatives, gradient penalties, Hessian-vector
# products. For f(s) = s³: f' = 3s², f'' = 6s.

# %%
s = torch.tensor(1.5, requires_grad=True)
f = s**3
(df,) = torch.autograd.grad(f, s, create_graph=True)
(d2f,) = torch.autograd.grad(df, s)
print(f"f'(1.5) = {df.item()}, f''(1.5) = {d2f.item()}, s.grad untouched: {s.grad}")
assert math.isclose(df.item(), 3 * 1.5**2) and math.isclose(d2f.item(), 6 * 1.5) and s.grad is None

# Hessian-vector product of a quadratic 0.5 pᵀAp (Hessian = A), without forming the Hessian
A = torch.randn(4, 4, dtype=torch.float64)
A = A @ A.T
p = torch.randn(4, dtype=torch.float64, requires_grad=True)
vec = torch.randn(4, dtype=torch.float64)
(g,) = torch.autograd.grad(0.5 * p @ A @ p, p, create_graph=True)
(hvp,) = torch.autograd.grad(g @ vec, p)
assert torch.allclose(hvp, A @ vec)
print("Hessian-vector product matches A @ v:", torch.allclose(hvp, A @ vec))

# %% [markdown]
# `torch.no_grad()` (and `torch.inference_mode()`) record nothing, for evaluation; `.detach()` returns
# a tensor that shares memory but is cut from the graph: a constant for the gradient.

# %%
with torch.no_grad():
    frozen = s * 2
q = s * s.detach()  # d/ds of s * const = const
(gq,) = torch.autograd.grad(q, s)
print("under no_grad requires_grad =", frozen.requires_grad, "| d(s * s.detach())/ds =", gq.item())
assert not frozen.requires_grad and gq.item() == s.item()

# %% [markdown]
# ## `gradcheck`
#
# `torch.autograd.gradcheck` compares the analytical Jacobian (from backward) with central finite
# differences, (f(x + ε) − f(x − ε)) / 2ε. Use float64: in float32 the finite-difference error alone
# exceeds the tolerance. It is the test to write for every hand-written backward.

# %%
inp = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
weight = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
print(
    "gradcheck of a linear layer + log_softmax:",
    torch.autograd.gradcheck(lambda a, m: F.log_softmax(a @ m.T, -1), (inp, weight)),
)


# %% [markdown]
# ## A custom `autograd.Function`
#
# When an operation needs a backward of its own (a fused or more stable formula, a kernel autograd
# cannot see through, a deliberately different gradient), subclass `torch.autograd.Function` with
# static `forward` and `backward`. Here: log-sum-exp over the last dimension, computed stably by
# subtracting the maximum; its gradient is the softmax, which backward rebuilds from the saved output:
# ∂/∂xᵢ log Σⱼ exp xⱼ = exp(xᵢ − lse). `gradcheck` verifies it, and it matches `torch.logsumexp`.


# %%
class LogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        m = x.amax(dim=-1, keepdim=True)
        lse = m + (x - m).exp().sum(dim=-1, keepdim=True).log()  # (..., 1)
        ctx.save_for_backward(x, lse)
        return lse.squeeze(-1)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> torch.Tensor:
        x, lse = ctx.saved_tensors
        return grad_out.unsqueeze(-1) * (x - lse).exp()  # softmax(x) scaled by the incoming gradient


xs = torch.randn(6, 7, dtype=torch.float64, requires_grad=True)
print("gradcheck(LogSumExp):", torch.autograd.gradcheck(LogSumExp.apply, (xs,)))
big = torch.tensor([[1000.0, 1000.0], [-1000.0, -1001.0]])
print(
    "stable where the naive formula overflows or underflows:",
    LogSumExp.apply(big).tolist(),
    big.exp().sum(-1).log().tolist(),
)
assert torch.allclose(LogSumExp.apply(big), torch.logsumexp(big, -1))
(g_custom,) = torch.autograd.grad(LogSumExp.apply(xs).sum(), xs)
(g_torch,) = torch.autograd.grad(torch.logsumexp(xs, -1).sum(), xs)
assert torch.allclose(g_custom, g_torch)


# %% [markdown]
# ## A scalar autograd engine in a few dozen lines
#
# The same machinery, for Python floats. Each `Value` stores its number, its gradient, the values it
# was computed from and a closure that pushes its gradient to them (the local chain rule). `backward`
# orders the graph topologically (every node after all the nodes it depends on), seeds the output's
# gradient with 1 and calls the closures in reverse order. Gradients are **added** (`+=`), because a
# value used twice receives gradient along both paths: the same accumulation as PyTorch's `.grad`.


# %%
class Value:
    def __init__(self, data, parents=()):
        self.data, self.grad = float(data), 0.0
        self._parents, self._backward = parents, lambda: None

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = backward
        return out

    def __pow__(self, k):  # k: a Python number
        out = Value(self.data**k, (self,))

        def backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = backward
        return out

    def _unary(self, value, local_grad):
        out = Value(value, (self,))

        def backward():
            self.grad += local_grad * out.grad

        out._backward = backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        return self._unary(t, 1 - t * t)

    def relu(self):
        return self._unary(max(self.data, 0.0), float(self.data > 0))

    def exp(self):
        e = math.exp(self.data)
        return self._unary(e, e)

    def log(self):
        return self._unary(math.log(self.data), 1 / self.data)

    def backward(self):
        order, seen = [], set()

        def visit(v):
            if v not in seen:
                seen.add(v)
                for p in v._parents:
                    visit(p)
                order.append(v)

        visit(self)
        self.grad = 1.0
        for v in reversed(order):
            v._backward()

    __radd__ = __add__
    __rmul__ = __mul__

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __truediv__(self, other):
        return self * other**-1


# %% [markdown]
# First the expression from the top of the notebook, y = tanh(w·x + b), then one with every operation
# and a value reused along several paths; both against PyTorch in float64.

# %%
xv, wv, bv = Value(0.5), Value(-0.8), Value(0.3)
yv = (wv * xv + bv).tanh()
yv.backward()
xt, wt, bt = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.5, -0.8, 0.3))
torch.tanh(wt * xt + bt).backward()
print("engine:", xv.grad, wv.grad, bv.grad)
print("torch: ", xt.grad.item(), wt.grad.item(), bt.grad.item())
assert all(math.isclose(a.grad, t.grad.item(), rel_tol=1e-12) for a, t in [(xv, xt), (wv, wt), (bv, bt)])


def expression(a, c, exp, log, relu):
    """The same formula for Values and for tensors: the operations are passed in."""
    d = a * c + c**3
    e = exp(d / 10) - a
    return log(relu(e) + 1) * d + e / (c * c + 1)


av, cv = Value(0.7), Value(-1.3)
ev = expression(av, cv, Value.exp, Value.log, Value.relu)
ev.backward()
at, ct = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.7, -1.3))
et = expression(at, ct, torch.exp, torch.log, torch.relu)
et.backward()
print(
    f"value {ev.data:.12f} vs {et.item():.12f}; grads a {av.grad:.12f} vs {at.grad.item():.12f}, "
    f"c {cv.grad:.12f} vs {ct.grad.item():.12f}"
)
assert math.isclose(av.grad, at.grad.item(), rel_tol=1e-10) and math.isclose(cv.grad, ct.grad.item(), rel_tol=1e-10)


# %% [markdown]
# ## Training with the engine, step for step against PyTorch
#
# A small tanh network (one hidden layer; its size is printed below) trained by plain gradient descent
# on a two-class problem (points inside or outside a circle), with a logistic loss. The same initial
# weights go into an `nn.Sequential` in float64, and both are trained with the same learning rate for
# the same number of full-batch steps. If the engine's gradients are right, the two loss curves and
# the final weights agree to rounding error: the check at the end of the notebook.


# %%
rng = random.Random(0)
points = [(rng.uniform(-1, 1), rng.uniform(-1, 1)) for _ in range(32)]
labels = [1.0 if px * px + py * py < 0.5 else 0.0 for px, py in points]
H, LR, STEPS = 8, 0.5, 25
print(f"{len(points)} points ({int(sum(labels))} inside the circle), network 2-{H}-1, lr {LR}, {STEPS} steps")

w1 = [[rng.gauss(0, 1) for _ in range(2)] for _ in range(H)]
b1 = [0.0] * H
w2 = [rng.gauss(0, 1 / math.sqrt(H)) for _ in range(H)]
b2 = 0.0

params = {
    "w1": [[Value(v) for v in row] for row in w1],
    "b1": [Value(v) for v in b1],
    "w2": [Value(v) for v in w2],
    "b2": Value(b2),
}
flat = [v for row in params["w1"] for v in row] + params["b1"] + params["w2"] + [params["b2"]]


def engine_loss():
    total = Value(0.0)
    for (px, py), t in zip(points, labels, strict=True):
        hidden = [
            (row[0] * px + row[1] * py + bias).tanh() for row, bias in zip(params["w1"], params["b1"], strict=True)
        ]
        logit = sum((wi * hi for wi, hi in zip(params["w2"], hidden, strict=True)), params["b2"])
        # binary cross-entropy with logits: log(1 + e^z) - t z
        total = total + (logit.exp() + 1).log() - logit * t
    return total / len(points)


net = torch.nn.Sequential(torch.nn.Linear(2, H), torch.nn.Tanh(), torch.nn.Linear(H, 1)).double()
with torch.no_grad():
    net[0].weight.copy_(torch.tensor(w1, dtype=torch.float64))  # float64: torch.tensor(list) would be float32
    net[0].bias.copy_(torch.tensor(b1, dtype=torch.float64))
    net[2].weight.copy_(torch.tensor([w2], dtype=torch.float64))
    net[2].bias.fill_(b2)
X, T = torch.tensor(points, dtype=torch.float64), torch.tensor(labels, dtype=torch.float64)
opt = torch.optim.SGD(net.parameters(), lr=LR)

engine_curve, torch_curve = [], []
for _ in range(STEPS):
    loss_v = engine_loss()
    for v in flat:
        v.grad = 0.0
    loss_v.backward()
    for v in flat:
        v.data -= LR * v.grad
    engine_curve.append(loss_v.data)

    opt.zero_grad()
    loss_t = F.binary_cross_entropy_with_logits(net(X).squeeze(1), T)
    loss_t.backward()
    opt.step()
    torch_curve.append(loss_t.item())

for step in (0, STEPS // 2, STEPS - 1):
    print(f"step {step:2d}: engine loss {engine_curve[step]:.12f}  torch loss {torch_curve[step]:.12f}")

# %%
engine_w1 = torch.tensor([[v.data for v in row] for row in params["w1"]], dtype=torch.float64)
weight_gap = (engine_w1 - net[0].weight.detach()).abs().max().item()
loss_gap = max(abs(a - b) for a, b in zip(engine_curve, torch_curve, strict=True))
print(f"loss fell from {engine_curve[0]:.4f} to {engine_curve[-1]:.4f} in {STEPS} steps")
print(f"largest difference engine vs torch: loss {loss_gap:.2e}, first-layer weights {weight_gap:.2e}")
assert engine_curve[-1] < engine_curve[0]  # it trained
assert loss_gap < 1e-10 and weight_gap < 1e-10  # ...and every step agreed with PyTorch's
