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
# # Training loops: by hand, with Lightning Fabric, and with `dlzoo.train`
#
# One small MLP classifier trained three times on the same split:
#
# 1. a **hand-written loop**: shuffle, forward, loss, `backward`, `step`, evaluate; nothing else;
# 2. the same loop under **Lightning Fabric**, which takes over device placement, precision and
#    distribution (`fabric.setup`, `fabric.backward`) and leaves the loop itself to you;
# 3. **`dlzoo.train("mlp_classifier", ...)`**, the package's loop (built on Fabric), with overrides that
#    give it the same architecture and hyperparameters; it adds a validated config, a run directory,
#    logged metrics, checkpoints, a final evaluation, plots and a model card.
#
# The three reach the same test accuracy (checked at the end, within a tolerance stated there), and a
# table of measured times shows what each layer costs. The data are scikit-learn's bundled 8x8 digits
# (offline), or a slice of MNIST when `DLZOO_DATA` holds the MNIST files.

# %%
import os
import time

t_import = time.perf_counter()
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import_torch_s = time.perf_counter() - t_import

import dlzoo  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.base import DataError  # noqa: E402

torch.set_num_threads(1)

# %% [markdown]
# ## Data and hyperparameters
#
# The split is dlzoo's (a stratified `train_test_split` for digits, the published split for MNIST), loaded
# once here so all three loops see exactly the same tensors; `dlzoo.train` loads the same split itself.
# Inputs are standardized with the training set's per-feature mean and standard deviation: `dlzoo`'s
# MLP does that inside the model (a `Standardize` layer whose statistics are saved with the weights);
# the hand-written loops do it once to the data, which computes the same numbers.

# %%
MNIST_ARGS = {"flatten": True, "limit": 2000}  # MNIST: the first 2000 train and test images, (N, 784)
DATA_NAME, DATA_ARGS = "digits", {}
if os.environ.get("DLZOO_DATA"):
    try:
        data = load_dataset("mnist", **MNIST_ARGS)
        DATA_NAME, DATA_ARGS = "mnist", MNIST_ARGS
    except DataError as e:  # no MNIST files there: fall back to the bundled digits
        print("MNIST not available:", str(e).splitlines()[0][:120])
if DATA_NAME == "digits":
    data = load_dataset("digits")

HIDDEN, EPOCHS, BATCH, LR, SEED = 64, 30, 64, 3e-3, 0  # dlzoo's "tiny" preset for mlp_classifier
x_tr, y_tr, x_te, y_te = data.train.x, data.train.y, data.test.x, data.test.y
n_classes = data.info.num_classes
print(f"{DATA_NAME}: train {tuple(x_tr.shape)}, test {tuple(x_te.shape)}, {n_classes} classes")
print(f"MLP {x_tr.shape[1]}-{HIDDEN}-{n_classes}, Adam lr {LR}, batch {BATCH}, {EPOCHS} epochs, seed {SEED}")

mean = x_tr.double().mean(0)
std = x_tr.double().std(0, unbiased=False)
std = torch.where(std > 1e-8, std, torch.ones_like(std))  # constant pixels (always 0) keep std 1
mean, std = mean.float(), std.float()
z_tr, z_te = (x_tr - mean) / std, (x_te - mean) / std


def make_model() -> nn.Module:
    """The network: Linear -> ReLU -> Linear (logits). Same module order as dlzoo's MLP, so the same seed
    gives the same initial weights."""
    return nn.Sequential(nn.Linear(z_tr.shape[1], HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, n_classes))


def batches(epoch: int, x: torch.Tensor, y: torch.Tensor):
    """Shuffled mini-batches; the order depends only on (seed, epoch)."""
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(SEED + epoch))
    for start in range(0, len(x), BATCH):
        idx = order[start : start + BATCH]
        yield x[idx], y[idx]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


# %% [markdown]
# ## 1. The hand-written loop
#
# Everything is visible: `model.train()`, one forward per batch, the cross-entropy of the logits,
# `zero_grad` / `backward` / `step`, and an evaluation at the end. Seeding `torch` before building the
# model fixes the initial weights; `batches` fixes the order.

# %%
# untimed warm-up: the first training steps in a process pay one-off costs (lazy initialisation,
# first allocations) that would otherwise land in this loop's time only
warm = make_model()
warm_opt = torch.optim.Adam(warm.parameters(), lr=LR)
for xb, yb in batches(0, z_tr, y_tr):
    warm_opt.zero_grad()
    F.cross_entropy(warm(xb), yb).backward()
    warm_opt.step()

torch.manual_seed(SEED)
model = make_model()
opt = torch.optim.Adam(model.parameters(), lr=LR)
t0 = time.perf_counter()
for epoch in range(EPOCHS):
    model.train()
    for xb, yb in batches(epoch, z_tr, y_tr):
        loss = F.cross_entropy(model(xb), yb)  # (B, C) logits, (B,) labels -> ()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
hand_s = time.perf_counter() - t0
hand_acc = accuracy(model, z_te, y_te)
hand_weights = [p.detach().clone() for p in model.parameters()]
print(f"hand-written loop: test accuracy {hand_acc:.4f}, final train-batch loss {loss.item():.4f}, {hand_s:.2f} s")

# %% [markdown]
# ## 2. Lightning Fabric
#
# Fabric keeps the loop and replaces three lines: `fabric.setup` moves the model and optimizer to the
# chosen device (and wraps them for DDP, FSDP or mixed precision when asked), `fabric.backward` replaces
# `loss.backward()` (so precision plugins can scale the loss), and `fabric.seed_everything` seeds
# torch, NumPy and `random` together. With `devices=4, strategy="ddp"` the same code runs data-parallel;
# here it is one CPU process, so the arithmetic is the hand loop's.

# %%
t0 = time.perf_counter()
from lightning_fabric import Fabric  # noqa: E402

import_fabric_s = time.perf_counter() - t0

t0 = time.perf_counter()
fabric = Fabric(accelerator="cpu", devices=1, precision="32-true")
fabric.launch()
fabric.seed_everything(SEED, verbose=False)
model_f = make_model()
model_f, opt_f = fabric.setup(model_f, torch.optim.Adam(model_f.parameters(), lr=LR))
setup_fabric_s = time.perf_counter() - t0

t0 = time.perf_counter()
for epoch in range(EPOCHS):
    model_f.train()
    for xb, yb in batches(epoch, z_tr, y_tr):
        xb, yb = xb.to(fabric.device), yb.to(fabric.device)
        loss = F.cross_entropy(model_f(xb), yb)
        opt_f.zero_grad(set_to_none=True)
        fabric.backward(loss)
        opt_f.step()
fabric_s = time.perf_counter() - t0
fabric_acc = accuracy(model_f, z_te.to(fabric.device), y_te.to(fabric.device))
same_weights = all(torch.equal(a, b.cpu()) for a, b in zip(hand_weights, model_f.parameters(), strict=True))
print(f"Fabric loop: test accuracy {fabric_acc:.4f}, {fabric_s:.2f} s; same weights as the hand loop: {same_weights}")

# %% [markdown]
# ## 3. `dlzoo.train`
#
# The overrides spell out every setting the two loops above used, so the run does not depend on what
# the preset happens to contain. `train.progress=false` silences the progress bar in the notebook.
# The run directory holds everything needed to reload, evaluate, export or serve the model.

# %%
overrides = [
    f"model.hidden=[{HIDDEN}]",
    "model.dropout=0.0",
    "model.batch_norm=false",
    f"train.epochs={EPOCHS}",
    f"train.batch_size={BATCH}",
    f"train.lr={LR}",
    "train.optimizer=adam",
    "train.weight_decay=0.0",
    "train.scheduler=none",
    f"train.seed={SEED}",
    "train.progress=false",
    "task.label_smoothing=0.0",
] + [f"data.{k}={str(v).lower()}" for k, v in DATA_ARGS.items()]
t0 = time.perf_counter()
run = dlzoo.train("mlp_classifier", preset="tiny", data=DATA_NAME, overrides=overrides, runs_dir="runs")
dlzoo_s = time.perf_counter() - t0
dlzoo_acc = run.metrics["test/accuracy"]
dlzoo_loop_s = run.metrics["wall_time_s"]
print(f"dlzoo.train: test accuracy {dlzoo_acc:.4f}; {dlzoo_s:.2f} s in all, {dlzoo_loop_s:.2f} s in its loop")
print("run directory:", run.path)
print("files:", sorted(str(p.relative_to(run.path)) for p in run.path.rglob("*") if p.is_file()))

loaded = dlzoo.load_run(run.path)
reloaded_acc = accuracy(loaded.model, x_te, y_te)  # raw inputs: the model standardizes them itself
dlzoo_weights = [p.detach() for p in loaded.model.parameters()]  # body.0 weight/bias, head weight/bias
same_as_hand = all(torch.equal(a, b) for a, b in zip(hand_weights, dlzoo_weights, strict=True))
print(f"reloaded from disk: test accuracy {reloaded_acc:.4f}; weights identical to the hand loop's: {same_as_hand}")

# %% [markdown]
# ## What each layer adds
#
# Measured on this machine, one CPU thread. "training" is the time inside the epochs; for `dlzoo.train`
# it is the loop's own clock (`wall_time_s` in `eval.json`), which includes its per-epoch checkpoint and
# metrics writes, and "other" is the rest of the call: config validation, loading the data, building
# the model, the final evaluation, saving weights, plots and the model card. Import times are one-off
# costs per process. Each number is a single run on a machine shared with other work: differences of a
# fraction of a second between the first two rows are noise; the overhead of the third is not.

# %%
rows = [
    ("hand-written", hand_acc, hand_s, 0.0, "nothing: the loop is the program"),
    ("Fabric", fabric_acc, fabric_s, setup_fabric_s, "devices, precision, DDP/FSDP by configuration"),
    ("dlzoo.train", dlzoo_acc, dlzoo_loop_s, dlzoo_s - dlzoo_loop_s, "config, run dir, metrics, checkpoints, eval"),
]
print(f"{'loop':14s} {'test acc':>9s} {'training s':>11s} {'other s':>8s}  adds")
for name, acc, train_s, other_s, adds in rows:
    print(f"{name:14s} {acc:9.4f} {train_s:11.2f} {other_s:8.2f}  {adds}")
print(f"one-off imports: torch {import_torch_s:.2f} s, lightning_fabric {import_fabric_s:.2f} s")

# %% [markdown]
# ## Check
#
# The three loops must reach the same test accuracy within `TOLERANCE` (absolute), and the reloaded
# run must give the accuracy its `eval.json` recorded. With one process on the CPU, the same seed and
# the same batch order, the three computations are the same arithmetic, so the accuracies usually
# agree exactly; the tolerance leaves room for a different kernel order on other hardware. Each must
# also be far above chance, so that three equally broken loops cannot pass.

# %%
TOLERANCE = 0.02
accs = {"hand": hand_acc, "fabric": fabric_acc, "dlzoo": dlzoo_acc}
spread = max(accs.values()) - min(accs.values())
print(f"accuracies {accs}; spread {spread:.4f} (tolerance {TOLERANCE}); chance {1 / n_classes:.2f}")
assert spread <= TOLERANCE, accs
assert min(accs.values()) > 0.85, accs
assert abs(reloaded_acc - dlzoo_acc) < 1e-6
