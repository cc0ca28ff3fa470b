"""The Dask side of the cluster fit: connecting to a cluster, running stages with progress, shuffles.

The other modules of this package hold plain functions of numpy arrays (the tasks) and never
import Dask; this one submits them. Every stage is a list of futures: the data stays on the
workers between stages, only small summaries come back to the client, and the scheduler keeps
the lineage of every result, so a worker that dies mid-run is replaced (a local cluster's nanny
restarts it; remote workers are whatever the operator runs) and the tasks whose results it held
run again elsewhere. The fit's numbers do not depend on where or how often a task ran.

A shuffle (:meth:`Run.shuffle`) is Dask's task-based all-to-all: each source task returns a
tuple of ``n`` pieces, one small ``getitem`` task per (source, destination) picks a piece on the
source's worker, and each destination task receives its pieces from every source. With ``S``
sources and ``n`` destinations that is ``S * n`` tiny tasks, which the scheduler handles at some
thousands per second: right for the hundreds of partitions of a corpus of tens of GB.
"""

from __future__ import annotations

import logging
import operator
import resource
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from distributed import Client, LocalCluster, as_completed
from distributed.scheduler import KilledWorker

from lmtool.errors import LmtoolError, UsageError

#: seconds to wait for a scheduler given by address before giving up
CONNECT_TIMEOUT = 5.0

#: progress(stage, tasks done, tasks in the stage): called at a stage's start (done 0) and after each task
Progress = Callable[[str, int, int], None]


@dataclass
class ClusterInfo:
    """The cluster a fit ran on, as ``fit-ngram --json`` reports it."""

    scheduler: str
    local: bool
    workers: int
    threads: int
    memory_per_worker: int | None
    dashboard: str | None


def parse_cluster(spec: str) -> int | None:
    """The number of workers of ``local:N``, or None for a scheduler address; a :class:`UsageError`
    for anything else."""
    if spec.startswith("local:"):
        count = spec[len("local:"):]
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"--cluster local:N takes a number of worker processes N >= 1, got {spec!r}")
        return int(count)
    if "://" not in spec and ":" not in spec:
        raise UsageError(f"--cluster takes a scheduler address (tcp://host:8786) or local:N, got {spec!r}")
    return None


@contextmanager
def open_cluster(spec: str, worker_memory: int | None = None, timeout: float = CONNECT_TIMEOUT) -> Iterator[tuple[Client, ClusterInfo]]:
    """A client of the cluster ``spec`` names and what it is: ``local:N`` starts N worker processes
    on 127.0.0.1 (one thread each, ``worker_memory`` bytes each, default the machine's memory
    shared out) and stops them on exit; an address connects to a running scheduler, within
    ``timeout`` seconds. The workers must be able to import lmtool (it is checked)."""
    workers = parse_cluster(spec)
    local = None
    if workers is not None:
        with warnings.catch_warnings():  # 8787 taken: Dask serves the dashboard on another port, which is printed
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            local = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                 dashboard_address="127.0.0.1:8787", memory_limit=worker_memory or "auto",
                                 silence_logs=logging.CRITICAL)  # a task's error reaches the client, once
    elif worker_memory is not None:
        raise UsageError("--cluster-memory applies to --cluster local:N; a running cluster's workers have their own limits")
    try:
        client = Client(local) if local is not None else _connect(spec, timeout)
        try:
            yield client, _describe(client, local is not None)
        finally:
            client.close()
    finally:
        if local is not None:
            local.close()


def _connect(address: str, timeout: float) -> Client:
    """A client of the scheduler at ``address``; a one-line :class:`LmtoolError` when it cannot be reached."""
    try:
        return Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as error:
        raise LmtoolError(f"cannot reach a Dask scheduler at {address} within {timeout:g} s ({type(error).__name__}): "
                          "start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                          "or use --cluster local:N") from None


def _describe(client: Client, local: bool) -> ClusterInfo:
    """What ``client`` is connected to; a :class:`LmtoolError` when there are no workers or they lack lmtool."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        raise LmtoolError(f"the Dask scheduler at {client.scheduler.address} has no workers: start some with "
                          f"`dask worker {client.scheduler.address}`")
    try:
        versions = set(client.run(lmtool_version).values())
    except Exception as error:  # the worker could not even unpickle the call: lmtool is not installed there
        raise LmtoolError(f"the Dask workers cannot run lmtool ({type(error).__name__}: {error}): "
                          "install lmtool[dask] on every worker machine") from None
    if versions != {lmtool_version()}:
        raise LmtoolError(f"the Dask workers run lmtool {', '.join(sorted(versions))}, this client {lmtool_version()}: "
                          "install the same version everywhere")
    limits = {info.get("memory_limit") for info in workers.values()}
    return ClusterInfo(scheduler=client.scheduler.address, local=local, workers=len(workers),
                       threads=sum(info.get("nthreads", 1) for info in workers.values()),
                       memory_per_worker=limits.pop() if len(limits) == 1 else None,
                       dashboard=client.dashboard_link)


def peak_memory_mb(client: Client) -> dict:
    """Peak resident memory so far of the scheduler and of each worker process, in MiB (each
    process's own high-water mark: Dask starts workers as fresh processes)."""
    workers = client.run(peak_rss_mb)
    return {"scheduler": round(client.run_on_scheduler(peak_rss_mb), 1),
            "workers": [round(workers[address], 1) for address in sorted(workers)]}


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB (Linux reports KiB); run on the cluster's processes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def lmtool_version() -> str:
    """The version of lmtool importable here (run on every worker by :func:`_describe`)."""
    import lmtool

    return lmtool.__version__


@dataclass
class StageFigures:
    """One stage as measured: tasks, wall seconds, and the bytes its shuffle handed between tasks."""

    tasks: int = 0
    seconds: float = 0.0
    shuffle_bytes: int = 0


@dataclass
class Run:
    """One fit on ``client``: names its tasks, waits for stages with ``progress``, does shuffles,
    and keeps each stage's figures.

    It holds every future it made until it is dropped: a result that a worker took with it when
    it died is computed again from its inputs, which Dask can do only while they are wanted (a
    released input is forgotten once its dependents are done). So every stage's results stay on
    the workers, in memory or spilled to their disk, until the model is gathered. For the same
    reason nothing is scattered: data scattered from the client has no lineage (and Dask's
    active memory manager may drop the replicas of a broadcast), so what every task needs (the
    vocabulary, the discounts) is itself a task's result."""

    client: Client
    progress: Progress | None = None
    stages: dict[str, StageFigures] = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    submitted: int = 0
    held: list = field(default_factory=list)

    def submit(self, name: str, function: Callable, *args: Any) -> Any:
        """A future of ``function(*args)`` (futures among ``args`` are their results), named for the dashboard."""
        # a key Dask has seen names the same result, so every key of a run is its own: a counter
        # (6 random hex digits per key gave a fit of 1,276 tasks, order 5 written by partition
        # with 8 partitions, a 3% chance that some task silently got another task's result)
        self.submitted += 1
        future = self.client.submit(function, *args, key=f"lmtool-{name}-{self.token}-{self.submitted}")
        self.held.append(future)
        return future

    def pieces(self, sources: list, n: int) -> list[list]:
        """``pieces[j][i]``: the future of piece ``j`` of source ``i`` (each source a tuple of ``n``)."""
        return [[self.submit("piece", operator.getitem, source, j) for source in sources] for j in range(n)]

    def shuffle(self, name: str, sources: list, n: int, function: Callable, *args: Any) -> list:
        """All-to-all: destination ``j`` is ``function(j, *args, *pieces j of every source)``."""
        return [self.submit(f"{name}-{j}", function, j, *args, *column) for j, column in enumerate(self.pieces(sources, n))]

    def wait(self, name: str, futures: list, shuffle_bytes: int = 0) -> None:
        """Wait for a stage's ``futures``, reporting progress; the first task error is raised here.

        A task that raised an :class:`LmtoolError` (an unreadable part, say) re-raises it; a task
        that killed its worker three times (Dask's ``allowed-failures``) is a one-line
        :class:`LmtoolError`."""
        started = time.perf_counter()
        if self.progress:
            self.progress(name, 0, len(futures))
        try:
            for done, future in enumerate(as_completed(futures), 1):
                if future.status == "error":
                    future.result()
                if self.progress:
                    self.progress(name, done, len(futures))
        except KilledWorker as error:
            raise LmtoolError(f"a Dask worker died repeatedly while running {name} ({error}): out of memory? "
                              "give the workers more memory or lower --partition-size") from None
        self.stages[name] = StageFigures(len(futures), round(time.perf_counter() - started, 3), shuffle_bytes)

    def gather(self, futures: list) -> list:
        """The results of ``futures`` (small summaries: large data stays on the workers)."""
        return self.client.gather(futures)
