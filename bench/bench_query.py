"""Benchmark lmtool's model files and whole-process scoring against KenLM's own programs.

On Brown (brown-bengio2003), modified Kneser-Ney order 5 (2,272,118 n-grams), it measures:

- file sizes and bytes per n-gram: lmtool's compact ``.lmt``, its 8-bit quantised variant and
  the older ``.npz``; KenLM's probing, trie and ``trie -q 8 -b 8`` files (``build_binary``);
- ``lmtool info`` (whole process) on the Brown model and on a model of about 100 MB (order 5
  fitted on 4 million tokens of random Zipf-distributed words, generated here);
- whole-process scoring of Brown's test split written ten times (1,712,970 tokens, ``</s>``
  included; rare words appear as ``<unk>``, as lmtool's vocabulary has them): ``lmtool query``
  with the summary only and with every token printed, ``lmtool eval``, and KenLM's ``query``
  (probing and trie; ``-v summary`` and full output), each with its perplexity;
- the streaming scorer's tokens per second (``lmtool query``, every token printed);
- the peak resident memory of every process (``wait4``), and the perplexity change of the
  quantised files (lmtool's and KenLM's);
- in process, lmtool's batch scorer against the ``kenlm`` Python module, when installed.

Every command runs ``--repeat`` times (default 5) interleaved with the others under
``nice -n 5``, and the best wall and CPU times are kept: the development machine has 2 cores
shared with other jobs, so single runs vary by 2x. Python runs with bytecode caching on (the
first, untimed run writes the caches). When ``lmplz``/``build_binary``/``query`` are not on
PATH the script says so and prints lmtool's figures alone.

Run: .venv/bin/python bench/bench_query.py [--repeat 5] [--no-big] [--workdir DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_NLTK = pathlib.Path(os.environ.get("LMTOOL_SHARED", REPO.parent / "shared")) / "nltk_data"
if SHARED_NLTK.is_dir():
    os.environ.setdefault("NLTK_DATA", str(SHARED_NLTK))

from lmtool.ngram import load_ngram  # noqa: E402
from lmtool.ngram.legacy import write_npz  # noqa: E402
from lmtool.ngram.query import score_sentences  # noqa: E402
from lmtool.text import load_corpus  # noqa: E402

PYTHON = [sys.executable, "-m", "lmtool"]
KENLM = {name: shutil.which(name) for name in ("lmplz", "build_binary", "query")}
GNU_TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def run(command: list[str], stdin: pathlib.Path | None = None, stdout: pathlib.Path | None = None) -> dict:
    """Run ``command`` under nice -n 5: wall and CPU seconds, peak RSS (MiB), stdout (unless saved).

    The peak RSS comes from GNU time when it is installed: a child forked from this (large)
    Python process would report this process's size as its own peak (Linux keeps ru_maxrss
    across exec); without it the figure is wait4's and says so.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    with tempfile.NamedTemporaryFile("r") as timing, open(stdin or os.devnull, "rb") as source, \
            (open(stdout, "wb") if stdout else tempfile.TemporaryFile()) as sink:
        timer = [GNU_TIME, "-o", timing.name, "-f", "%M"] if GNU_TIME else []
        started = time.perf_counter()
        child = subprocess.Popen([*timer, "nice", "-n", "5", *command], stdin=source, stdout=sink,
                                 stderr=subprocess.PIPE, env=env)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        error = child.stderr.read().decode(errors="replace")
        child.stderr.close()
        if status:
            raise RuntimeError(f"{' '.join(command)} failed ({status}): {error[-500:]}")
        rss_kb = int(timing.read().split()[-1]) if GNU_TIME else usage.ru_maxrss
        text = ""
        if not stdout:
            sink.seek(0)
            text = sink.read().decode(errors="replace")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": rss_kb / 1024, "stdout": text}


def best_of(commands: dict[str, dict], repeat: int) -> dict[str, dict]:
    """Each command (``{"argv", "stdin", "stdout"}``) run ``repeat`` times, interleaved: best times, max RSS."""
    results: dict[str, dict] = {}
    for _ in range(repeat):
        for name, spec in commands.items():
            measured = run(spec["argv"], spec.get("stdin"), spec.get("stdout"))
            kept = results.setdefault(name, dict(measured))
            kept["wall"], kept["cpu"] = min(kept["wall"], measured["wall"]), min(kept["cpu"], measured["cpu"])
            kept["rss_mb"] = max(kept["rss_mb"], measured["rss_mb"])
    return results


def perplexity_of(output: str) -> float | None:
    """The "Perplexity including OOVs" of a query summary (KenLM's or lmtool's), or lmtool eval's table."""
    for line in output.splitlines():
        if line.startswith("Perplexity including OOVs:"):
            return float(line.split("\t")[1])
    return None


def write_texts(workdir: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, int]:
    """Brown's test split x10 (one sentence a line, lmtool's tokens), an eval corpus directory
    holding it as its test split, and the number of tokens scored (</s> included)."""
    corpus = load_corpus("brown-bengio2003")
    tokens = np.array(corpus.vocabulary.tokens, dtype=object)
    test = corpus.splits["test"]
    lines = "".join(" ".join(tokens[segment[:-1]]) + "\n" for segment in test.segments())
    text = workdir / "brown-test-x10.txt"
    text.write_text(lines * 10)
    evaldir = workdir / "eval"
    evaldir.mkdir(exist_ok=True)
    (evaldir / "test.txt").write_text(lines * 10)
    (evaldir / "train.txt").write_text(lines.split("\n", 1)[0] + "\n")
    return text, evaldir, test.n_tokens * 10


def zipf_corpus(path: pathlib.Path, tokens: int = 4_000_000, vocabulary: int = 50_000) -> None:
    """Random text of Zipf-distributed words (exponent 1.05), lines of 5-40 words."""
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, vocabulary + 1) ** 1.05
    words = np.array([f"w{i}" for i in range(vocabulary)], dtype=object)[rng.choice(vocabulary, tokens, p=weights / weights.sum())]
    ends = np.cumsum(rng.integers(5, 40, tokens // 5))
    path.write_text("".join(" ".join(line) + "\n" for line in np.split(words, ends[ends < tokens])))


def sizes(workdir: pathlib.Path, n_grams: int) -> dict[str, dict]:
    """Bytes and bytes per n-gram of every model file present."""
    names = {"lmtool .lmt": "b5.lmt", "lmtool .lmt --quantise 8": "b5q8.lmt", "lmtool .npz (before)": "b5.npz",
             "KenLM probing": "b5.probing", "KenLM trie": "b5.trie", "KenLM trie -q 8 -b 8": "b5.trieq8"}
    return {label: {"bytes": (workdir / name).stat().st_size, "per_ngram": (workdir / name).stat().st_size / n_grams}
            for label, name in names.items() if (workdir / name).exists()}


def build_models(workdir: pathlib.Path) -> dict:
    """Fit Brown order 5 (timed), write its quantised and .npz forms and KenLM's binaries."""
    fit = best_of({"fit": {"argv": PYTHON + ["fit-ngram", "--corpus", "brown-bengio2003", "-n", "5",
                                               "-o", str(workdir / "b5.lmt"), "--json"]}}, 1)["fit"]
    summary = json.loads(fit["stdout"])
    run(PYTHON + ["fit-ngram", "--from-model", str(workdir / "b5.lmt"), "--quantise", "8", "-o", str(workdir / "b5q8.lmt")])
    run(PYTHON + ["export", str(workdir / "b5.lmt"), "--arpa", str(workdir / "b5.arpa")])
    write_npz(load_ngram(workdir / "b5.lmt"), workdir / "b5.npz")
    if KENLM["build_binary"]:
        for name, options in (("probing", ["probing"]), ("trie", ["trie"]), ("trieq8", ["-q", "8", "-b", "8", "trie"])):
            run([KENLM["build_binary"], *options[:-1], options[-1], str(workdir / "b5.arpa"), str(workdir / f"b5.{name}")])
    return {"fit_seconds": fit["wall"], "fit_cpu": fit["cpu"], "fit_rss_mb": fit["rss_mb"], "ngrams": summary["ngrams"]}


def scoring_commands(workdir: pathlib.Path, text: pathlib.Path, evaldir: pathlib.Path) -> dict[str, dict]:
    """The whole-process scorers, lmtool's and KenLM's, on the same text."""
    lmtool = lambda *a: PYTHON + ["query", *a]  # noqa: E731
    commands = {
        "lmtool query --level summary": {"argv": lmtool(str(workdir / "b5.lmt"), str(text), "--level", "summary")},
        "lmtool query (every token)": {"argv": lmtool(str(workdir / "b5.lmt"), str(text)), "stdout": workdir / "lmtool.out"},
        "lmtool query q8 --level summary": {"argv": lmtool(str(workdir / "b5q8.lmt"), str(text), "--level", "summary")},
        "lmtool eval": {"argv": PYTHON + ["eval", str(workdir / "b5.lmt"), "--corpus", str(evaldir), "--json"]},
    }
    if KENLM["query"]:
        for name in ("probing", "trie", "trieq8"):
            commands[f"KenLM query -v summary ({name})"] = {"argv": [KENLM["query"], "-v", "summary", str(workdir / f"b5.{name}")],
                                                          "stdin": text}
        for name in ("probing", "trie"):
            commands[f"KenLM query (every token, {name})"] = {"argv": [KENLM["query"], str(workdir / f"b5.{name}")],
                                                             "stdin": text, "stdout": workdir / f"kenlm-{name}.out"}
    return commands


def in_process(workdir: pathlib.Path, text: pathlib.Path) -> dict:
    """Batch scoring inside one process: lmtool's score_sentences vs the kenlm module's per-sentence calls."""
    sentences = text.read_text().splitlines()
    model = load_ngram(workdir / "b5.lmt")
    score_sentences(model, sentences[:100])  # maps the pages
    started = time.process_time()
    scored = score_sentences(model, sentences)
    out = {"lmtool_seconds": time.process_time() - started, "tokens": int(len(scored.ids))}
    try:
        import kenlm
    except ImportError:
        return {**out, "kenlm": "the kenlm module is not installed"}
    reference = kenlm.Model(str(workdir / "b5.probing")) if (workdir / "b5.probing").exists() else None
    if reference is not None:
        started = time.process_time()
        total = sum(reference.score(sentence) for sentence in sentences)
        out.update(kenlm_seconds=time.process_time() - started, total_log10_lmtool=float(scored.log10.sum()),
                   total_log10_kenlm=total)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-big", action="store_true", help="skip the ~100 MB model for the info timing")
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="keep the files here (default: a temporary directory)")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    missing = [name for name, path in KENLM.items() if path is None]
    print("KenLM programs: " + ("all on PATH" if not missing else f"{', '.join(missing)} not on PATH: lmtool's figures only"))
    if not GNU_TIME:
        print("no /usr/bin/time: peak RSS is wait4's, which includes this Python process's size at the fork")
    with tempfile.TemporaryDirectory() as scratch:
        workdir = args.workdir or pathlib.Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        return report(workdir, args)


def report(workdir: pathlib.Path, args) -> dict:
    text, evaldir, n_tokens = write_texts(workdir)
    built = build_models(workdir)
    n_grams = sum(built["ngrams"])
    results = {"ngrams": n_grams, "tokens": n_tokens, "fit": built, "sizes": sizes(workdir, n_grams)}
    print(f"\nBrown order 5: {n_grams:,} n-grams; fit + write .lmt, whole process: {built['fit_seconds']:.2f} s, "
          f"peak RSS {built['fit_rss_mb']:.0f} MiB")
    print(f"{'model file':28s} {'MB':>8s} {'bytes/n-gram':>13s}")
    for label, size in results["sizes"].items():
        print(f"{label:28s} {size['bytes'] / 1e6:8.1f} {size['per_ngram']:13.2f}")
    info = {"info b5.lmt": {"argv": PYTHON + ["info", str(workdir / "b5.lmt")]}}
    if not args.no_big:
        zipf_corpus(workdir / "zipf.txt")
        run(PYTHON + ["fit-ngram", "--corpus", str(workdir / "zipf.txt"), "--split-fractions", "1,0,0", "-n", "5",
                      "-o", str(workdir / "big.lmt")])
        info[f"info big.lmt ({(workdir / 'big.lmt').stat().st_size / 1e6:.0f} MB)"] = {
            "argv": PYTHON + ["info", str(workdir / "big.lmt")]}
    commands = scoring_commands(workdir, text, evaldir)
    for spec in list(commands.values()) + list(info.values()):  # warm the bytecode caches and the page cache
        run(spec["argv"], spec.get("stdin"), spec.get("stdout"))
    timed = best_of({**info, **commands}, args.repeat)
    reference = timed.get("KenLM query -v summary (probing)")
    print(f"\nWhole process on {n_tokens:,} tokens (Brown test x10), best of {args.repeat}, nice -n 5:")
    print(f"{'command':38s} {'wall s':>7s} {'cpu s':>7s} {'vs KenLM':>9s} {'tokens/s':>11s} {'peak MiB':>9s} {'perplexity':>11s}")
    for name, measured in timed.items():
        ppl = perplexity_of(measured["stdout"]) or _eval_perplexity(measured["stdout"])
        ratio = f"{measured['wall'] / reference['wall']:8.2f}x" if reference and not name.startswith("info") else ""
        rate = f"{n_tokens / measured['wall']:11,.0f}" if not name.startswith("info") else ""
        print(f"{name:38s} {measured['wall']:7.3f} {measured['cpu']:7.3f} {ratio:>9s} {rate:>11s} "
              f"{measured['rss_mb']:9.1f} {ppl if ppl is not None else '':>11}")
        measured.pop("stdout")
    results["timed"] = timed
    results["in_process"] = in_process(workdir, text)
    print(f"\nIn process: {results['in_process']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


def _eval_perplexity(output: str) -> float | None:
    try:
        return float(json.loads(output)["rows"][0]["perplexity"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
