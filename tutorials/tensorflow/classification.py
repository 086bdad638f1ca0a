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
# # Classification in Keras, beside dlzoo's PyTorch models
#
# Four classifiers, each written in Keras and trained beside the PyTorch model of this project that it
# mirrors, on the same data split with the same architecture, optimizer (Adam), learning rate, batch size
# and number of epochs:
#
# | Keras model here | dlzoo model (`tiny` preset) | data |
# | --- | --- | --- |
# | MLP: standardize -> Dense(64, ReLU) -> Dense(10) | `mlp_classifier` | digits, 64 pixel counts |
# | CNN: 2 x (Conv 3x3 -> BN -> ReLU -> max-pool) -> Dense(32) -> Dense(10) | `lenet` | digits as 1x8x8 images |
# | FCN: 3 x (Conv1D -> BN -> ReLU), global average pooling | `fcn_tsc` | Cylinder-Bell-Funnel series |
# | LSTM(32) read out at the last step | `rnn_classifier` | digits read row by row (8 steps of 8) |
#
# The data are generated or bundled (scikit-learn's digits, dlzoo's Cylinder-Bell-Funnel generator), so the
# notebook runs offline; with `DLZOO_DATA` pointing at a folder that holds the MNIST files, the MLP and CNN
# pairs use the first 2000 training and test images of MNIST instead. One table at the end gives each
# pair's test accuracy and training time per epoch, measured in this run, and the final cell asserts that
# both frameworks clear a stated accuracy on every task.

# %%
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
import torch  # noqa: E402

import dlzoo  # noqa: E402
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.base import DataError  # noqa: E402

threads = int(os.environ.get("OMP_NUM_THREADS", "0"))  # 0 = each framework's default (all cores)
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
if threads:
    torch.set_num_threads(threads)
print(f"tensorflow {tf.__version__} | keras {keras.__version__} | torch {torch.__version__} | numpy {np.__version__}")
print("threads:", threads or "default")

# %% [markdown]
# ## The four tasks and their data
#
# Each task names the dlzoo model, its dataset with the loader's arguments, and the `tiny` preset's training
# settings, read from the registry so the Keras side cannot drift from them. `load_dataset` returns torch
# tensors; Keras gets them as NumPy arrays, moved to channels-last where the layout differs (PyTorch's
# convolutions take (N, C, H, W) and (N, C, L), Keras's (N, H, W, C) and (N, L, C)).

# %%
MNIST = {"mlp_classifier": ("mnist", {"flatten": True, "limit": 2000}), "lenet": ("mnist", {"limit": 2000})}
use_mnist = False
if os.environ.get("DLZOO_DATA"):
    try:
        load_dataset("mnist", limit=1)
        use_mnist = True
    except DataError as e:  # no MNIST files there: stay on the bundled digits
        print("MNIST not available:", str(e).splitlines()[0])

TASKS = {}
for model in ("mlp_classifier", "lenet", "fcn_tsc", "rnn_classifier"):
    preset = dlzoo.get_spec(model).preset("tiny")
    data_args = {k: v for k, v in preset["data"].items() if k != "name"}
    name = preset["data"]["name"]
    if use_mnist and model in MNIST:
        name, data_args = MNIST[model]
    TASKS[model] = {"data": name, "data_args": data_args, "model_args": preset.get("model", {}), **preset["train"]}
    print(f"{model:15} data={name} {data_args} model={TASKS[model]['model_args']}")
    print(f"{'':15} epochs={TASKS[model]['epochs']} batch={TASKS[model]['batch_size']} lr={TASKS[model]['lr']}")

# %%
CHANNELS_LAST = {4: (0, 2, 3, 1), 3: (0, 2, 1)}  # images (N, C, H, W) -> (N, H, W, C); series (N, C, L) -> (N, L, C)


def arrays(model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = load_dataset(TASKS[model]["data"], **TASKS[model]["data_args"])
    x_train, x_test = data.train.x.numpy(), data.test.x.numpy()
    if model in ("lenet", "fcn_tsc"):
        x_train, x_test = (x.transpose(CHANNELS_LAST[x.ndim]) for x in (x_train, x_test))
    print(f"{model}: {data.info.name} train {x_train.shape} test {x_test.shape} | {data.info.split_note}")
    return x_train, data.train.y.numpy(), x_test, data.test.y.numpy()


DATA = {model: arrays(model) for model in TASKS}

# %% [markdown]
# ## The Keras models
#
# Each mirrors its dlzoo counterpart (`dlzoo info <model>` and the family's `model.py` give the PyTorch
# definition):
#
# - the MLP and the LSTM standardize their inputs with statistics of the training split, inside the model:
#   dlzoo's `Standardize` layer, Keras's `Normalization` layer `adapt`ed to the training data;
# - the CNN's convolutions have no bias (BatchNorm follows them), as in dlzoo's `LeNet`;
# - BatchNorm's running averages use momentum 0.9 in Keras's convention, which is PyTorch's 0.1
#   (`running = (1 - 0.1) * running + 0.1 * batch`).
#
# Initialisations differ (Keras: Glorot uniform; PyTorch: Kaiming uniform with a = sqrt(5)), as do the
# LSTM's gate layouts, so the weights are not the same and neither are the curves; the comparison is of two
# faithful implementations of one recipe.


# %%
def bn() -> keras.layers.Layer:
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)  # PyTorch's defaults


def keras_model(model: str, x_train: np.ndarray, classes: int) -> keras.Model:
    args = TASKS[model]["model_args"]
    inputs = keras.Input(x_train.shape[1:])
    if model == "mlp_classifier":
        norm = keras.layers.Normalization()
        norm.adapt(x_train)
        h = norm(inputs)
        for width in args["hidden"]:
            h = keras.layers.Dense(width, activation="relu")(h)
    elif model == "lenet":
        h = inputs
        for channels in args["channels"]:
            h = keras.layers.Conv2D(channels, args["kernel_size"], padding="same", use_bias=False)(h)
            h = keras.layers.MaxPooling2D(2)(keras.layers.ReLU()(bn()(h)))
        h = keras.layers.Dense(args["hidden"], activation="relu")(keras.layers.Flatten()(h))
        h = keras.layers.Dropout(args["dropout"])(h)
    elif model == "fcn_tsc":
        h = inputs
        for filters, kernel in zip(args["filters"], (8, 5, 3), strict=True):
            h = keras.layers.ReLU()(bn()(keras.layers.Conv1D(filters, kernel, padding="same")(h)))
        h = keras.layers.GlobalAveragePooling1D()(h)
    elif model == "rnn_classifier":
        norm = keras.layers.Normalization(axis=-1)  # per feature, over examples and steps
        norm.adapt(x_train)
        h = keras.layers.LSTM(args["hidden"])(norm(inputs))  # the last step's hidden state
    return keras.Model(inputs, keras.layers.Dense(classes)(h), name=f"keras_{model}")


for model, (x_train, y_train, _, _) in DATA.items():
    keras.utils.set_random_seed(0)
    m = keras_model(model, x_train, int(y_train.max()) + 1)
    trainable = sum(int(np.prod(w.shape)) for w in m.trainable_weights)
    print(f"{m.name:22} {trainable:6d} trainable parameters, {m.count_params():6d} weights in all")

# %% [markdown]
# ## Training both, one task at a time
#
# Keras: `compile` with Adam at the preset's learning rate, then `fit` for the preset's epochs and batch
# size (shuffled every epoch). dlzoo: `dlzoo.train(model, preset="tiny")` on the same dataset arguments,
# with the per-epoch evaluation and checkpoint switched off so that its time per epoch, like Keras's, is
# training alone (`train.eval_every` and `train.checkpoint_every` beyond the last epoch). Both time the
# whole training call and divide by the epochs, so each includes its own start-up costs (graph tracing
# for Keras, data loading and model set-up for dlzoo). Test accuracy is measured on the same test split.

# %%
import tempfile  # noqa: E402

runs_dir = tempfile.mkdtemp(prefix="dlzoo-runs-")
rows = []
for model, (x_train, y_train, x_test, y_test) in DATA.items():
    t = TASKS[model]
    keras.utils.set_random_seed(0)
    km = keras_model(model, x_train, int(y_train.max()) + 1)
    km.compile(
        optimizer=keras.optimizers.Adam(t["lr"]),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    t0 = time.perf_counter()
    km.fit(x_train, y_train, epochs=t["epochs"], batch_size=t["batch_size"], shuffle=True, verbose=0)
    keras_s = time.perf_counter() - t0
    _, keras_acc = km.evaluate(x_test, y_test, verbose=0)

    overrides = ["train.progress=false", "train.eval_every=100000", "train.checkpoint_every=100000"]
    overrides += [f"data.{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in t["data_args"].items()]
    result = dlzoo.train(model, preset="tiny", data=t["data"], overrides=overrides, runs_dir=runs_dir, name=model)
    assert result.metrics["data"] == t["data"] and result.metrics["rounds"] == t["epochs"]
    rows.append(
        {
            "task": model,
            "data": t["data"],
            "epochs": t["epochs"],
            "keras_acc": float(keras_acc),
            "torch_acc": float(result.metrics["test/accuracy"]),
            "keras_s_epoch": keras_s / t["epochs"],
            "torch_s_epoch": result.metrics["wall_time_s"] / t["epochs"],
            "keras_params": sum(int(np.prod(w.shape)) for w in km.trainable_weights),
            "torch_params": sum(p.numel() for p in dlzoo.load_run(result.path).model.parameters()),
        }
    )
    r = rows[-1]
    print(f"{model}: keras {r['keras_acc']:.4f} in {keras_s:.1f} s | dlzoo {r['torch_acc']:.4f}", end="")
    print(f" in {result.metrics['wall_time_s']:.1f} s")

# %% [markdown]
# ## The table
#
# Accuracy is on the test split; time per epoch is the training call's wall time divided by its epochs, on
# this machine and thread setting. The last column counts trainable parameters (Keras's trainable weights,
# PyTorch's `parameters()`; normalization statistics and BatchNorm running averages are neither). It differs
# only for the LSTM, whose gates have one bias vector each in Keras and two (input and hidden) in PyTorch.

# %%
print(f"{'task':15} | {'data':13} | epochs | keras acc | dlzoo acc | keras s/epoch | dlzoo s/epoch | params k / t")
for r in rows:
    print(
        f"{r['task']:15} | {r['data']:13} | {r['epochs']:6d} | {r['keras_acc']:9.4f} | {r['torch_acc']:9.4f} |"
        f" {r['keras_s_epoch']:13.3f} | {r['torch_s_epoch']:13.3f} | {r['keras_params']} / {r['torch_params']}"
    )

# %% [markdown]
# ## Check
#
# On every task both frameworks clear the stated test accuracy (thresholds set below what either reaches,
# with room for the run-to-run spread of a tiny training budget).

# %%
REQUIRED = {"mlp_classifier": 0.9, "lenet": 0.9, "fcn_tsc": 0.85, "rnn_classifier": 0.85}
print("required:", REQUIRED)
for r in rows:
    assert r["keras_acc"] >= REQUIRED[r["task"]], r
    assert r["torch_acc"] >= REQUIRED[r["task"]], r
print("both frameworks clear every threshold")
