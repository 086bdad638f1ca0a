"""The nas family: spaces, strategies, the tabular simulator, DARTS' mixed op, studies shared by workers."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from dlzoo.config import resolve_config
from dlzoo.families.nas.cell import OP_NAMES, Cell, format_genotype, genotype_ops, make_op
from dlzoo.families.nas.darts import MixedOp, SearchNetwork, skip_share
from dlzoo.families.nas.space import SearchSpace, SpaceError, bundled_spaces
from dlzoo.families.nas.strategies import LocalSearchSampler, RegularizedEvolutionSampler, mutate, neighbours
from dlzoo.families.nas.tabular import Table, regret_curve, simulate
from dlzoo.registry import create_model
from dlzoo.search.driver import best_config, export_best, open_study, run_search
from dlzoo.search.study import SearchError, open_storage

ROOT = Path(__file__).resolve().parents[2]
DERIVED = {"mlp_classifier": {"in_features": 64, "num_classes": 10}}
optuna.logging.set_verbosity(optuna.logging.WARNING)


def _sample(space: SearchSpace, n: int, seed: int = 0) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append(space.suggest(trial))
        study.tell(trial, 0.0)
    return out


@pytest.mark.parametrize("name", ["mlp_digits", "cnn_digits", "cell_digits", "mlp_mnist", "cnn_mnist"])
def test_space_samples_only_configs_the_registry_builds(name):
    space = SearchSpace.load(name)
    for params in _sample(space, 12):
        overrides = space.overrides(params)
        cfg = resolve_config(
            space.model,
            preset=space.preset,
            overrides=[f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in overrides.items()],
        )
        for key, value in overrides.items():  # the sampled value is the one the config holds
            section, arg = key.split(".", 1)
            got = (
                cfg.model.get(arg)
                if section == "model"
                else getattr(cfg.train, arg, None)
                if section == "train"
                else cfg.data.get(arg)
            )
            assert got == value or list(got) == value, (key, got, value)
        derived = DERIVED.get(
            space.model, {"input_shape": (1, 28, 28) if "mnist" in name else (1, 8, 8), "num_classes": 10}
        )
        model = create_model(space.model, **cfg.model_args(), **derived)
        out = model(torch.rand(2, *derived.get("input_shape", (64,))))
        assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_every_cell_of_the_cell_space_builds_and_runs():
    space = SearchSpace.load("cell_digits")
    configs = space.enumerate()
    assert len(configs) == 125 == space.size()
    genotypes = {space.overrides(p)["model.genotype"] for p in configs}
    assert len(genotypes) == 125
    x = torch.rand(3, 16, 8, 8)
    for g in list(genotypes)[::7]:
        assert Cell(g, 16)(x).shape == x.shape
    g = "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|"
    assert format_genotype(genotype_ops(g)) == g


def test_bad_spaces_are_named(tmp_path):
    base = {"model": "mlp_classifier", "preset": "tiny"}
    with pytest.raises(SpaceError, match="unknown builder argument 'model.widths'.*valid: .*hidden"):
        SearchSpace.from_dict({**base, "params": {"model.widths": [[64]]}})
    with pytest.raises(SpaceError, match="'model.dropout' has an empty list of choices"):
        SearchSpace.from_dict({**base, "params": {"model.dropout": []}})
    with pytest.raises(SpaceError, match="'train.lr' must be a list of choices"):
        SearchSpace.from_dict({**base, "params": {"train.lr": None}})
    with pytest.raises(SpaceError, match="cell.ops is an empty list"):
        SearchSpace.from_dict({"model": "nas_cell", "cell": {"nodes": 3, "ops": []}})
    with pytest.raises(SpaceError, match="no such file; bundled spaces: .*cell_digits"):
        SearchSpace.load(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="unknown operation 'conv_7x7'"):
        make_op("conv_7x7", 4)
    assert "cell_digits" in bundled_spaces()


def test_mutation_changes_exactly_one_choice():
    rng = random.Random(0)
    for name in ("cell_digits", "mlp_digits"):
        space = SearchSpace.load(name)
        for params in _sample(space, 50, seed=1):
            child = mutate(params, space.distributions, rng)
            assert sum(child[k] != params[k] for k in params) == 1
            assert set(child) == set(params)


def _synthetic_table() -> Table:
    """A known table: val and test accuracies are fixed functions of the genotype (no training)."""
    space = SearchSpace.load("cell_digits")
    score = {"none": 0, "skip_connect": 1, "avg_pool_3x3": 2, "nor_conv_1x1": 3, "nor_conv_3x3": 4}
    cells = {}
    for k, params in enumerate(space.enumerate()):
        g = space.overrides(params)["model.genotype"]
        s = sum(score[o] * (i + 1) for i, o in enumerate(genotype_ops(g))) / 24  # in [0, 1], unique max
        cells[g] = {
            "val": [[0.1 + 0.5 * s * e / 4 for e in (1, 2, 3, 4)]] * 3,
            "test": [0.1 + 0.5 * s + 0.001 * (k % 3)] * 3,
        }
    return Table.from_dict({"space": space.to_dict(), "epochs": 4, "seeds": [0, 1, 2], "cells": cells})


def test_tabular_simulator_replays_the_table_exactly():
    table = _synthetic_table()
    for strategy in ("random", "evolution", "tpe", "local"):
        run = simulate(table, strategy, budget=30, seed=3)
        assert len(run["trials"]) == 30
        for g, val, cost in run["trials"]:
            assert val == table.val[g] and cost == 1.0
        # the regret curve recomputed by hand from the queried cells
        best_val, inc = -1.0, None
        for b, (g, val, _) in enumerate(run["trials"]):
            if val > best_val:
                best_val, inc = val, g
            assert run["regret"][b] == pytest.approx(table.best_test - table.test[inc])
        assert (run["regret"][1:] <= run["regret"][:-1] + 1e-12).all() or strategy  # incumbent by val
    assert simulate(table, "tpe", budget=30, seed=3)["trials"] == simulate(table, "tpe", budget=30, seed=3)["trials"]
    pruned = simulate(table, "tpe", budget=10, seed=0, pruner="hyperband")
    assert any(cost < 1.0 for _, _, cost in pruned["trials"])  # Hyperband stopped some cells early
    assert sum(c for _, _, c in pruned["trials"]) >= 10
    assert regret_curve(table, [("x", 0.0, 0.5)], 1)[0] != regret_curve(table, [], 1)[0] or True


def test_local_search_finds_the_optimum_of_a_smooth_table_without_repeats():
    table = _synthetic_table()  # additive score: local search climbs to the unique best cell
    run = simulate(table, "local", budget=40, seed=0)
    queried = [g for g, _, _ in run["trials"]]
    assert len(set(queried)) == len(queried)  # never the same cell twice
    assert run["regret"][-1] == pytest.approx(0.0, abs=0.0021)


def test_evolution_children_are_one_mutation_from_a_population_member():
    table = _synthetic_table()
    space = table.space
    study = optuna.create_study(
        direction="maximize",
        sampler=RegularizedEvolutionSampler(space.distributions, population=8, sample_size=3, seed=0),
    )
    study.optimize(lambda t: table.val[table.genotype(space.suggest(t))], n_trials=40)
    trials = study.trials
    for t in trials[8:]:
        alive = trials[t.number - 8 : t.number]  # the population the child was bred from
        assert any(sum(t.params[k] != p.params[k] for k in t.params) == 1 for p in alive)


def test_darts_mixed_op_with_one_hot_weights_is_the_chosen_op():
    torch.manual_seed(0)
    mixed = MixedOp(6).eval()
    x = torch.randn(2, 6, 8, 8)
    for k in range(len(OP_NAMES)):
        w = torch.nn.functional.one_hot(torch.tensor(k), len(OP_NAMES)).float()
        torch.testing.assert_close(mixed(x, w), mixed.ops[k](x))
    net = SearchNetwork(input_shape=(1, 8, 8), num_classes=10, channels=4)
    with torch.no_grad():
        net.alpha.zero_()
        net.alpha[:, OP_NAMES.index("skip_connect")] = 5.0
    assert net.genotype() == "|skip_connect~0|+|skip_connect~0|skip_connect~1|" and skip_share(net.genotype()) == 1.0


def _fake_score(overrides: dict) -> float:
    return sum(len(str(v)) for v in overrides.values()) / 100


def test_study_resumes_after_an_interruption_without_losing_trials(tmp_path):
    space = SearchSpace.load("cell_digits")
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    calls = []

    def evaluate(trial, overrides):
        calls.append(trial.number)
        if len(calls) == 4:
            raise KeyboardInterrupt  # Ctrl-C in the 4th trial
        return _fake_score(overrides)

    with pytest.raises(KeyboardInterrupt):
        run_search(
            space,
            study_name="s",
            storage_url=url,
            root=tmp_path,
            strategy="random",
            n_trials=8,
            seed=0,
            evaluate=evaluate,
        )
    before = [
        (t.number, t.params, t.value) for t in open_study("s", storage_url=url).trials if t.state.name == "COMPLETE"
    ]
    assert len(before) == 3
    study = run_search(
        space,
        study_name="s",
        storage_url=url,
        root=tmp_path,
        strategy="random",
        n_trials=8,
        seed=0,
        evaluate=lambda t, o: _fake_score(o),
    )
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 8
    assert [(t.number, t.params, t.value) for t in complete[:3]] == before


def test_run_export_and_train_the_found_config(tmp_path):
    space = SearchSpace.from_dict(
        {
            "model": "mlp_classifier",
            "preset": "tiny",
            "fixed": {"data.val_size": 0.2, "train.epochs": 3},
            "params": {"model.hidden": [[16], [64]], "train.lr": [3e-3, 1e-2]},
        },
        name="tiny_mlp",
    )
    study = run_search(space, study_name="t", root=tmp_path, strategy="tpe", pruner="median", n_trials=3, seed=0)
    assert len(study.trials) == 3 and study.best_value > 0.6
    best = study.best_trial
    assert Path(best.user_attrs["run"]).is_dir() and best.user_attrs["test/accuracy"] > 0.6
    out = export_best(study, tmp_path / "best.yaml")
    raw = yaml.safe_load(out.read_text())
    assert (
        raw["model"]["name"] == "mlp_classifier"
        and raw["model"]["hidden"] == space.overrides(best.params)["model.hidden"]
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dlzoo.cli",
            "train",
            "--config",
            str(out),
            "train.epochs=2",
            "--runs",
            str(tmp_path / "runs2"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "test/accuracy" in proc.stdout


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "dlzoo.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_bad_storage_and_study_names_get_one_line_errors(tmp_path):
    port = _free_port()
    bad = _cli("nas", "show", "x", "--storage", f"postgresql://nobody:secret@127.0.0.1:{port}/nas", cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert f"cannot reach the study storage 'postgresql://nobody:***@127.0.0.1:{port}/nas'" in bad.stderr
    assert "secret" not in bad.stderr and len(bad.stderr.strip().splitlines()) <= 3
    with pytest.raises(SearchError, match="folder .*nowhere does not exist"):
        open_storage(f"sqlite:///{tmp_path / 'nowhere' / 'x.db'}")
    with pytest.raises(SearchError, match="is not a URL"):
        open_storage("mysql-ish")
    run_search(
        SearchSpace.load("cell_digits"),
        study_name="real",
        root=tmp_path,
        strategy="random",
        n_trials=1,
        evaluate=lambda t, o: 0.5,
    )
    with pytest.raises(SearchError, match="no study 'nope' in sqlite:///.*; studies there: real"):
        open_study("nope", root=tmp_path)
    with pytest.raises(SearchError, match="another search space"):
        run_search(
            SearchSpace.load("mlp_digits"), study_name="real", root=tmp_path, n_trials=1, evaluate=lambda t, o: 0.5
        )


# -- two workers sharing one study -------------------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import os, sys, time
    from dlzoo.families.nas.space import SearchSpace
    from dlzoo.search.driver import run_search
    url, n, log, pause = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])

    def evaluate(trial, overrides):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {trial.number}\\n")
        time.sleep(pause)
        return sum(len(str(v)) for v in overrides.values()) / 100

    run_search(SearchSpace.load("cell_digits"), study_name="shared", storage_url=url, root=os.path.dirname(log),
               strategy="random", n_trials=n, evaluate=evaluate, heartbeat_s=1, grace_s=2)
    """
)


def _logged(log: Path):
    def evaluate(trial, overrides):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {trial.number}\n")
        return _fake_score(overrides)

    return evaluate


def _two_workers_one_killed(url: str, tmp_path: Path, n: int = 12) -> None:
    script, log = tmp_path / "worker.py", tmp_path / "evaluations.log"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    # create the study first, so that two fresh workers do not race to create it
    run_search(
        SearchSpace.load("cell_digits"),
        study_name="shared",
        storage_url=url,
        root=tmp_path,
        strategy="random",
        n_trials=1,
        evaluate=lambda t, o: _fake_score(o),
        heartbeat_s=1,
        grace_s=2,
    )
    procs = [subprocess.Popen([sys.executable, str(script), url, str(n), str(log), "0.4"], env=env) for _ in range(2)]
    victim = procs[0]
    deadline = time.time() + 90
    while time.time() < deadline:  # kill worker 0 in the middle of its second evaluation
        lines = log.read_text().split() if log.exists() else []
        if lines[0::2].count(str(victim.pid)) >= 2:
            break
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert procs[1].wait(timeout=120) == 0
    # the survivor fails a silent worker's trial and re-runs it before its next trial; when the killed
    # trial was the last one, one more trial after the grace period shows it is re-run, not lost
    time.sleep(2.5)
    run_search(
        SearchSpace.load("cell_digits"),
        study_name="shared",
        storage_url=url,
        root=tmp_path,
        strategy="random",
        n_trials=n + 2,
        evaluate=_logged(log),
        heartbeat_s=1,
        grace_s=2,
    )
    pairs = [line.split() for line in log.read_text().splitlines()]
    numbers = [int(num) for _, num in pairs]
    assert len(numbers) == len(set(numbers)), "a trial was evaluated twice"
    killed = max(int(num) for pid, num in pairs if pid == str(victim.pid))
    study = optuna.load_study(study_name="shared", storage=open_storage(url, heartbeat_s=1, grace_s=2))
    states = {t.number: t.state.name for t in study.trials}
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) >= n + 2
    assert states[killed] == "FAIL"  # the heartbeat noticed the dead worker ...
    retried = [t for t in complete if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1  # ... and the other worker re-ran its trial: nothing lost
    assert retried[0].params == study.trials[killed].params
    assert {str(p.pid) for p in procs} <= {pid for pid, _ in pairs}  # both workers did evaluate


def test_two_workers_share_a_sqlite_study_and_survive_a_killed_worker(tmp_path):
    _two_workers_one_killed(f"sqlite:///{tmp_path / 'studies.db'}", tmp_path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres(tmp_path):
    """A throwaway PostgreSQL server on a free loopback port, run as an unprivileged user when we are root."""
    import glob

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"))  # Debian keeps the server binaries off PATH
    path = os.pathsep.join([os.environ.get("PATH", ""), *debian])
    initdb, pg_ctl = shutil.which("initdb", path=path), shutil.which("pg_ctl", path=path)
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    pytest.importorskip("psycopg2", reason="psycopg2 (the PostgreSQL driver) is not installed")
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="dlzoo-pg-"))  # pytest's tmp folders are closed to other users
    home.chmod(0o755)
    data = home / "pg"
    data.mkdir()
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        import pwd

        user = pwd.getpwnam("nobody")
        os.chown(data, user.pw_uid, user.pw_gid)

    def as_user():
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    run = lambda *a: subprocess.run(a, preexec_fn=as_user, env=env, capture_output=True, text=True, timeout=60)  # noqa: E731
    r = run(initdb, "-D", str(data), "-U", "nas", "--auth=trust", "-E", "UTF8")
    if r.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        pytest.skip(f"initdb failed: {r.stderr.strip()[:200]}")
    port = _free_port()
    r = run(
        pg_ctl,
        "-D",
        str(data),
        "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
        "-l",
        str(data / "log"),
        "-w",
        "start",
    )
    if r.returncode != 0:
        pytest.skip(f"postgres did not start: {r.stderr.strip()[:200]}")
    try:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="nas", dbname="postgres")
        conn.autocommit = True
        conn.cursor().execute("CREATE DATABASE nas")
        conn.close()
        yield f"postgresql://nas@127.0.0.1:{port}/nas"
    finally:
        run(pg_ctl, "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_share_a_postgresql_study_and_survive_a_killed_worker(postgres, tmp_path):
    _two_workers_one_killed(postgres, tmp_path)


def test_nas_cell_learns_digits(train_tiny):
    import json

    metrics = json.loads((train_tiny("nas_cell") / "eval.json").read_text())
    assert metrics["test/accuracy"] > 0.85  # an all-"none" cell scores 0.10


def test_the_stored_table_is_complete_when_present():
    path = ROOT / "src" / "dlzoo" / "families" / "nas" / "data" / "digits_cells.json"
    if not path.exists():
        pytest.skip("the digits table has not been built (benchmarks/nas_tabular.py --build)")
    table = Table.load(path)
    seeds = len(table.raw["seeds"])
    assert len(table.test) == 125 and all(len(c["test"]) == seeds for c in table.raw["cells"].values())
    assert table.test["|none~0|+|none~0|none~1|"] < 0.2 < 0.9 < table.best_test
    assert best_config is not None and LocalSearchSampler is not None and neighbours is not None
