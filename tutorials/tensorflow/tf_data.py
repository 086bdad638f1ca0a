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
# # Input pipelines with `tf.data`: IDX and UCR files, shuffle, batch, cache, prefetch
#
# A `tf.data.Dataset` is a lazy stream of elements built from a source (files, arrays) and a chain of
# transformations; Keras's `fit` consumes it directly. This notebook reads the two file formats that
# `dlzoo` reads for its image and time-series families, both written here so the notebook needs no download:
#
# - an **MNIST-format IDX file** (gzip-compressed, as MNIST is distributed): scikit-learn's 8x8 digits
#   enlarged to 28x28 grey levels 0..255;
# - a **UCR-archive TSV file** (`label<TAB>v1<TAB>v2...`, one series per line): generated
#   Cylinder-Bell-Funnel series, dlzoo's `cbf_series` generator.
#
# Each pipeline is checked against `dlzoo`'s own readers (`read_idx`, `read_ucr_tsv`), then the effect of
# each transformation on the time of a training epoch is measured and printed as a table. A model trained
# from each pipeline closes the notebook with an asserted test accuracy.

# %%
import gzip
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402

threads = int(os.environ.get("OMP_NUM_THREADS", "0"))  # 0 = TensorFlow's default (all cores)
tf.config.threading.set_intra_op_parallelism_threads(threads)
tf.config.threading.set_inter_op_parallelism_threads(threads)
print("tensorflow", tf.__version__, "| keras", keras.__version__, "| numpy", np.__version__, "| threads", threads)
work = Path(tempfile.mkdtemp(prefix="tf-data-"))

# %% [markdown]
# ## Writing an IDX file
#
# IDX is the format of the MNIST files: two zero bytes, a type byte (`0x08` = unsigned byte), the number of
# dimensions, one big-endian 32-bit size per dimension, then the values row-major. Images are a 3-D IDX
# (magic number 2051 = `0x00000803`), labels a 1-D one (2049). The 8x8 digits (0..16) are enlarged to 28x28
# (bilinear) and scaled to 0..255 so the file looks like MNIST's; the split is dlzoo's `digits` split.

# %%
from dlzoo.data import load_dataset  # noqa: E402
from dlzoo.data.images import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, read_idx  # noqa: E402


def write_idx(path: Path, array: np.ndarray) -> None:
    """An unsigned-byte IDX file, gzip-compressed."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), compresslevel=6))


digits = load_dataset("digits")


def as_mnist(x: np.ndarray) -> np.ndarray:
    small = tf.convert_to_tensor(x.reshape(-1, 8, 8, 1) / 16.0)
    big = tf.image.resize(small, (28, 28), method="bilinear").numpy()[..., 0]
    return np.clip(np.round(big * 255), 0, 255).astype(np.uint8)


idx = {}
for split in ("train", "test"):
    part = getattr(digits, split)
    idx[split] = (work / f"{split}-images-idx3-ubyte.gz", work / f"{split}-labels-idx1-ubyte.gz")
    write_idx(idx[split][0], as_mnist(part.x.numpy()))
    write_idx(idx[split][1], part.y.numpy())
    print(split, [f"{p.name}: {p.stat().st_size} bytes" for p in idx[split]])
print("header of the train images, decompressed:", gzip.decompress(idx["train"][0].read_bytes())[:16].hex(" "))

# %% [markdown]
# ## An IDX pipeline
#
# An IDX file is a header followed by fixed-size records, which is exactly what
# `tf.data.FixedLengthRecordDataset` reads: skip `header_bytes`, then yield `record_bytes` at a time, here
# through gzip decompression (`compression_type="GZIP"`). Each image record is 784 raw bytes, decoded with
# `tf.io.decode_raw`; each label record is one byte. `Dataset.zip` pairs them.

# %%
ROWS = COLS = 28


def idx_records(images: Path, labels: Path) -> tf.data.Dataset:
    x = tf.data.FixedLengthRecordDataset(
        str(images), record_bytes=ROWS * COLS, header_bytes=16, compression_type="GZIP"
    )
    y = tf.data.FixedLengthRecordDataset(str(labels), record_bytes=1, header_bytes=8, compression_type="GZIP")
    return tf.data.Dataset.zip(x, y)


def decode(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Raw bytes -> (28, 28, 1) float32 in [0, 1] and an int32 label; works on one record or a batch."""
    pixels = tf.io.decode_raw(image, tf.uint8)
    pixels = tf.reshape(pixels, tf.concat([tf.shape(image), [ROWS, COLS, 1]], 0))
    return tf.cast(pixels, tf.float32) / 255.0, tf.cast(tf.io.decode_raw(label, tf.uint8)[..., 0], tf.int32)


train_idx = idx_records(*idx["train"]).map(decode)
x0, y0 = next(iter(train_idx))
print("one element:", x0.shape, x0.dtype, "label", int(y0), "| element_spec:", train_idx.element_spec)

# the same numbers as dlzoo's IDX reader
ref_x = read_idx(idx["train"][0], magic=IDX_IMAGES_MAGIC)
ref_y = read_idx(idx["train"][1], magic=IDX_LABELS_MAGIC)
all_x = np.concatenate([x.numpy() for x, _ in train_idx.batch(512)])
all_y = np.concatenate([y.numpy() for _, y in train_idx.batch(512)])
print("tf.data:", all_x.shape, "| read_idx:", ref_x.shape, ref_y.shape)
assert np.array_equal(np.round(all_x[..., 0] * 255).astype(np.uint8), ref_x) and np.array_equal(all_y, ref_y)

# %% [markdown]
# ## Writing and reading a UCR TSV file
#
# The UCR archive's `.tsv` files hold one series per line, the class label first. `TextLineDataset` yields
# the lines; `tf.strings.split` and `tf.strings.to_number` parse them. Labels in UCR files are arbitrary
# strings ("1", "2", "-1"), so they go through a `StringLookup` to class indices (in the sorted order
# `dlzoo` uses). The series here are written z-normalized, as the archive publishes them.

# %%
from dlzoo.data.timeseries import cbf_series, read_ucr_tsv, znormalize  # noqa: E402

LENGTH = 128
rng = np.random.default_rng(0)
tsv = {}
for split, n in (("TRAIN", 120), ("TEST", 300)):
    series, labels = cbf_series(n, length=LENGTH, generator=rng)
    series = np.stack([znormalize(s[None, :])[0] for s in series])
    tsv[split] = work / f"CBF_{split}.tsv"
    lines = ["\t".join([str(label + 1), *(f"{v:.6f}" for v in s)]) for s, label in zip(series, labels, strict=True)]
    tsv[split].write_text("\n".join(lines) + "\n")
    print(tsv[split].name, f"{tsv[split].stat().st_size} bytes, {n} series; first line starts", lines[0][:40])

lookup = keras.layers.StringLookup(vocabulary=["1", "2", "3"], num_oov_indices=0)


def parse_line(line: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    fields = tf.strings.split(line, "\t")
    values = tf.strings.to_number(fields[1:], tf.float32)
    return tf.reshape(values, [LENGTH, 1]), tf.cast(lookup(fields[0]), tf.int32)  # (steps, channels)


train_tsv = tf.data.TextLineDataset(str(tsv["TRAIN"])).map(parse_line)
ts = np.stack([x.numpy()[:, 0] for x, _ in train_tsv])
ref_series, ref_labels = read_ucr_tsv(tsv["TRAIN"])
print("tf.data:", ts.shape, "| read_ucr_tsv:", len(ref_series), "series of", ref_series[0].shape)
assert np.allclose(ts, np.concatenate(ref_series), atol=1e-6)
assert [int(y) for _, y in train_tsv] == [int(label) - 1 for label in ref_labels]

# %% [markdown]
# ## What each transformation costs or saves
#
# An epoch is timed as a loop over the dataset that runs one real training step (a compiled
# `tf.function`: forward, loss, gradients, SGD update of a small MLP) per element. Each row adds one
# transformation to the row above it:
#
# - **map per example, no batch**: decode every record and take one training step per image;
# - **+ batch(64)**: 64 images per step; decoding still runs once per record;
# - **+ cache()**: after the first epoch, the decoded images come from memory instead of being
#   decompressed and decoded again (the first epoch fills the cache and costs the same as before);
# - **+ shuffle(N)**: a new order every epoch (needed for SGD; it costs a little time, it saves none);
# - **+ prefetch(AUTOTUNE)**: a background thread prepares the next batches while the step runs;
# - **batch, then map**: the decode is vectorized, once per batch instead of once per record.
#
# Each pipeline runs `EPOCHS` epochs; the table gives the first epoch and the mean of the others, in
# milliseconds. The same rows are measured for the TSV file, where parsing text is the costly step. With one
# thread (the test suite's setting) there is no spare core for `prefetch` to work on while the model trains,
# so what it can overlap is small; the measured numbers say how small on this machine.

# %%
AUTOTUNE = tf.data.AUTOTUNE
BATCH, EPOCHS = 64, 3


def variants(records: tf.data.Dataset, parse, parse_batch, n: int) -> dict[str, tf.data.Dataset]:
    return {
        "map per example, no batch": records.map(parse),
        "+ batch(64)": records.map(parse).batch(BATCH),
        "+ cache()": records.map(parse).cache().batch(BATCH),
        "+ shuffle(N)": records.map(parse).cache().shuffle(n, seed=0).batch(BATCH),
        "+ prefetch(AUTOTUNE)": records.map(parse).cache().shuffle(n, seed=0).batch(BATCH).prefetch(AUTOTUNE),
        "batch, then map": records.batch(BATCH).map(parse_batch),
    }


def parse_lines(lines: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A batch of TSV lines at once: split gives a ragged (batch, fields) tensor; all series here are equally long."""
    fields = tf.strings.split(lines, "\t").to_tensor()
    values = tf.strings.to_number(fields[:, 1:], tf.float32)
    return tf.reshape(values, [-1, LENGTH, 1]), tf.cast(lookup(fields[:, 0]), tf.int32)


def step_for(input_shape: tuple[int, ...], classes: int):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(64, "relu")])
    model.add(keras.layers.Dense(classes))
    opt = keras.optimizers.SGD(0.05)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function(reduce_retracing=True)
    def step(x, y):
        x = tf.reshape(x, [-1, *input_shape])  # one example or a batch
        y = tf.reshape(y, [-1])
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return step


def time_epochs(ds: tf.data.Dataset, step) -> list[float]:
    times = []
    for _ in range(EPOCHS):
        t0 = time.perf_counter()
        for x, y in ds:
            step(x, y)
        times.append(time.perf_counter() - t0)
    return times


timings = {}
for name, records, parse, parse_batch, n, shape, classes in (
    ("IDX", idx_records(*idx["train"]), decode, decode, len(digits.train), (ROWS, COLS, 1), 10),
    ("TSV", tf.data.TextLineDataset(str(tsv["TRAIN"])), parse_line, parse_lines, 120, (LENGTH, 1), 3),
):
    step = step_for(shape, classes)
    for x, y in records.map(parse).batch(BATCH).take(1):  # trace the step for batches and single examples
        step(x, y), step(x[0], y[0])
    for row, ds in variants(records, parse, parse_batch, n).items():
        timings[(name, row)] = time_epochs(ds, step)

print(f"{'file':4} | {'pipeline':26} | epoch 1 ms | later epochs ms (mean of {EPOCHS - 1})")
for (name, row), t in timings.items():
    print(f"{name:4} | {row:26} | {1000 * t[0]:10.1f} | {1000 * np.mean(t[1:]):10.1f}")

# %% [markdown]
# Reading the table: the ratios below are computed from it. Batching divides the number of training steps
# (and of Python-level iterations) by 64, which is by far the largest effect on small models. `cache()` only
# pays from the second epoch on, and pays most where reading is expensive (parsing text). `shuffle` costs
# its buffer fill at the start of each epoch. What `prefetch` saves depends on there being a free core; the
# timings of a busy or single-core machine are noisy at the scale of tens of milliseconds, so single rows
# that differ by less than that are not evidence of anything.

# %%
for name in ("IDX", "TSV"):
    later = {row: float(np.mean(t[1:])) for (f, row), t in timings.items() if f == name}
    print(
        f"{name}: batch(64) vs per example: {later['map per example, no batch'] / later['+ batch(64)']:.1f}x faster;"
        f" + cache vs batch only (later epochs): {later['+ batch(64)'] / later['+ cache()']:.1f}x;"
        f" + prefetch vs + shuffle: {later['+ shuffle(N)'] / later['+ prefetch(AUTOTUNE)']:.2f}x"
    )

# %% [markdown]
# ## Training from the pipelines
#
# `model.fit` takes a `Dataset` of `(inputs, labels)` batches directly. The training pipelines are the
# full chain (map, cache, shuffle, batch, prefetch); the test pipelines need no shuffle. The series set is
# small (120), so its batches are smaller (16) to give the optimizer more steps per epoch. A small MLP learns
# the 28x28 IDX digits, and a small 1-D convolutional network (global average pooling over time, as in the
# FCN of Wang et al. 2017) the Cylinder-Bell-Funnel series.


# %%
def pipeline(records: tf.data.Dataset, parse, n: int, *, batch: int, shuffle: bool = False) -> tf.data.Dataset:
    # a file-backed dataset does not know its length; telling it lets Keras know where an epoch ends
    ds = records.apply(tf.data.experimental.assert_cardinality(n))
    ds = ds.map(parse, num_parallel_calls=AUTOTUNE).cache()
    if shuffle:
        ds = ds.shuffle(n, seed=0)
    return ds.batch(batch).prefetch(AUTOTUNE)


keras.utils.set_random_seed(0)
mlp = keras.Sequential(
    [
        keras.Input((ROWS, COLS, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10),
    ]
)
blocks = []
for filters, kernel in ((16, 8), (32, 5), (16, 3)):  # Conv-BN-ReLU blocks; BN momentum 0.9 = PyTorch's 0.1
    blocks += [
        keras.layers.Conv1D(filters, kernel, padding="same"),
        keras.layers.BatchNormalization(momentum=0.9),
        keras.layers.ReLU(),
    ]
fcn = keras.Sequential(
    [keras.Input((LENGTH, 1)), *blocks, keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(3)]
)
final = {}
for name, model, train_ds, test_ds, epochs, lr in (
    (
        "IDX digits, MLP",
        mlp,
        pipeline(idx_records(*idx["train"]), decode, len(digits.train), batch=64, shuffle=True),
        pipeline(idx_records(*idx["test"]), decode, len(digits.test), batch=256),
        10,
        3e-3,
    ),
    (
        "TSV CBF, 1-D CNN",
        fcn,
        pipeline(tf.data.TextLineDataset(str(tsv["TRAIN"])), parse_line, 120, batch=16, shuffle=True),
        pipeline(tf.data.TextLineDataset(str(tsv["TEST"])), parse_line, 300, batch=256),
        25,
        1e-2,
    ),
):
    model.compile(
        optimizer=keras.optimizers.Adam(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    t0 = time.perf_counter()
    model.fit(train_ds, epochs=epochs, verbose=0, shuffle=False)  # fit's shuffle is for arrays; ds shuffles itself
    fit_s = time.perf_counter() - t0
    _, acc = model.evaluate(test_ds, verbose=0)
    final[name] = acc
    print(f"{name}: {epochs} epochs in {fit_s:.1f} s, test accuracy {acc:.4f}")

# %% [markdown]
# ## Check
#
# Both models, trained only through `tf.data` pipelines read from the files written above, clear the
# stated test accuracies.

# %%
REQUIRED = {"IDX digits, MLP": 0.93, "TSV CBF, 1-D CNN": 0.9}
print({k: round(float(v), 4) for k, v in final.items()}, "| required:", REQUIRED)
assert all(final[k] >= REQUIRED[k] for k in REQUIRED), final
