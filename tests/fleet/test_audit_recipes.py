"""The fleet recipes of docs/audit.md, run as committed: a Slurm array job on a real one-node
Slurm (scripts/slurm-node), over a directory and over a Swift container (``swift://`` and
``s3://`` of the one-node Swift of tests/_swift.py), and the command of the Kubernetes Indexed
Job, index by index.

Each runs ``docket audit`` in shards over a root of a few dozen backups (some damaged, so
there are findings), merges the shards' files and compares the result with a single run:
the same verdicts and the same summary. A shard that cannot run fails its task; a shard with
findings does not.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from docket.backup import Backup, PosixBackupDriver
from docket.backup.store import all_objects
from docket.backup.swift import SwiftBackupDriver, SwiftStore
from docket.fleet import merge_shards
from docket.fleet.audit import Verdict, audit
from tests._posix import backup_dir, edit, volume_bytes
from tests._swift import Saio, fresh_container, saio_environment

REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "docs" / "recipes"
SLURM_NODE = REPO / "scripts" / "slurm-node"
VOLUMES = 12  # each a full backup and two incrementals: 36 backups
N = 3
# docket's own environment first on PATH, so the recipes' `docket` is the one under test.
PATH = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "DEADLINE"}
UNREACHABLE_DB = "sqlite:////nonexistent/docket-recipes/cinder.db"


def _id(volume: int, generation: int) -> str:
    return f"{volume:04x}{generation:04x}-7e57-4000-8000-{volume * 7919 + generation:012x}"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root of full and incremental backups, with a missing object, a truncated object, a
    lost parent and a stray file among them."""
    tmp = tmp_path_factory.mktemp("fleet")
    root = tmp / "root"
    _fill(PosixBackupDriver(root, chunk_size=32768, compression="zlib"), tmp)
    next(backup_dir(root, _id(1, 0)).glob("*-00002")).unlink()
    truncated = next(backup_dir(root, _id(2, 1)).glob("*-00001"))
    truncated.write_bytes(truncated.read_bytes()[:100])
    shutil.rmtree(backup_dir(root, _id(3, 1)))
    (root / "stray.txt").write_text("not a backup")
    return root


def _fill(driver: PosixBackupDriver | SwiftBackupDriver, tmp: Path) -> dict[str, Backup]:
    """VOLUMES volumes, each a full backup and two incrementals (by id)."""
    made = {}
    for volume in range(VOLUMES):
        data = volume_bytes(volume, 100_000)
        parent = None
        for generation in range(3):
            (tmp / "volume.img").write_bytes(data)
            backup = Backup(id=_id(volume, generation), volume_id=f"vol-{volume}", parent_id=parent)
            made[backup.id] = driver.backup(backup, tmp / "volume.img")
            parent, data = backup.id, edit(data, generation)
    return made


@pytest.fixture(scope="module")
def saio() -> Iterator[Saio]:
    with saio_environment() as found:  # the audits here, the jobs and their children read it
        yield found


@pytest.fixture(scope="module")
def swift_fleet(saio: Saio, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fleet of :func:`fleet` in a Swift container (its name; ``swift://`` and ``s3://``
    reach it): a missing object, a truncated one, a lost parent and a stray object."""
    container = fresh_container()
    store = SwiftStore(auth_url=saio.auth_url, user=saio.user, key=saio.key)
    driver = SwiftBackupDriver(store, container=container, chunk_size=32768, compression="zlib")
    made = _fill(driver, tmp_path_factory.mktemp("swift-fleet"))
    prefixes = {i: str(b.service_metadata) for i, b in made.items()}
    store.delete_object(container, f"{prefixes[_id(1, 0)]}-00002")
    truncated = f"{prefixes[_id(2, 1)]}-00001"
    with store.open_object(container, truncated) as fh:
        head = fh.read(100)
    store.put_object(container, truncated, head, md5=hashlib.md5(head).hexdigest())
    for name in all_objects(store, container, prefixes[_id(3, 1)]):
        store.delete_object(container, name)
    store.put_object(
        container, "stray.txt", b"not a backup", md5=hashlib.md5(b"not a backup").hexdigest()
    )
    yield container
    for name in all_objects(store, container):
        store.delete_object(container, name)


def _verdicts(verdicts: Iterable[Verdict]) -> list[dict[str, Any]]:
    return sorted((v.to_json() for v in verdicts), key=lambda v: (v["backup_id"] or "", v["path"]))


def _docket(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "docket", *args], capture_output=True, text=True, timeout=300
    )


def _assert_merge_is_a_single_run(
    root: Path | str, shards: list[Path], merged_json: str, *, deep: bool
) -> None:
    """The shards' verdicts are a single run's, and so is their merged summary."""
    single = list(audit(root, deep=deep))
    assert any(v.findings for v in single) and len(single) > 30
    assert _verdicts(merge_shards(str(s) for s in shards)) == _verdicts(single)
    one_run = _docket("audit", "run", str(root), *["--deep"] * deep, "--format", "json")
    assert one_run.returncode == 1, one_run.stderr  # findings
    assert json.loads(merged_json) == json.loads(one_run.stdout)


def _unreachable_db_status(root: Path | str) -> int:
    """docket's exit status for a shard whose database cannot be reached (it writes no
    report): 3 (1, the status of findings, in releases before the audit's exit 3)."""
    done = _docket("audit", "run", str(root), "--db", UNREACHABLE_DB, "--format", "jsonl")
    assert done.returncode != 0 and not done.stdout, done.stderr
    return done.returncode


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# --- the recipes are what docs/audit.md shows ----------------------------------------------------


@pytest.mark.parametrize("recipe", ["audit-shard.sbatch", "audit-merge.sbatch", "audit-job.yaml"])
def test_docs_show_the_recipes_the_tests_run(recipe: str) -> None:
    text = (RECIPES / recipe).read_text()
    docs = (REPO / "docs" / "audit.md").read_text()
    assert f"\n{text}```\n" in docs, f"docs/audit.md does not show docs/recipes/{recipe} as is"
    assert f"recipes/{recipe}" in docs


# --- Kubernetes: the Indexed Job's command, one completion index at a time ----------------------


def _job() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((RECIPES / "audit-job.yaml").read_text())
    return manifest


def _container(job: dict[str, Any]) -> dict[str, Any]:
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return dict(container)


def test_the_indexed_job_is_consistent() -> None:
    job = _job()
    spec, container = job["spec"], _container(job)
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(env["SHARDS"])
    assert env["BACKUPS"] == mounts["backups"] and env["RESULTS"] == mounts["results"]
    assert container["command"] == ["sh", "-c"] and len(container["args"]) == 1


def _pod(index: int, **env: str) -> subprocess.CompletedProcess[str]:
    """The Job's container command for completion ``index``, with the manifest's environment
    and ``env`` over it."""
    container = _container(_job())
    manifest_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    environ = {**os.environ, **manifest_env, "PATH": PATH, "JOB_COMPLETION_INDEX": str(index)}
    environ.pop("DOCKET_DB", None)  # from a secret in the cluster; none here unless given
    return subprocess.run(
        [*container["command"], *container["args"]],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_the_indexed_jobs_shards_merge_to_a_single_run(fleet: Path, tmp_path: Path) -> None:
    env = {"SHARDS": str(N), "BACKUPS": str(fleet), "RESULTS": str(tmp_path)}
    for index in range(N):
        pod = _pod(index, **env)
        assert pod.returncode == 0, pod.stderr  # findings are not a failure of the pod
    shards = [tmp_path / f"shard-{i}.jsonl" for i in range(1, N + 1)]
    merged = _docket("audit", "merge", *map(str, shards), "--format", "json")
    assert merged.returncode == 1, merged.stderr
    _assert_merge_is_a_single_run(fleet, shards, merged.stdout, deep=False)


def test_an_indexed_job_pod_that_cannot_audit_fails(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    env = {"SHARDS": str(N), "BACKUPS": str(tmp_path / "root"), "RESULTS": str(tmp_path)}
    stale = tmp_path / "shard-2.jsonl"
    stale.write_text("from an earlier run\n")
    # docket exits 3 (1, as for findings, before) and writes no report: the pod fails.
    # Findings or not, no report means no shard: the pod fails with docket's status.
    status = _unreachable_db_status(tmp_path / "root")
    pod = _pod(1, DOCKET_DB=UNREACHABLE_DB, **env)
    assert pod.returncode == status
    assert f"shard 2/3 did not run: docket audit exited with {status}" in pod.stderr
    assert not stale.exists()
    pod = _pod(0, **{**env, "BACKUPS": str(tmp_path / "no-such-root")})
    assert pod.returncode == 2 and not (tmp_path / "shard-1.jsonl").exists()


# --- Slurm: the array job and its merge on a one-node cluster -----------------------------------


SLURM_LOCKS = Path(os.environ.get("DOCKET_SLURM_LOCKS", "/tmp/docket-slurm-tests"))


@pytest.fixture(scope="module")
def slurm() -> Iterator[dict[str, str]]:
    """The environment of a Slurm client; starts scripts/slurm-node when no cluster answers,
    skips (fails with CI=true) when it cannot. Test workers share the cluster: each holds a
    shared lock while it uses it, and the last one out stops a cluster the tests started
    (a worker stopping it under another's running jobs failed that worker's test)."""
    if shutil.which("slurmctld") is None or shutil.which("sbatch") is None:
        _unavailable("Slurm is not installed (scripts/slurm-node install)")
    conf = subprocess.run([SLURM_NODE, "env"], capture_output=True, text=True, check=True)
    env = {**os.environ, "PATH": PATH, "SLURM_CONF": conf.stdout.strip().split("=", 1)[1]}
    SLURM_LOCKS.mkdir(exist_ok=True)
    started = SLURM_LOCKS / "started-by-tests"
    with open(SLURM_LOCKS / "control", "w") as control, open(SLURM_LOCKS / "users", "w") as users:
        fcntl.flock(control, fcntl.LOCK_EX)
        if subprocess.run([SLURM_NODE, "status"], env=env, timeout=60).returncode != 0:
            start = subprocess.run(
                [SLURM_NODE, "start"], env=env, capture_output=True, text=True, timeout=180
            )
            if start.returncode != 0:
                fcntl.flock(control, fcntl.LOCK_UN)
                _unavailable(f"scripts/slurm-node start failed: {start.stderr}")
            started.touch()
        fcntl.flock(users, fcntl.LOCK_SH)
        fcntl.flock(control, fcntl.LOCK_UN)
        try:
            yield env
        finally:
            fcntl.flock(control, fcntl.LOCK_EX)
            fcntl.flock(users, fcntl.LOCK_UN)
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no other worker uses it
            except BlockingIOError:
                pass
            else:
                if started.exists():
                    subprocess.run([SLURM_NODE, "stop"], env=env, timeout=120, check=True)
                    started.unlink()


def _sbatch(env: dict[str, str], where: Path, *args: str) -> str:
    """The id of the job ``sbatch args`` submitted."""
    done = subprocess.run(
        ["sbatch", "--parsable", f"--chdir={where}", f"--output={where}/slurm-%A_%a.out", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (done.stderr, _logs(where))
    return done.stdout.strip().split(";")[0]


def _submit(
    env: dict[str, str], where: Path, n: int, root: Path | str, options: list[str], merge: list[str]
) -> tuple[str, str]:
    """Submits the array job of ``n`` shards of ``root`` (with audit ``options``) writing in
    ``where/results``, and its merge (with ``merge`` options) into ``where/audit.json``.
    Returns the ids of both jobs."""
    where.mkdir()
    results = where / "results"
    shards = _sbatch(
        env, where, f"--array=1-{n}", str(RECIPES / "audit-shard.sbatch"), str(root),
        str(results), *options,
    )  # fmt: skip
    merged = _sbatch(
        env, where, f"--dependency=afterok:{shards}",
        str(RECIPES / "audit-merge.sbatch"), str(results), str(n), str(where / "audit.json"),
        *merge,
    )  # fmt: skip
    return shards, merged


def _wait(env: dict[str, str], jobs: list[str], where: Path) -> None:
    """Until every task of ``jobs`` has ended. (Not sbatch --wait, which polls at growing
    intervals, and exits 0 for a job cancelled before it ran.)"""
    deadline = time.monotonic() + 600
    while not all(s[0] in ENDED for job in jobs for s in _states(env, job)):
        assert time.monotonic() < deadline, ([_states(env, job) for job in jobs], _logs(where))
        time.sleep(0.5)


def _states(env: dict[str, str], job: str) -> list[tuple[str, str, str]]:
    """(state, reason, exit code) of each task of ``job``."""
    show = subprocess.run(
        ["scontrol", "show", "job", job], env=env, capture_output=True, text=True, timeout=60
    )
    assert show.returncode == 0, show.stderr
    return re.findall(r"JobState=(\S+) Reason=(\S+).*?ExitCode=(\S+)", show.stdout, re.S)


@pytest.mark.slow
def test_slurm_array_jobs_audit_in_shards_and_merge_only_when_every_shard_ran(
    slurm: dict[str, str], fleet: Path, tmp_path: Path
) -> None:
    """Two array jobs at once (one test, so one cluster start whatever the pytest workers):
    one's shards run, with findings, and its merge is a single run's report; the other's
    shards cannot reach their database, so they fail and its merge never runs."""
    ran, failed = tmp_path / "ran", tmp_path / "failed"
    shards, merge = _submit(slurm, ran, N, fleet, ["--deep"], ["--format", "json"])
    bad_shards, no_merge = _submit(slurm, failed, 2, fleet, ["--db", UNREACHABLE_DB], [])
    _wait(slurm, [shards, merge, bad_shards, no_merge], tmp_path)

    assert _states(slurm, shards) == [("COMPLETED", "None", "0:0")] * N
    assert _states(slurm, merge) == [("COMPLETED", "None", "0:0")]
    files = sorted((ran / "results").iterdir())
    assert files == [ran / "results" / f"shard-{i}.jsonl" for i in range(1, N + 1)]
    _assert_merge_is_a_single_run(fleet, files, (ran / "audit.json").read_text(), deep=True)

    status = _unreachable_db_status(fleet)
    assert _states(slurm, bad_shards) == [("FAILED", "NonZeroExitCode", f"{status}:0")] * 2
    assert _states(slurm, no_merge) == [("CANCELLED", "DependencyNeverSatisfied", "0:0")]
    assert not (failed / "audit.json").exists()
    assert not list((failed / "results").glob("*.jsonl"))
    assert f"shard 1/2 did not run: docket audit exited with {status}" in _logs(failed)


def _logs(where: Path) -> str:
    return "".join(p.read_text() for p in sorted(where.rglob("slurm-*.out")))


@pytest.mark.slow
def test_slurm_array_jobs_audit_a_swift_container_through_either_face(
    slurm: dict[str, str], saio: Saio, swift_fleet: str, tmp_path: Path
) -> None:
    """The same recipes with ``BACKUPS=swift://C`` and ``s3://C`` and the store's credentials
    in the job's environment: each array job's merge is a single run's report, with the
    findings of the damaged backups; and a shard whose store refuses its credentials fails,
    so its merge never runs."""
    env = {**slurm, **saio.env()}
    jobs: dict[str, tuple[str, str]] = {}
    for scheme in ("swift", "s3"):
        root = f"{scheme}://{swift_fleet}"
        jobs[scheme] = _submit(env, tmp_path / scheme, N, root, ["--deep"], ["--format", "json"])
    denied = {**env, "ST_KEY": "not-the-key", "AWS_SECRET_ACCESS_KEY": "not-the-key"}
    bad_shards, no_merge = _submit(denied, tmp_path / "denied", 2, f"swift://{swift_fleet}", [], [])
    _wait(env, [*(j for pair in jobs.values() for j in pair), bad_shards, no_merge], tmp_path)

    for scheme, (shards, merge) in jobs.items():
        assert _states(env, shards) == [("COMPLETED", "None", "0:0")] * N, _logs(tmp_path)
        assert _states(env, merge) == [("COMPLETED", "None", "0:0")]
        files = sorted((tmp_path / scheme / "results").iterdir())
        report = (tmp_path / scheme / "audit.json").read_text()
        _assert_merge_is_a_single_run(f"{scheme}://{swift_fleet}", files, report, deep=True)
        kinds = json.loads(report)["findings"]
        assert {"missing", "truncated", "missing-parent", "orphan"} <= set(kinds), kinds
    assert [s[0] for s in _states(env, bad_shards)] == ["FAILED"] * 2
    assert _states(env, no_merge) == [("CANCELLED", "DependencyNeverSatisfied", "0:0")]
    assert "did not run: docket audit exited with 3" in _logs(tmp_path / "denied")
    assert "not-the-key" not in _logs(tmp_path / "denied")
