"""``lmtool fit-ngram``: estimate an order-n model on a corpus (or convert an ARPA file) and save it."""

from __future__ import annotations

import os
import resource
import time
from types import SimpleNamespace

import click

from lmtool import text  # corpus reading loads only to fit (text.load_corpus), never to convert
from lmtool.allocator import hold_freed_memory, share_one_arena
from lmtool.cli.cluster import check_cluster_options, cluster_options, fit_on_cluster
from lmtool.cli.options import check_paths, corpus_kwargs, corpus_options, json_option, print_json
from lmtool.errors import UsageError
from lmtool.ngram import load_ngram, read_arpa, save_ngram, stored_model, write_arpa
from lmtool.ngram.arpa import convert_arpa
from lmtool.ngram.fit import DEFAULT_METHOD, METHODS, check_fit_options, fit_ngram as fit


def _progress(message: str, quiet: bool) -> None:
    if not quiet:
        click.echo(message, err=True)


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@click.command("fit-ngram", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--corpus", "spec", metavar="SPEC", help="Corpus to fit on (its train split); see `lmtool corpus -h`.")
@click.option("--from-arpa", "from_arpa", type=click.Path(dir_okay=False), default=None,
              help="Convert this ARPA file (KenLM/SRILM) instead of fitting; --corpus is then unnecessary.")
@click.option("--from-model", "from_model", type=click.Path(dir_okay=False), default=None,
              help="Convert this n-gram model file (an older .npz, a .lmt, an ARPA file), e.g. to quantise it.")
@click.option("--order", "-n", type=int, default=3, show_default=True, help="Model order (1 to 10 or more).")
@click.option("--smoothing", type=click.Choice(list(METHODS)), default=DEFAULT_METHOD, show_default=True,
              help="Smoothing method (stupid-backoff gives scores, not probabilities).")
@click.option("--discount", type=float, default=None, help="Fixed discount in (0, 1] (absolute, kneser-ney).")
@click.option("--k", "k", type=float, default=None, help="Added to every count (add-k; default 0.5).")
@click.option("--gtmax", type=int, default=None, help="Good-Turing threshold (katz; default 5).")
@click.option("--alpha", type=float, default=None, help="Backoff factor (stupid-backoff; default 0.4).")
@click.option("--prune", default=None, metavar="'0 1 1'",
              help="Per-order count thresholds like lmplz --prune (modified-kneser-ney); the last repeats.")
@click.option("--discount-fallback", is_flag=True, default=None,
              help="Where counts-of-counts leave a discount undefined use D1=0.5 D2=1 D3+=1.5 (lmplz's flag).")
@corpus_options
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Model file to write: the compact memory-mapped format (.lmt by convention). "
                   "Give -o, --arpa or both.")
@click.option("--quantise", type=click.IntRange(2, 16), default=None, metavar="BITS",
              help="Store probabilities and backoffs above the unigrams in BITS bits (8: about half the size, "
                   "like build_binary -q 8 -b 8); the valid perplexity change is reported.")
@click.option("--arpa", type=click.Path(dir_okay=False), default=None,
              help="Write the model as an ARPA file (alone, as lmplz does, or beside -o).")
@click.option("--memory", default=None, metavar="SIZE",
              help="Count out of core within this working-memory budget (500M, 2G): the corpus is streamed, "
                   "sorted runs are spilled to --tmp and merged; same model as in memory.")
@click.option("--tmp", "tmp", type=click.Path(file_okay=False), default=None,
              help="Directory for the --memory runs (default: the system temporary directory).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes counting chunks in parallel (with --memory).")
@cluster_options
@json_option
@click.pass_context
def fit_ngram(ctx: click.Context, spec, from_arpa, from_model, order, smoothing, discount, k, gtmax, alpha, prune,
              discount_fallback, output, quantise, arpa, memory, tmp, workers, cluster, cluster_memory, partition_size,
              shuffle_partitions, as_json, **options) -> None:
    """Estimate an order-N Markov model and save it (and optionally its ARPA form).

    Prints n-grams per order, discounts, time, peak memory and the valid perplexity (when
    the corpus has a valid split; </s> counted, <s> never predicted).

    Example: lmtool fit-ngram --corpus brown-bengio2003 --order 5 -o brown5.lmt --arpa brown5.arpa
    (larger than memory: add --memory 2G --tmp /scratch --workers 4; on a Dask cluster:
    --cluster tcp://host:8786; an older .npz: lmtool fit-ngram --from-model old.npz -o new.lmt)
    """
    quiet = as_json or bool(ctx.find_root().params.get("quiet"))
    started = time.perf_counter()
    if sum(source is not None for source in (spec, from_arpa, from_model)) != 1:
        raise UsageError("give exactly one of --corpus SPEC (to fit), --from-arpa FILE or --from-model FILE (to convert)")
    if output is None and arpa is None:
        raise UsageError("nothing to write: give -o MODEL (the .lmt model file), --arpa FILE, or both")
    if quantise is not None and output is None:
        raise UsageError("--quantise stores the model file's values in fewer bits: give -o MODEL")
    valid = external = on_cluster = None
    if memory is not None and spec is None:
        raise UsageError("--memory applies to fitting on --corpus, not to converting a file")
    check_cluster_options(cluster, cluster_memory, partition_size, shuffle_partitions,
                          from_arpa=from_arpa or from_model, memory=memory)
    check_paths({"-o": output, "--arpa": arpa}, {"--from-arpa": from_arpa, "--from-model": from_model}, corpus=spec,
                directories={"--tmp": tmp} if memory is not None else None)
    # --prune goes through as given: the n-gram package parses and checks it (prune.check_prune)
    params = dict(discount=discount, k=k, gtmax=gtmax, alpha=alpha, prune=prune, discount_fallback=discount_fallback)
    converted = from_arpa is not None and output is not None and arpa is None and quantise is None
    if arpa is not None and cluster is None:
        share_one_arena()  # the ARPA writer's threads (lmtool.allocator)
    if converted:  # the plain conversion: straight from the text to the file where the file allows
        _progress(f"converting {from_arpa} to {output}", quiet)
        hold_freed_memory()
        model = convert_arpa(from_arpa, output)
    elif from_arpa is not None:
        _progress(f"reading {from_arpa}", quiet)
        model = read_arpa(from_arpa)
    elif from_model is not None:
        _progress(f"reading {from_model}", quiet)
        model = load_ngram(from_model)
    elif cluster is not None:
        # the workers write the files by partition; --quantise's bins need every value of an order: gathered
        by_partition = quantise is None
        model, on_cluster = fit_on_cluster(spec, order, smoothing, cluster, cluster_memory, partition_size,
                                           shuffle_partitions, quiet, corpus_kwargs(options), params,
                                           arpa_file=arpa if by_partition else None,
                                           model_file=output if by_partition else None)
    elif memory is not None:
        model, external = _fit_external(spec, order, smoothing, memory, tmp, workers, quiet, options, **params)
    else:
        model, valid = _fit_in_memory(spec, order, smoothing, quiet, options, params)
    if on_cluster is not None and quantise is None:
        facts, valid_ppl, quantised = model, None, None  # the workers wrote the files by partition
    elif converted:
        facts, valid_ppl, quantised = _facts(model), None, None
    else:
        # the unquantised perplexity first: the exact tables are dropped once the stored ones exist
        before = model.perplexity(valid) if quantise is not None and valid is not None else None
        model = stored_model(model, quantise)  # the values the file holds (and its ARPA)
        if output:
            _progress(f"writing {output}", quiet)
            save_ngram(model, output, quantise=quantise)
        if arpa:
            write_arpa(model, arpa)
        facts = _facts(model)
        valid_ppl = model.perplexity(valid) if valid is not None else None
        quantised = _quantised(quantise, before, valid_ppl)
    summary = {
        "model": output,
        "arpa": arpa,
        "order": facts.order,
        "method": facts.method,
        "normalised": facts.normalised,
        "parameters": facts.parameters,
        "ngrams": facts.ngrams,
        "discounts": facts.discounts,
        "vocabulary_size": facts.vocabulary_size,
        "training": facts.training,
        "valid_perplexity": valid_ppl,
        "model_bytes": os.path.getsize(output) if output else None,
        "bytes_per_ngram": round(os.path.getsize(output) / max(1, sum(facts.ngrams)), 2) if output else None,
        "quantised": quantised,
        "seconds": round(time.perf_counter() - started, 3),
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "external": external,
        "cluster": on_cluster,
    }
    if as_json:
        print_json(summary)
    else:
        _print_summary(summary)


def _facts(model) -> SimpleNamespace:
    """What the summary says of a fitted model (the fields of a cluster's ARPA-only result)."""
    return SimpleNamespace(order=model.order, method=model.method, normalised=model.normalised,
                           parameters=model.parameters, ngrams=model.lookup.n_listed(), discounts=model.discounts,
                           vocabulary_size=len(model.vocabulary), training=model.training)


def _quantised(bits, before, valid_ppl) -> dict | None:
    """What ``--quantise`` cost: the valid perplexity ``before`` (unquantised) and after, when
    there is a valid split."""
    if bits is None:
        return None
    change = 100 * (valid_ppl / before - 1) if before else None
    return {"bits": bits, "valid_perplexity_unquantised": before, "valid_perplexity_change_percent": change}


def _fit_in_memory(spec, order, smoothing, quiet, options, params):
    """Load the corpus and fit on its train split; the model and the valid split (None without
    one)."""
    check_fit_options(order, smoothing, params)  # before the corpus is read
    _progress(f"loading {spec}", quiet)
    corpus = text.load_corpus(spec, **corpus_kwargs(options))
    _progress(f"counting and estimating {order}-grams ({smoothing}) on "
              f"{corpus.splits['train'].n_tokens:,} tokens", quiet)
    model = fit(corpus, order, smoothing, **params)
    valid = corpus.splits.get("valid")
    return model, (valid if valid is not None and valid.n_tokens else None)


def _print_summary(summary: dict) -> None:
    """The fit summary for a reader: sizes and discounts per order, perplexity, time, memory."""
    arpa, discounts, external = summary["arpa"], summary["discounts"], summary["external"]
    valid_ppl = summary["valid_perplexity"]
    click.echo(f"{summary['method']} order {summary['order']}, vocabulary {summary['vocabulary_size']:,} -> "
               + " and ".join(path for path in (summary["model"], arpa) if path))
    for index, count in enumerate(summary["ngrams"]):
        line = f"  {index + 1}-grams {count:>12,}"
        if discounts and index < len(discounts):
            d = discounts[index]
            line += "  discount " + (" ".join(f"{x:.4f}" for x in d) if isinstance(d, list) else f"{d:.4f}")
        click.echo(line)
    if valid_ppl is not None:
        label = "valid score-perplexity (NOT a perplexity: stupid backoff)" if not summary["normalised"] else "valid perplexity"
        click.echo(f"{label}: {valid_ppl:.2f}")
    quantised = summary["quantised"]
    if summary["model_bytes"] is not None:
        click.echo(f"model file {summary['model_bytes'] / 2**20:.1f} MiB, {summary['bytes_per_ngram']:.2f} bytes per n-gram"
                   + (f", values in {quantised['bits']} bits" if quantised else ""))
    if quantised and quantised["valid_perplexity_unquantised"] is not None:
        click.echo(f"quantising changed the valid perplexity from {quantised['valid_perplexity_unquantised']:.2f} "
                   f"by {quantised['valid_perplexity_change_percent']:+.3f}%")
    click.echo(f"time {summary['seconds']:.2f} s, peak memory {summary['peak_memory_mb']:.0f} MiB")
    if external:
        click.echo(f"out of core: {external['runs']} runs of <= {external['chunk_tokens']:,} tokens, "
                   f"{external['spilled_mb']:.1f} MiB spilled, {external['workers']} worker(s), budget "
                   f"{external['memory']}, peak RSS {external['peak_rss_counting_mb']:.0f} MiB counting "
                   f"(counts {external['counts_mb']:.0f} MiB), "
                   f"{external['peak_rss_mb']:.0f} MiB overall (largest worker "
                   f"{external['peak_worker_rss_mb']:.0f} MiB)")


def _fit_external(spec, order, smoothing, memory, tmp, workers, quiet, options, **params):
    """``--memory``: stream and count out of core (lmtool.ngram.external); the model and the figures."""
    from lmtool.ngram.external import fit_external, parse_memory

    budget = parse_memory(memory)
    _progress(f"counting {order}-grams of {spec} out of core (budget {memory}, {workers} worker(s))", quiet)
    model, stats = fit_external(spec, order, smoothing, budget, tmp, workers, corpus_kwargs(options), **params)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return model, {"memory": memory, "memory_bytes": budget, "workers": workers, "chunk_tokens": stats.chunk_tokens,
                   "runs": stats.runs, "spilled_mb": round(stats.spilled_bytes / 2**20, 1),
                   "peak_rss_mb": round(max(peak_memory_mb(), children), 1), "peak_worker_rss_mb": round(children, 1),
                   "peak_rss_counting_mb": round(stats.peak_rss_counting_mb, 1), "counts_mb": round(stats.counts_mb, 1)}
