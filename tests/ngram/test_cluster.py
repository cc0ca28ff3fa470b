"""fit-ngram on a Dask cluster (lmtool.ngram.cluster): the in-memory model, from 2 worker processes.

One local cluster of 2 worker processes on 127.0.0.1 serves the whole module (starting one
takes seconds). Every fit is compared with the in-memory fit of the same text with
``split_fractions="1"`` (a cluster fits on all of its input): the same vocabulary, the same
n-gram rows, log-probabilities and backoff weights equal to 1e-12, the same discounts.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("distributed", reason="the cluster fit needs Dask: pip install 'lmtool[dask]'")

from lmtool.cli.main import cli  # noqa: E402
from lmtool.errors import DataError, LmtoolError, UsageError  # noqa: E402
from lmtool.ngram import count_ngrams, fit_ngram, read_arpa, save_ngram, stored_model, write_arpa  # noqa: E402
from lmtool.ngram.cluster import fit_cluster, open_cluster, plan_fit  # noqa: E402
from lmtool.ngram.cluster.counting import overlaps  # noqa: E402
from lmtool.ngram.cluster.engine import Run  # noqa: E402
from lmtool.ngram.cluster.fit import adjust_stage, count_stage, vocabulary_stage  # noqa: E402
from lmtool.ngram.cluster.inputs import scan_part  # noqa: E402
from lmtool.ngram.modified_kneser_ney.adjust import adjusted_counts  # noqa: E402
from lmtool.text import load_corpus  # noqa: E402
from tests.ngram.helpers import assert_same_model_file  # noqa: E402

#: bytes of text per part: the corpora below make 6 to 10 parts
PART = 2500


@pytest.fixture(scope="module")
def cluster():
    with open_cluster("local:2") as (client, info):
        yield client, info


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """Three files of Zipf-distributed words (about 5,000 tokens, empty lines among them), one gzipped."""
    rng = np.random.default_rng(11)
    words = np.array([f"w{i}" for i in range(150)])
    p = 1 / np.arange(1, 151)
    directory = tmp_path_factory.mktemp("cluster")
    for index, name in enumerate(["a.txt", "b.txt", "c.txt.gz"]):
        lines = [" ".join(words[rng.choice(150, rng.integers(0, 14), p=p / p.sum())]) for _ in range(200 + 50 * index)]
        data = ("\n".join(lines) + "\n").encode()
        (directory / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return directory


@pytest.fixture(scope="module")
def char_files(tmp_path_factory):
    """Two character files, cut at a point inside the text: one segment under --unit stream."""
    rng = np.random.default_rng(5)
    text = "".join(rng.choice(list("abcab \n"), 5000))
    directory = tmp_path_factory.mktemp("chars")
    (directory / "1.txt").write_text(text[:3001])
    (directory / "2.txt").write_text(text[3001:])
    return directory


def fit(client, spec, order, method="kneser-ney", part_bytes=PART, partitions=None, progress=None, arpa=None,
        model_file=None, **options):
    """A cluster fit of ``spec`` (``options``: the method's and the corpus's, as fit_ngram takes them)."""
    corpus = {key: options.pop(key) for key in list(options) if key in ("tokenizer", "unit", "min_count", "max_vocab")}
    plan = plan_fit(str(spec), order, method, part_bytes=part_bytes, corpus_options=corpus, **options)
    return fit_cluster(plan, client, partitions=partitions, progress=progress, arpa=arpa, model_file=model_file)


def assert_same_model(expected, got) -> None:
    assert got.vocabulary == expected.vocabulary and got.order == expected.order
    for k in range(expected.order):
        assert np.array_equal(expected.tables.ngrams[k], got.tables.ngrams[k]), f"{k + 1}-gram rows differ"
        for name in ("log10_probs", "log10_backoffs"):
            a, b = getattr(expected.tables, name)[k], getattr(got.tables, name)[k]
            assert np.allclose(a, b, rtol=0, atol=1e-12), f"{name}[{k}] differs by {np.nanmax(np.abs(a - b))}"
    assert got.discounts == expected.discounts and got.method == expected.method
    assert got.parameters == expected.parameters and got.fingerprint == expected.fingerprint
    drop = lambda training: {key: value for key, value in training.items() if key != "seconds"}  # noqa: E731
    assert drop(got.training) == drop(expected.training)


@pytest.mark.parametrize("method, params", [("modified-kneser-ney", dict(discount_fallback=True)), ("kneser-ney", {})])
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_cluster_model_equals_the_in_memory_model(cluster, corpus_dir, order, method, params):
    client, _ = cluster
    model, stats = fit(client, corpus_dir, order, method, **params)
    assert stats.parts >= 5 and stats.partitions == 4  # several parts, of three files, and two partitions per worker
    assert_same_model(fit_ngram(str(corpus_dir), order, method, split_fractions="1", **params), model)


def arpa_sections(path) -> list:
    """An ARPA file's header and each order's lines as a set (the order of lines within a section is free)."""
    header, *sections = path.read_text().split("-grams:\n")
    return [header] + [set(section.splitlines()) for section in sections]


@pytest.mark.parametrize("method, params", [("modified-kneser-ney", dict(discount_fallback=True)), ("kneser-ney", {})])
@pytest.mark.parametrize("order", [1, 3, 5])
def test_arpa_written_by_partition_equals_the_in_memory_arpa(cluster, corpus_dir, tmp_path, order, method, params):
    # never gathered: each worker writes its partition's lines, the client joins the parts; the
    # same lines as the in-memory model's ARPA file (float32 values, as a model file holds them)
    client, _ = cluster
    written, stats = fit(client, corpus_dir, order, method, arpa=str(tmp_path / "c.arpa"), **params)
    expected = stored_model(fit_ngram(str(corpus_dir), order, method, split_fractions="1", **params))
    write_arpa(expected, tmp_path / "m.arpa")
    assert arpa_sections(tmp_path / "c.arpa") == arpa_sections(tmp_path / "m.arpa")
    assert written.ngrams == expected.tables.n_listed() and written.discounts == expected.discounts
    assert stats.gathered_bytes == 0 and "write ARPA" in stats.stages
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.arpa", "m.arpa"]  # the parts are gone
    got = read_arpa(tmp_path / "c.arpa")
    assert got.tables.n_listed() == expected.tables.n_listed()
    for k in range(order):
        assert np.array_equal(got.tables.ngrams[k], expected.tables.ngrams[k])


class ElsewhereRun:
    """A stand-in for the cluster's Run whose tasks run here but write into another folder, as
    workers whose disk the client does not share would."""

    def __init__(self, elsewhere):
        self.elsewhere = str(elsewhere)

    def submit(self, name, function, *args):
        return function(*args[:-1], self.elsewhere)

    def wait(self, name, futures):
        pass

    def gather(self, futures):
        return futures


def test_arpa_parts_the_client_cannot_see_are_one_line_and_no_file(corpus_dir, tmp_path):
    from lmtool.ngram.cluster.arpa_parts import write_arpa_by_partition

    model = fit_ngram(str(corpus_dir), 3, "kneser-ney", split_fractions="1")
    (tmp_path / "worker").mkdir()
    with pytest.raises(LmtoolError, match="filesystem that every worker and this machine share"):
        write_arpa_by_partition(ElsewhereRun(tmp_path / "worker"), [model.tables], model.vocabulary,
                                model.vocabulary.tokens, 3, len(model.vocabulary), str(tmp_path / "m.arpa"))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["worker"]  # no ARPA file, no parts folder left


def test_counts_and_adjusted_counts_are_exact(cluster, corpus_dir):
    client, _ = cluster
    order, spec = 4, str(corpus_dir)
    run, plan = Run(client), plan_fit(spec, order, "modified-kneser-ney", part_bytes=PART)
    shared, tails, interned = vocabulary_stage(run, plan.parts, plan.options, order, spec)
    vocabulary = client.gather(shared)
    counted, pieces = count_stage(run, interned, shared, overlaps(tails, vocabulary, order, "line"), order, 3)
    suffix, _ = adjust_stage(run, pieces, counted, client.gather(counted), order, len(vocabulary), 3)
    partitions = client.gather(suffix)
    split = load_corpus(spec, split_fractions="1").splits["train"]
    expected = count_ngrams(split.ids, split.starts, order, len(vocabulary))
    adjusted = adjusted_counts(expected)
    for k in range(order):
        rows = np.concatenate([p.counts.ngrams[k] for p in partitions])
        sort = np.lexsort(rows.T[::-1])
        assert np.array_equal(rows[sort], expected.ngrams[k])
        assert np.array_equal(np.concatenate([p.counts.counts[k] for p in partitions])[sort], expected.counts[k])
        assert np.array_equal(np.concatenate([p.adjusted[k] for p in partitions])[sort], adjusted[k])


@pytest.mark.parametrize("partitions", [None, 8])  # 8: more partitions than the 6 ids in the text, so some are empty
def test_stream_units_across_files_and_parts(cluster, char_files, partitions):
    client, _ = cluster
    options = dict(tokenizer="char", unit="stream")
    model, stats = fit(client, char_files / "*.txt", 5, part_bytes=700, partitions=partitions, **options)
    assert stats.parts == 8 and model.training["segments"] == 1  # 5 parts of 1.txt, 3 of 2.txt
    assert stats.partitions == (partitions or 4)
    assert_same_model(fit_ngram(str(char_files / "*.txt"), 5, "kneser-ney", split_fractions="1", **options), model)


@pytest.mark.parametrize("options, params", [
    (dict(min_count=2, max_vocab=60), dict(discount_fallback=True, prune="0 1 1")),  # <unk> tokens, pruned n-grams
    ({}, dict(discount_fallback=True, prune="0 0 2")),
])
def test_vocabulary_cutoffs_and_pruning(cluster, corpus_dir, options, params):
    client, _ = cluster
    model, _ = fit(client, corpus_dir, 3, "modified-kneser-ney", **options, **params)
    expected = fit_ngram(str(corpus_dir), 3, split_fractions="1", **options, **params)
    assert_same_model(expected, model)
    assert len(expected.tables.ngrams[2]) < len(count_ngrams(*_train(corpus_dir, options), 3, 200).ngrams[2])


def _train(corpus_dir, options):
    split = load_corpus(str(corpus_dir), split_fractions="1", **options).splits["train"]
    return split.ids, split.starts


def test_an_fsspec_url_reads_the_same_text(cluster, corpus_dir):
    client, _ = cluster
    model, stats = fit(client, f"file://{corpus_dir}/*.txt*", 3)
    assert stats.parts >= 5 and model.training["corpus"] == f"file://{corpus_dir}/*.txt*"
    model.training["corpus"] = str(corpus_dir)
    assert_same_model(fit_ngram(str(corpus_dir), 3, "kneser-ney", split_fractions="1"), model)


def test_parts_smaller_than_a_line_leave_empty_parts(cluster, tmp_path):
    client, _ = cluster
    path = tmp_path / "long-lines.txt"
    path.write_text("".join(f"{'a b c d ' * 9}{i % 3}\n" for i in range(6)))  # 6 lines of 74 bytes
    model, stats = fit(client, path, 3, part_bytes=20)
    assert stats.parts == 23  # 18 of them own no line start: empty
    assert_same_model(fit_ngram(str(path), 3, "kneser-ney", split_fractions="1"), model)


@pytest.mark.parametrize("stage, holding", [
    ("count n-grams", "lmtool-count"),  # counted parts lost: counted again from the interned parts
    ("interpolate", "lmtool-suffix"),  # partitions by last word lost after their inputs were released: from the text
])
def test_a_killed_worker_is_replaced_and_the_model_is_unchanged(cluster, corpus_dir, stage, holding):
    client, _ = cluster
    client.wait_for_workers(2, timeout=300)  # generous: a loaded 2-core machine starts workers slowly
    before = client.run(os.getpid)
    killed = []

    def kill_a_worker(name, done, total):
        # once a task of the stage is done, kill a worker holding results it needs: they are lost and must be computed again
        if name == stage and done == 1 and not killed:
            holders = [w for w, keys in client.has_what().items() if any(holding in str(key) for key in keys)]
            killed.append(before[holders[0]])
            os.kill(killed[0], signal.SIGKILL)

    model, _ = fit(client, corpus_dir, 3, progress=kill_a_worker)
    assert killed
    client.wait_for_workers(2, timeout=300)  # generous: a loaded 2-core machine starts workers slowly
    after = client.run(os.getpid)
    assert killed[0] not in after.values() and len(after) == 2  # the nanny started a new worker process
    assert_same_model(fit_ngram(str(corpus_dir), 3, "kneser-ney", split_fractions="1"), model)


def test_a_worker_killed_while_the_model_file_is_written_leaves_it_unchanged(cluster, corpus_dir, tmp_path):
    # the ranges sorted by hash are lost with the worker: they, and the rows they needed, are computed again
    client, _ = cluster
    client.wait_for_workers(2, timeout=300)
    before = client.run(os.getpid)
    killed = []

    def kill_a_worker(name, done, total):
        if name == "model 3-grams written" and done == 1 and not killed:
            holders = [w for w, keys in client.has_what().items() if any("sort-range-2" in str(key) for key in keys)]
            killed.append(before[holders[0]])
            os.kill(killed[0], signal.SIGKILL)

    fit(client, corpus_dir, 4, progress=kill_a_worker, model_file=str(tmp_path / "c.lmt"))
    assert killed
    client.wait_for_workers(2, timeout=300)
    save_ngram(stored_model(fit_ngram(str(corpus_dir), 4, "kneser-ney", split_fractions="1")), tmp_path / "expected.lmt")
    assert_same_model_file(tmp_path / "expected.lmt", tmp_path / "c.lmt")


def test_an_unreadable_part_is_a_data_error_naming_file_and_byte(cluster, tmp_path):
    client, _ = cluster
    (tmp_path / "a.txt").write_text("good words here\n" * 100)
    (tmp_path / "b.txt").write_bytes(b"more words\n" * 100 + b"bad \xc3( byte\n" + b"end\n")
    with pytest.raises(DataError, match=r"b\.txt: invalid UTF-8 at byte 1104 "):
        fit(client, tmp_path, 2, part_bytes=300)


def test_a_file_gone_from_a_worker_is_a_data_error_naming_the_machine(cluster, tmp_path):
    client, _ = cluster
    path = tmp_path / "vanishing.txt"
    path.write_text("a b c\n")
    plan = plan_fit(str(path), 3, "kneser-ney")
    path.unlink()
    future = client.submit(scan_part, plan.parts[0], plan.options["tokenizer"], "line", "strict", 3)
    with pytest.raises(DataError, match=f"vanishing.txt: no such file on {socket.gethostname()}"):
        future.result()


def test_every_task_of_a_run_has_a_key_of_its_own():
    # Dask gives a key it has seen the result it holds: a repeated key hands a task another's result
    class KeyRecorder:
        def __init__(self):
            self.keys = []

        def submit(self, function, *args, key):
            self.keys.append(key)

    client = KeyRecorder()
    run, other = Run(client), Run(client)
    for _ in range(50_000):  # with 24 random bits per key, as before, a repeat was near certain here
        run.submit("piece", len, ())
    other.submit("piece", len, ())
    assert len(set(client.keys)) == len(client.keys) == 50_001


def test_an_unreachable_scheduler_is_one_line_within_the_timeout():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LmtoolError, match=f"cannot reach a Dask scheduler at tcp://127.0.0.1:{port} within 1 s"):
        with open_cluster(f"tcp://127.0.0.1:{port}", timeout=1):
            pass


def test_methods_a_cluster_does_not_fit_are_named(corpus_dir):
    with pytest.raises(UsageError, match="--smoothing witten-bell does not run on a cluster, which fits "
                                         "modified-kneser-ney and kneser-ney"):
        plan_fit(str(corpus_dir), 3, "witten-bell")


def test_cli_json_reports_the_cluster_and_writes_model_and_arpa_by_partition(cluster, corpus_dir, tmp_path):
    client, info = cluster
    client.wait_for_workers(2, timeout=300)  # a worker killed by an earlier test may still be restarting
    out, arpa = tmp_path / "m.lmt", tmp_path / "m.arpa"
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", str(corpus_dir), "--order", "3", "--smoothing", "kneser-ney",
                                      "--cluster", info.scheduler, "--partition-size", "2K", "-o", str(out),
                                      "--arpa", str(arpa), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["cluster"]["scheduler"] == info.scheduler and summary["cluster"]["workers"] == 2
    assert summary["cluster"]["parts"] >= 5 and summary["cluster"]["stages"]["count n-grams"]["shuffle_mb"] > 0
    assert summary["cluster"]["gathered_mb"] == 0 and "model 3-grams written" in summary["cluster"]["stages"]
    # the file holds float32 values (the compact format): the file save_ngram writes of what the in-memory model stores
    expected = stored_model(fit_ngram(str(corpus_dir), 3, "kneser-ney", split_fractions="1"))
    save_ngram(expected, tmp_path / "expected.lmt")
    assert_same_model_file(tmp_path / "expected.lmt", out)
    assert summary["ngrams"] == expected.tables.n_listed() and summary["model_bytes"] == out.stat().st_size
    write_arpa(expected, tmp_path / "expected.arpa")
    assert arpa_sections(arpa) == arpa_sections(tmp_path / "expected.arpa")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["expected.arpa", "expected.lmt", "m.arpa", "m.lmt"]


def test_cli_quantise_gathers_the_model_and_writes_save_ngrams_file(cluster, corpus_dir, tmp_path):
    # equal-count bins need every value of an order at once: this model is gathered on the client
    client, info = cluster
    client.wait_for_workers(2, timeout=300)
    out = tmp_path / "q.lmt"
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", str(corpus_dir), "--order", "3", "--cluster", info.scheduler,
                                      "--smoothing", "kneser-ney", "--partition-size", "2K", "-o", str(out), "--quantise", "6",
                                      "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cluster"]["gathered_mb"] > 0
    expected = fit_ngram(str(corpus_dir), 3, "kneser-ney", split_fractions="1")
    save_ngram(stored_model(expected, 6), tmp_path / "expected.lmt", quantise=6)
    assert_same_model_file(tmp_path / "expected.lmt", out)


@pytest.mark.parametrize("order, method, params", [(1, "kneser-ney", {}), (4, "modified-kneser-ney", dict(discount_fallback=True)),
                                                   (5, "modified-kneser-ney", dict(discount_fallback=True, prune="0 1"))])
def test_model_file_written_by_partition_is_save_ngrams(cluster, corpus_dir, tmp_path, order, method, params):
    written, stats = fit(client=cluster[0], spec=corpus_dir, order=order, method=method, model_file=str(tmp_path / "c.lmt"),
                         **params)
    assert written.model == str(tmp_path / "c.lmt") and written.arpa is None and stats.gathered_bytes == 0
    expected = stored_model(fit_ngram(str(corpus_dir), order, method, split_fractions="1", **params))
    save_ngram(expected, tmp_path / "expected.lmt")
    assert_same_model_file(tmp_path / "expected.lmt", tmp_path / "c.lmt")
    assert written.ngrams == expected.tables.n_listed()


def test_cli_arpa_alone_is_written_by_partition(cluster, corpus_dir, tmp_path):
    client, info = cluster
    client.wait_for_workers(2, timeout=300)
    arpa = tmp_path / "m.arpa"
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", str(corpus_dir), "--order", "3", "--smoothing", "kneser-ney",
                                      "--cluster", info.scheduler, "--partition-size", "2K", "--arpa", str(arpa), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["model"] is None and summary["cluster"]["gathered_mb"] == 0
    expected = stored_model(fit_ngram(str(corpus_dir), 3, "kneser-ney", split_fractions="1"))
    assert summary["ngrams"] == expected.tables.n_listed() and summary["discounts"] == expected.discounts
    write_arpa(expected, tmp_path / "expected.arpa")
    assert arpa_sections(arpa) == arpa_sections(tmp_path / "expected.arpa")


def test_cli_prints_the_cluster_its_dashboard_and_each_stage(cluster, corpus_dir, tmp_path):
    _, info = cluster
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", str(corpus_dir / "a.txt"), "--order", "2",
                                      "--cluster", info.scheduler, "-o", str(tmp_path / "m.lmt")])
    assert result.exit_code == 0, result.output
    assert f"cluster {info.scheduler}: 2 worker(s), 2 thread(s)" in result.stderr
    assert f"dashboard: {info.dashboard}" in result.stderr
    for line in ("[3/6] count n-grams: 1 parts", "[4/6] adjust counts: 4 partitions by last word",
                 "[5/6] initial probabilities: 4/4 done", "[6/6] interpolate: 4/4 done",
                 "[write] model 2-grams by hash: 4 ranges of the hash index", "[write] model 2-grams written: 4/4 done"):
        assert line in result.stderr


def test_cli_local_cluster_error_is_one_line_from_the_whole_process_tree(tmp_path):
    # a subprocess, so that the workers' own stderr is seen too: a worker's failure is reported once, by the client
    (tmp_path / "a.txt").write_text("some words\n" * 50)
    (tmp_path / "b.txt").write_bytes(b"text\0 and a NUL\n")
    out = tmp_path / "m.npz"
    result = subprocess.run([sys.executable, "-m", "lmtool", "fit-ngram", "--corpus", str(tmp_path), "--cluster", "local:2",
                             "--cluster-memory", "1G", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "2 worker(s), 2 thread(s), 1.0 GiB each" in lines[0] and lines[1].startswith("dashboard: http://127.0.0.1:")
    assert lines[-1] == f"Error: {tmp_path / 'b.txt'} looks binary (NUL byte at byte 4): expected UTF-8 text"
    assert all(line.startswith("[1/6] read and tokenize") for line in lines[2:-1]), lines
    assert not out.exists()


@pytest.mark.parametrize("args, code, message", [
    (["--smoothing", "katz"], 2, "--smoothing katz does not run on a cluster"),
    (["--tokenizer", "bpe"], 2, "--tokenizer bpe learns from the whole text"),
    (["--memory", "1G"], 2, "give one of --cluster, --memory, --from-arpa"),
    (["--corpus", "gen:markov"], 2, "--cluster reads text files"),
    (["--corpus", "{tmp}/none/*.txt"], 3, "no files match"),
    (["--corpus", "{tmp}/empty.txt"], 3, "empty.txt is empty"),
    (["--corpus", "{tmp}/blank.txt"], 3, "the training text is empty"),
    (["--corpus", "{tmp}/binary.txt"], 3, "binary.txt looks binary"),
])
def test_cli_bad_input_is_one_line_and_leaves_no_model(cluster, corpus_dir, tmp_path, args, code, message):
    _, info = cluster
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blank.txt").write_text("\n \n\n")
    (tmp_path / "binary.txt").write_bytes(b"text\0 and a NUL\n")
    out = tmp_path / "m.npz"
    args = ["--corpus", str(corpus_dir), *[a.format(tmp=tmp_path) for a in args]]
    result = CliRunner().invoke(cli, ["fit-ngram", *args, "--cluster", info.scheduler, "-o", str(out), "--json"])
    assert result.exit_code == code, result.output
    assert result.stderr.startswith("Error: ") and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()


def test_cli_unreachable_scheduler_exits_1(tmp_path, corpus_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "m.npz"
    result = CliRunner().invoke(cli, ["fit-ngram", "--corpus", str(corpus_dir), "--cluster", f"tcp://127.0.0.1:{port}",
                                      "-o", str(out)])
    assert result.exit_code == 1 and "cannot reach a Dask scheduler" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not out.exists()
