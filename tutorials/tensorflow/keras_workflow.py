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
# # The Keras workflow: three ways to build one network, then compile, fit, evaluate
#
# Keras offers three ways to write a model, and they build the same thing:
#
# 1. **Sequential**: a list of layers, each feeding the next;
# 2. **Functional**: call layers on symbolic tensors, `keras.Model(inputs, outputs)`; any graph of layers
#    (several inputs, branches, shared layers) is written this way;
# 3. **subclassed**: a `keras.Model` subclass whose `call` is plain Python, for models whose forward pass
#    is not a fixed graph.
#
# The network here is a one-hidden-layer MLP for scikit-learn's bundled 8x8 digits (64 pixels, 10 classes),
# the same split as `dlzoo`'s `digits` dataset. Each version is compiled with the same optimizer, loss and
# metric, trained with three callbacks (early stopping on the validation loss, a checkpoint of the best
# weights, TensorBoard event files in a temporary folder) and evaluated on the test split. The end of the
# notebook checks that the three have the same parameter count and all clear a stated test accuracy.

# %%
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
os.environ.setdefault("KERAS_BACKEND", "tensorflow")  # Keras 3 is multi-backend; this notebook is about TF

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

# one thread when OMP_NUM_THREADS=1 (the test suite), TensorFlow's default (all cores) otherwise
threads = int(os.environ.get("OMP_NUM_THREADS", "0"))
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
print("tensorflow", tf.__version__, "| keras", keras.__version__, "| backend", keras.backend.backend())
print("numpy", np.__version__, "| threads (0 = all cores):", threads)

# %% [markdown]
# ## Data
#
# `dlzoo.data.load_dataset("digits")` is a stratified `train_test_split` (20% test, `split_seed=0`) of the
# pixel counts 0..16. Keras wants NumPy arrays (or a `tf.data.Dataset`), so the torch tensors are converted
# once; pixels are scaled to [0, 1]. 20% of the training split is held out for validation, stratified with
# the same seed: the callbacks watch it, the test split is only touched at the end.

# %%
from sklearn.model_selection import train_test_split  # noqa: E402

from dlzoo.data import load_dataset  # noqa: E402

digits = load_dataset("digits")
x_train_all = digits.train.x.numpy() / 16.0
y_train_all = digits.train.y.numpy()
x_test, y_test = digits.test.x.numpy() / 16.0, digits.test.y.numpy()
x_train, x_val, y_train, y_val = train_test_split(
    x_train_all, y_train_all, test_size=0.2, stratify=y_train_all, random_state=0
)
print(digits.info.split_note)
print("train", x_train.shape, "| val", x_val.shape, "| test", x_test.shape, "| dtype", x_train.dtype)

# %% [markdown]
# ## One network, three ways
#
# 64 inputs -> 64 ReLU units -> 10 logits. Each builder takes the same seed so the three start from the same
# initial weights: Keras draws initial weights from its global seed generator in layer-creation order, and
# the three create the two `Dense` layers in the same order.

# %%
HIDDEN, CLASSES = 64, 10


def sequential() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(CLASSES),
        ],
        name="sequential",
    )


def functional() -> keras.Model:
    inputs = keras.Input(shape=(64,), name="pixels")
    h = keras.layers.Dense(HIDDEN, activation="relu")(inputs)
    logits = keras.layers.Dense(CLASSES)(h)
    return keras.Model(inputs, logits, name="functional")


class SubclassedMLP(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(HIDDEN, activation="relu")
        self.out = keras.layers.Dense(CLASSES)

    def call(self, x, training=False):
        return self.out(self.hidden(x))


def subclassed() -> keras.Model:
    model = SubclassedMLP(name="subclassed")
    # a subclassed model creates its weights the first time it is called (its layers learn their input
    # sizes then); calling it once on a dummy batch builds them now, so they can be counted and loaded into
    model(np.zeros((1, 64), dtype="float32"))
    return model


BUILDERS = {"Sequential": sequential, "Functional": functional, "subclassed": subclassed}
for kind, build in BUILDERS.items():
    keras.utils.set_random_seed(0)
    m = build()
    print(f"{kind:>11}: {m.count_params()} parameters, weights {[tuple(w.shape) for w in m.weights]}")

# %% [markdown]
# The parameter count is 64 x 64 + 64 (hidden weights and biases) plus 64 x 10 + 10 (output layer).
# `summary()` shows the layers of the Functional version (a subclassed model's summary cannot show output
# shapes, since its `call` is opaque Python):

# %%
keras.utils.set_random_seed(0)
functional().summary()

# %% [markdown]
# ## Compile, fit with callbacks, evaluate
#
# `compile` fixes the optimizer, the loss and the metrics. The loss takes logits (`from_logits=True`), so
# the softmax lives inside the loss, where it is computed stably. `fit` then runs the epochs; the callbacks
# hook into it:
#
# - `EarlyStopping` stops when the validation loss has not improved for `patience` epochs and restores the
#   best weights seen;
# - `ModelCheckpoint` writes the weights whenever the validation loss improves (`save_best_only`); weights
#   files (`.weights.h5`) work for all three kinds of model, whereas a whole-model `.keras` file of a
#   subclassed model needs `get_config` and a registered class;
# - `TensorBoard` writes event files (losses and metrics per epoch) for `tensorboard --logdir`.

# %%
MAX_EPOCHS, PATIENCE, BATCH, LR = 40, 3, 64, 5e-3
out_dir = Path(tempfile.mkdtemp(prefix="keras-workflow-"))
results = {}
for kind, build in BUILDERS.items():
    keras.utils.set_random_seed(0)
    model = build()
    model.compile(
        optimizer=keras.optimizers.Adam(LR),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    ckpt = out_dir / "checkpoints" / f"{kind}.weights.h5"
    callbacks = [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(ckpt, monitor="val_loss", save_best_only=True, save_weights_only=True),
        keras.callbacks.TensorBoard(log_dir=out_dir / "tensorboard" / kind),
    ]
    t0 = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=MAX_EPOCHS,
        batch_size=BATCH,
        callbacks=callbacks,
        verbose=0,
    )
    fit_s = time.perf_counter() - t0
    test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)
    epochs = len(history.history["loss"])
    best = int(np.argmin(history.history["val_loss"])) + 1
    results[kind] = {
        "model": model,
        "params": model.count_params(),
        "epochs": epochs,
        "best_epoch": best,
        "val_acc": history.history["val_accuracy"][best - 1],
        "test_acc": test_acc,
        "test_loss": test_loss,
        "s_per_epoch": fit_s / epochs,
        "ckpt": ckpt,
    }
    print(f"{kind}: stopped after {epochs} epochs, best val_loss at epoch {best}, fit {fit_s:.1f} s")

# %%
print(f"{'model':>11} | params | epochs run | best epoch | val acc | test acc | test loss | s/epoch")
for kind, r in results.items():
    print(
        f"{kind:>11} | {r['params']:6d} | {r['epochs']:10d} | {r['best_epoch']:10d} | {r['val_acc']:.4f}"
        f"  | {r['test_acc']:.4f}   | {r['test_loss']:.4f}    | {r['s_per_epoch']:.3f}"
    )

# %% [markdown]
# The three start from the same initial weights and see the same batches in the same order (the seed also
# fixes the shuffling), so their histories agree closely; the table shows how closely. Differences, if any,
# come from the order of floating-point operations in the graphs Keras traces for each kind of model.
#
# ## What the callbacks left behind
#
# The best weights of each model are in its checkpoint file. Loading them into a freshly built model
# reproduces the restored model's test accuracy (computed here with `predict` + NumPy, without compiling
# the fresh model): the checkpoint and `restore_best_weights` both hold
# the weights of the epoch with the lowest validation loss.

# %%
for kind, r in results.items():
    fresh = BUILDERS[kind]()
    fresh.load_weights(r["ckpt"])
    acc = float(np.mean(fresh.predict(x_test, verbose=0).argmax(-1) == y_test))
    r["reloaded_acc"] = acc
    print(f"{kind:>11}: {r['ckpt'].name} ({r['ckpt'].stat().st_size} bytes) -> test accuracy {acc:.4f}")

events = sorted(p.relative_to(out_dir) for p in (out_dir / "tensorboard").rglob("events.out.tfevents.*"))
print(f"{len(events)} TensorBoard event files under {out_dir}/tensorboard:")
for p in events:
    print(" ", p.parent)

# %% [markdown]
# `tensorboard --logdir <that folder>` shows the curves (train/ and validation/ per model). The event files
# are read here with TensorFlow's own summary iterator, to print the last logged validation accuracy of
# the Sequential model, which matches the final epoch of its history:

# %%
from tensorflow.core.util import event_pb2  # noqa: E402

val_file = next((out_dir / "tensorboard" / "Sequential" / "validation").glob("events.out.tfevents.*"))
last = {}
for record in tf.data.TFRecordDataset(str(val_file)):
    event = event_pb2.Event.FromString(record.numpy())
    for v in event.summary.value:
        last[v.tag] = (event.step, float(tf.make_ndarray(v.tensor)))
print({tag: f"step {step}: {value:.4f}" for tag, (step, value) in last.items() if "accuracy" in tag})
seq_hist_last = results["Sequential"]["model"].history.history["val_accuracy"][-1]
print(f"history's last val_accuracy: {seq_hist_last:.4f}")

# %% [markdown]
# ## Checks
#
# The three models have the same number of parameters, each clears the stated test accuracy, and each
# checkpoint reloads to the accuracy of its restored model.

# %%
MIN_TEST_ACCURACY = 0.93
params = {kind: r["params"] for kind, r in results.items()}
accs = {kind: round(float(r["test_acc"]), 4) for kind, r in results.items()}
print("parameters:", params, "| test accuracy:", accs, "| required:", MIN_TEST_ACCURACY)
assert len(set(params.values())) == 1 and params["Sequential"] == 64 * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES
assert all(r["test_acc"] >= MIN_TEST_ACCURACY for r in results.values()), accs
assert all(abs(r["reloaded_acc"] - r["test_acc"]) < 1e-6 for r in results.values())
assert len(events) >= 2 * len(BUILDERS)  # train/ and validation/ for each model
