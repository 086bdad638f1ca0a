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
# # Tensors: creation, dtypes, broadcasting, views and einsum
#
# A `torch.Tensor` is a block of memory (its *storage*) plus a description of how to read it: a
# dtype, a shape, *strides* (how many elements to skip to move one step along each dimension) and an
# offset into the storage. Almost every rule below follows from that one picture. Each section ends
# with small `assert`s that state the rule, so the notebook fails if a rule ever stops holding.
#
# Everything runs on the CPU in a fraction of a second.

# %%
import math
import time

import numpy as np
import torch

torch.manual_seed(0)
print("torch", torch.__version__, "| CUDA available:", torch.cuda.is_available())

# %% [markdown]
# ## Creation
#
# From Python data (`torch.tensor` copies and infers a dtype), from a shape (`zeros`, `ones`,
# `empty`, `full`, `rand`, `randn`), from ranges (`arange`, `linspace`), like another tensor
# (`zeros_like`), and from NumPy. `torch.from_numpy` does **not** copy: the tensor and the array share
# memory, so writing one changes the other; `torch.tensor(array)` copies.

# %%
a = torch.tensor([[1, 2, 3], [4, 5, 6]])
print(a, a.dtype, a.shape)
print(torch.zeros(2, 3), torch.arange(0, 10, 3), torch.linspace(0, 1, 5), sep="\n")
print(torch.full((2, 2), 7.0), torch.randn(2, 3).shape, torch.zeros_like(a, dtype=torch.float32).dtype)

arr = np.arange(4.0)
shared, copied = torch.from_numpy(arr), torch.tensor(arr)
arr[0] = 100.0
print("after arr[0] = 100: from_numpy ->", shared[0].item(), "| torch.tensor ->", copied[0].item())
assert shared[0] == 100.0 and copied[0] == 0.0  # from_numpy shares memory, torch.tensor copies
assert shared.dtype == torch.float64  # NumPy's float64 is kept as it is

# %% [markdown]
# ## dtypes
#
# Python ints become `int64`, Python floats the *default* float dtype (`float32`). Arithmetic between
# tensors of different dtypes follows **type promotion**: the result has the "larger" category
# (bool < integer < floating < complex), and a Python scalar never widens a tensor of its own category.
# Integer division with `/` always gives a float; `//` stays integer. Lower precision costs accuracy:
# `float16` and `bfloat16` keep fewer mantissa bits than `float32` (printed below, from `torch.finfo`),
# and `bfloat16` trades mantissa for `float32`'s range.

# %%
i, f = torch.tensor([1, 2, 3]), torch.tensor([1.0, 2.0, 3.0])
print(i.dtype, f.dtype, (i + f).dtype, (i * 2.5).dtype, (i / 2).dtype, (i // 2).dtype)
print("float16 + 2.0 stays", (torch.ones(1, dtype=torch.float16) + 2.0).dtype)
print(
    "torch.result_type(int8, uint8) =",
    torch.result_type(torch.ones(1, dtype=torch.int8), torch.ones(1, dtype=torch.uint8)),
)
assert (i + f).dtype == torch.float32 and (i / 2).dtype == torch.float32 and (i // 2).dtype == torch.int64
assert (torch.ones(1, dtype=torch.float16) + 2.0).dtype == torch.float16  # a Python float does not widen

for dt in (torch.float32, torch.float16, torch.bfloat16):
    fi = torch.finfo(dt)
    x = torch.tensor(1.0 + 1e-3, dtype=dt)
    mantissa = round(-math.log2(fi.eps))
    print(f"{str(dt):15s} mantissa bits={mantissa:2d} eps={fi.eps:.2e} max={fi.max:.2e}  1.001 -> {x.item():.6f}")
assert torch.tensor(1.0 + 1e-3, dtype=torch.bfloat16).item() == 1.0  # below bfloat16's eps/2: rounded away

# %% [markdown]
# ## Devices
#
# A tensor lives on one device; an operation needs all its operands on the same one (a 0-dim tensor is
# the exception). `.to(device)` moves (a no-op returning `self` when already there). The code below
# runs the same on a GPU machine, it just picks `cuda` there.

# %%
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
x = torch.randn(3, device=device)
print(x.device, x.to(device) is x, x.to("cpu", torch.float64).dtype)
assert x.to(device) is x  # nothing to do -> the same tensor object

# %% [markdown]
# ## Broadcasting
#
# Two shapes are aligned **from the right**; each pair of sizes must be equal or one of them 1 (a
# missing leading dimension counts as 1); the result takes the larger size. Size-1 dimensions are
# *expanded* with stride 0, without copying. The classic pitfall: a `(N,)` vector against an `(N, 1)`
# column gives an `(N, N)` matrix, not `N` elementwise results.

# %%
m = torch.arange(6.0).reshape(2, 3)  # (2, 3)
row = torch.tensor([10.0, 20.0, 30.0])  # (3,)  -> (1, 3) -> (2, 3)
col = torch.tensor([[100.0], [200.0]])  # (2, 1) -> (2, 3)
print(m + row, m + col, sep="\n")
assert torch.equal(m + row, m + row.expand(2, 3))
assert torch.broadcast_shapes((5, 1, 4), (3, 1)) == (5, 3, 4)

expanded = row.expand(4, 3)
print("expand gives stride", expanded.stride(), "- no copy, shares storage:", expanded.data_ptr() == row.data_ptr())
assert expanded.stride() == (0, 1)

y_pred, y_true = torch.randn(4), torch.randn(4, 1)  # a classic bug: predictions (N,) vs targets (N, 1)
print("(4,) - (4, 1) ->", tuple((y_pred - y_true).shape))
assert (y_pred - y_true).shape == (4, 4)
try:
    torch.ones(2, 3) + torch.ones(2)
except RuntimeError as e:
    print("incompatible:", str(e).splitlines()[0])

# %% [markdown]
# ## Views against copies
#
# A **view** is a new tensor header on the same storage: `view`, slicing, `transpose`/`t`/`permute`,
# `expand`, `unsqueeze`, `squeeze`, `narrow`, `diagonal`... Writing through a view writes the original.
# A **copy** has its own storage: `clone`, advanced (integer or boolean) indexing, and arithmetic.
# `reshape` returns a view when the strides allow it and copies otherwise.

# %%
base = torch.arange(12.0).reshape(3, 4)
print("shape", tuple(base.shape), "strides", base.stride())
v = base[:, 1]  # basic slicing: a view
v[0] = -1.0
print("after v[0] = -1 through the slice view:", base[0, 1].item())
assert base[0, 1] == -1.0 and v.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()

fancy = base[[0, 2]]  # advanced indexing: a copy
fancy[0, 0] = 999.0
assert base[0, 0] == 0.0

t = base.t()  # transpose: a view with swapped strides
print("t() shape", tuple(t.shape), "strides", t.stride(), "contiguous:", t.is_contiguous())
assert t.stride() == (1, 4) and not t.is_contiguous()

# %% [markdown]
# ### When `.contiguous()` matters
#
# A tensor is *contiguous* when its strides are those of a freshly allocated row-major tensor of its
# shape. `view` only re-describes memory, so it refuses a shape that cannot be read from the existing
# strides; `.contiguous()` (a copy, when needed) or `reshape` fix that. Contiguity can also matter for
# speed: reducing along the last dimension of a transposed tensor walks memory with a stride. The
# timing below shows what it costs on this CPU (PyTorch's reduction kernels reorder loops, so the gap
# is often small; custom kernels and `view`-based code are where contiguity is required).

# %%
try:
    t.view(12)
except RuntimeError as e:
    print("t.view(12) fails:", str(e).split(".")[0])
flat = t.contiguous().view(12)
print("t.contiguous().view(12) =", flat.tolist())
assert torch.equal(flat, t.reshape(12))
assert t.reshape(12).data_ptr() != base.data_ptr()  # reshape had to copy here
assert base.reshape(4, 3).data_ptr() == base.data_ptr()  # ...and did not have to here
assert base.contiguous() is base  # already contiguous: returns self, no copy


def timed(fn, repeat=20):
    fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1e3


big = torch.randn(1500, 1500)
bt = big.t()
ms_strided = timed(lambda: bt.sum(dim=1))
ms_contig = timed(lambda: big.sum(dim=1))
print(f"sum over the last dim: contiguous {ms_contig:.3f} ms, transposed view {ms_strided:.3f} ms")
assert torch.allclose(bt.sum(dim=1), big.sum(dim=0), rtol=1e-4, atol=1e-3)

# %% [markdown]
# ## Indexing
#
# Basic indexing (integers, slices, `None`, `...`) gives views; integer-tensor and boolean-mask
# indexing gather (copies). `torch.where`, `gather` and `scatter_add_`/`index_add_` are the vectorised
# forms of "pick" and "accumulate". Indexed assignment with repeated indices keeps one of the writes;
# `index_put_(..., accumulate=True)` adds them all.

# %%
x = torch.arange(24).reshape(2, 3, 4)
print(x[1, :, -1], x[..., 0], x[:, None].shape, sep="\n")
assert x[..., 0].shape == (2, 3) and x[:, None].shape == (2, 1, 3, 4)

mask = x % 5 == 0
print("boolean mask picks", x[mask].tolist())
assert x[mask].ndim == 1

logits = torch.tensor([[0.1, 2.0, 0.3], [1.5, 0.2, 0.1]])
labels = torch.tensor([1, 0])
picked = logits.gather(1, labels[:, None]).squeeze(1)  # logits[i, labels[i]]
assert torch.equal(picked, logits[torch.arange(2), labels])

counts = torch.zeros(3).index_put_((torch.tensor([0, 0, 2]),), torch.ones(3), accumulate=True)
print("index_put_ with accumulate:", counts.tolist())
assert counts.tolist() == [2.0, 0.0, 1.0]
assert torch.equal(torch.where(x > 10, x, 0).sum(), x[x > 10].sum())

# %% [markdown]
# ## einsum
#
# `torch.einsum` names each dimension with a letter: letters in the output are kept, letters only in
# the inputs are summed over. One notation covers transpose, trace, batched matrix products, outer
# products and attention scores; each line below is checked against the dedicated operator.

# %%
A, B = torch.randn(3, 4), torch.randn(4, 5)
batch1, batch2 = torch.randn(8, 3, 4), torch.randn(8, 4, 5)
q, k = torch.randn(2, 6, 16), torch.randn(2, 7, 16)  # (batch, queries, dim), (batch, keys, dim)
S = torch.randn(5, 5)
checks = {
    "ij->ji (transpose)": (torch.einsum("ij->ji", A), A.t()),
    "ii-> (trace)": (torch.einsum("ii->", S), S.trace()),
    "ij,jk->ik (matmul)": (torch.einsum("ij,jk->ik", A, B), A @ B),
    "bij,bjk->bik (bmm)": (torch.einsum("bij,bjk->bik", batch1, batch2), torch.bmm(batch1, batch2)),
    "i,j->ij (outer)": (torch.einsum("i,j->ij", A[0], B[0]), torch.outer(A[0], B[0])),
    "bqd,bkd->bqk (attention)": (torch.einsum("bqd,bkd->bqk", q, k) / math.sqrt(16), q @ k.transpose(1, 2) / 4.0),
}
for name, (got, want) in checks.items():
    err = (got - want).abs().max().item()
    print(f"{name:26s} shape {str(tuple(got.shape)):12s} max |einsum - op| = {err:.1e}")
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-5)

# %% [markdown]
# ## Check
#
# A small end-to-end use of the rules: pairwise squared distances between two point sets by
# broadcasting (`(N, 1, D) - (1, M, D)`) and by the expansion `|a|² + |b|² - 2 a·b` written with einsum,
# compared with `torch.cdist`.

# %%
pa, pb = torch.randn(50, 3, dtype=torch.float64), torch.randn(40, 3, dtype=torch.float64)
d_broadcast = ((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1)  # (50, 40)
d_einsum = (pa**2).sum(1)[:, None] + (pb**2).sum(1)[None, :] - 2 * torch.einsum("nd,md->nm", pa, pb)
d_ref = torch.cdist(pa, pb) ** 2
err = max((d_broadcast - d_ref).abs().max().item(), (d_einsum - d_ref).abs().max().item())
print(f"pairwise distances {tuple(d_broadcast.shape)}: max deviation from torch.cdist = {err:.2e}")
assert d_broadcast.shape == (50, 40) and err < 1e-9
