"""``fit-ngram --cluster``: its options and the branch that fits on a Dask cluster (lmtool.ngram.cluster).

Dask is imported only when ``--cluster`` is given, so the other commands, and fit-ngram without
it, neither need it installed nor pay for importing it.
"""

from __future__ import annotations

import logging
import time
from typing import Callable

import click

from lmtool.errors import UsageError

#: the cluster fit's stages, as its progress names them, and what their tasks are
STAGES = {"read and tokenize": "parts", "vocabulary": "task", "count n-grams": "parts",
          "adjust counts": "partitions by last word", "initial probabilities": "partitions by context",
          "interpolate": "partitions by last word"}
#: the files written by partition after them (stage 6 of lmtool.ngram.cluster): what their tasks are,
#: by the end of the stage's name ("model 3-grams by hash", ...)
WRITING = {"outline": "partitions by last word", "by hash": "ranges of the hash index",
           "written": "ranges writing their parts", "write ARPA": "partitions by last word"}


def cluster_options(function: Callable) -> Callable:
    """``--cluster``, ``--cluster-memory``, ``--partition-size``, ``--shuffle-partitions``."""
    for option in reversed([
        click.option("--cluster", default=None, metavar="ADDRESS|local:N",
                     help="Fit on a Dask cluster: a running scheduler (tcp://host:8786) or local:N, N worker "
                          "processes started here; the corpus files must be readable by every worker. "
                          "Same model as in memory (modified-kneser-ney, kneser-ney); the workers write -o and "
                          "--arpa by partition (on a filesystem they share with this machine), the model is never "
                          "gathered here unless --quantise. Needs lmtool[dask]."),
        click.option("--cluster-memory", default=None, metavar="SIZE",
                     help="Memory limit of each worker of --cluster local:N (default: this machine's shared out)."),
        click.option("--partition-size", default=None, metavar="SIZE",
                     help="Text per partition read and counted by one --cluster task (default 16M; counting "
                          "takes about (40 + 40 x order) bytes per token)."),
        click.option("--shuffle-partitions", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Partitions of the --cluster shuffles (default 2 per worker thread); each holds about "
                          "1/N of the counts."),
    ]):
        function = option(function)
    return function


def check_cluster_options(cluster: str | None, cluster_memory: str | None, partition_size: str | None,
                          shuffle_partitions: int | None, *, from_arpa: str | None, memory: str | None) -> None:
    """A :class:`UsageError` for cluster options that would be ignored or clash (before anything runs)."""
    if cluster is None:
        given = [name for name, value in (("--cluster-memory", cluster_memory), ("--partition-size", partition_size),
                                          ("--shuffle-partitions", shuffle_partitions)) if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only with --cluster ADDRESS|local:N (add it, or drop them)")
    elif from_arpa is not None or memory is not None:
        raise UsageError("--cluster fits on --corpus files and replaces --memory: give one of --cluster, --memory, "
                         "--from-arpa, --from-model")


def fit_on_cluster(spec: str, order: int, smoothing: str, cluster: str, cluster_memory: str | None,
                   partition_size: str | None, shuffle_partitions: int | None, quiet: bool, corpus_options: dict,
                   params: dict, arpa_file: str | None = None, model_file: str | None = None):
    """Fit on the cluster ``cluster`` names; the model and what ``--json`` reports of the cluster.

    With ``arpa_file`` or ``model_file`` (or both) the workers write the model as those files by
    partition and it is never gathered: the first value is then the cluster's
    :class:`~lmtool.ngram.cluster.ClusterWritten`."""
    try:
        from lmtool.ngram.cluster import DEFAULT_PART_BYTES, fit_cluster, open_cluster, plan_fit
    except ImportError as error:
        raise UsageError(f"--cluster needs Dask ({error}): pip install 'lmtool[dask]'") from None
    from lmtool.ngram.external import parse_memory

    memory = parse_memory(cluster_memory, "--cluster-memory") if cluster_memory is not None else None
    part_bytes = parse_memory(partition_size, "--partition-size", 1024) if partition_size else DEFAULT_PART_BYTES
    plan = plan_fit(spec, order, smoothing, part_bytes=part_bytes, corpus_options=corpus_options, **params)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # Dask's own chatter, unless -v
    with open_cluster(cluster, memory) as (client, info):
        if not quiet:
            _announce(info)
        model, stats = fit_cluster(plan, client, partitions=shuffle_partitions, progress=None if quiet else _Progress(),
                                   arpa=arpa_file, model_file=model_file)
    figures = {name: {"tasks": f.tasks, "seconds": f.seconds, "shuffle_mb": round(f.shuffle_bytes / 2**20, 3)}
               for name, f in stats.stages.items()}
    peaks = stats.peak_memory_mb
    if not quiet:
        click.echo(f"peak memory: workers {', '.join(f'{mb:.0f}' for mb in peaks['workers'])} MiB, "
                   f"scheduler {peaks['scheduler']:.0f} MiB", err=True)
    return model, {**vars(info), "parts": stats.parts, "partitions": stats.partitions, "part_bytes": stats.part_bytes,
                   "tokens": stats.tokens, "gathered_mb": round(stats.gathered_bytes / 2**20, 3), "stages": figures,
                   "peak_memory_mb": peaks}


def _announce(info) -> None:
    """The cluster used and its dashboard, on stderr."""
    memory = f", {info.memory_per_worker / 2**30:.1f} GiB each" if info.memory_per_worker else ""
    click.echo(f"cluster {info.scheduler}{' (local)' if info.local else ''}: {info.workers} worker(s), "
               f"{info.threads} thread(s){memory}", err=True)
    try:
        import bokeh  # noqa: F401  (the dashboard's pages need it)
        note = ""
    except ImportError:
        note = " (pip install bokeh to serve it)"
    click.echo(f"dashboard: {info.dashboard}{note}", err=True)


class _Progress:
    """Each stage's task count when it starts and its time when it ends, on stderr."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        number = f"[{list(STAGES).index(stage) + 1}/{len(STAGES)}] " if stage in STAGES else "[write] "
        if done == 0:
            self.started = time.perf_counter()
            tasks = STAGES.get(stage) or next((what for end, what in WRITING.items() if stage.endswith(end)), "tasks")
            click.echo(f"{number}{stage}: {total} {tasks}", err=True)
        elif done == total:
            click.echo(f"{number}{stage}: {done}/{total} done in {time.perf_counter() - self.started:.1f} s", err=True)
