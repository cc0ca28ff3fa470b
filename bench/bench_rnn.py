"""Speed and quality of lmtool's recurrent models, measured against a plain PyTorch loop.

Throughput (default; a few minutes)::

    NLTK_DATA=../shared/nltk_data .venv/bin/python bench/bench_rnn.py --steps 40 --seconds 60

On ``brown-bengio2003``, a 2-layer 200-unit LSTM, BPTT 35, batch 20, SGD lr 20, clip 0.25,
dropout 0.2, full softmax: training and evaluation tokens/s of lmtool's trainer next to a plain
loop written here the way PyTorch's word-language-model example writes it, in the same process,
printed as ratios (> 1: lmtool faster). Then lmtool with the adaptive softmax: its speed, and the
validation perplexity that full and adaptive softmax reach after the same ``--seconds`` of training.

Quality (the lead schedules these; 30 minutes each on the 2-core machine)::

    .venv/bin/python bench/bench_rnn.py --quality brown --minutes 30
    .venv/bin/python bench/bench_rnn.py --quality shakespeare --minutes 30

``brown``: test perplexity per sentence (each sentence from <s>, as the n-gram is scored; KenLM's
modified Kneser-Ney 5-gram gives 146.7) and with state carried across sentences.
``shakespeare``: tiny Shakespeare, char level, stream units, first 90% train, last 10% valid:
validation nats per character. Both print the exact ``lmtool train-rnn`` command they ran.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("LMTOOL_SHARED", REPO.parent / "shared"))
KENLM_BROWN_TEST_PPL = 146.7
CONFIG = dict(emb=200, hidden=200, layers=2, dropout=0.2, bptt=35, batch=20, lr=20.0, clip=0.25)


# ----- the plain loop (PyTorch's word_language_model, main.py + model.py, LSTM, no tying) ------
class PlainLSTM(nn.Module):
    def __init__(self, ntoken: int, ninp: int, nhid: int, nlayers: int, dropout: float) -> None:
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, x, hidden):
        emb = self.drop(self.encoder(x))
        output, hidden = self.rnn(emb, hidden)
        decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz: int):
        weight = next(self.parameters())
        shape = (self.rnn.num_layers, bsz, self.rnn.hidden_size)
        return (weight.new_zeros(shape), weight.new_zeros(shape))


def batchify(ids: np.ndarray, bsz: int) -> torch.Tensor:
    data = torch.from_numpy(ids.astype(np.int64))
    nbatch = data.size(0) // bsz
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous()  # (L, B), seq-first as in the example


def get_batch(source: torch.Tensor, i: int, bptt: int):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def plain_train_tokens_per_s(ids: np.ndarray, vocab: int, steps: int, warmup: int = 3) -> float:
    c = CONFIG
    torch.manual_seed(0)
    model = PlainLSTM(vocab, c["emb"], c["hidden"], c["layers"], c["dropout"])
    criterion = nn.NLLLoss()
    data = batchify(ids, c["batch"])
    model.train()
    hidden = model.init_hidden(c["batch"])
    durations = []
    for i in range(0, (steps + warmup) * c["bptt"], c["bptt"]):
        start = time.perf_counter()
        x, y = get_batch(data, i, c["bptt"])
        hidden = tuple(h.detach() for h in hidden)
        model.zero_grad()
        output, hidden = model(x, hidden)
        loss = criterion(output, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), c["clip"])
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-c["lr"])
        loss.item()
        durations.append(time.perf_counter() - start)
    return c["bptt"] * c["batch"] / float(np.median(durations[warmup:]))


def plain_evaluate(model: PlainLSTM, data: torch.Tensor, windows: int) -> float:
    """The example's evaluate(): token-weighted mean loss over ``windows`` BPTT windows."""
    c = CONFIG
    model.eval()
    hidden, total, tokens = model.init_hidden(c["batch"]), 0.0, 0
    with torch.no_grad():
        for i in range(0, windows * c["bptt"], c["bptt"]):
            x, y = get_batch(data, i, c["bptt"])
            output, hidden = model(x, hidden)
            total += y.numel() * F.nll_loss(output, y).item()
            tokens += y.numel()
    return total / tokens


def best_rate(function, tokens: int, repeats: int = 2) -> float:
    """tokens / the fastest of ``repeats`` timed calls (the least disturbed by other processes)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return tokens / min(times)


# ----- lmtool ----------------------------------------------------------------------------------
def lmtool_train(corpus, workdir: Path, *, adaptive: bool, steps: int | None = None, seconds: float | None = None,
                 warmup: int = 3, valid_ids=None) -> dict:
    """Train with lmtool's Trainer; tokens/s is measured from its own step events after ``warmup`` steps."""
    from lmtool.neural.config import RnnConfig, TrainOptions, default_cutoffs
    from lmtool.neural.network import RnnNetwork
    from lmtool.neural.training import Trainer

    c, vocab = CONFIG, len(corpus.vocabulary)
    config = RnnConfig(vocab_size=vocab, emb_size=c["emb"], hidden_size=c["hidden"], layers=c["layers"],
                       dropout_input=c["dropout"], dropout_between=c["dropout"], dropout_output=c["dropout"],
                       adaptive_cutoffs=default_cutoffs(vocab) if adaptive else [])
    options = TrainOptions(bptt=c["bptt"], batch_size=c["batch"], optimizer="sgd", lr=c["lr"], clip=c["clip"],
                           max_steps=steps + warmup if steps else None, max_time=seconds, seed=0)
    marks = []
    torch.manual_seed(0)
    trainer = Trainer(RnnNetwork(config), corpus.splits["train"].ids, valid_ids, options, out_path=workdir / "m.rnn",
                      checkpoint_dir=workdir / "ckpt", meta={"fingerprint": corpus.fingerprint},
                      device=torch.device("cpu"), on_event=lambda e: e["event"] == "step" and marks.append(e))
    summary = trainer.run()
    durations = np.diff([e["elapsed"] for e in marks])[warmup - 1:]  # per-step wall time, loop overhead included
    return {"tokens_per_s": c["bptt"] * c["batch"] / float(np.median(durations)), "steps": summary["steps"],
            "valid_ppl": summary["best_valid_ppl"], "model": trainer.model}


def throughput(args) -> dict:
    from lmtool.neural.training import evaluate_stream
    from lmtool.text import load_corpus

    corpus = load_corpus("brown-bengio2003")
    train, valid, vocab = corpus.splits["train"].ids, corpus.splits["valid"].ids, len(corpus.vocabulary)
    windows = args.steps
    eval_tokens = windows * CONFIG["bptt"] * CONFIG["batch"]
    eval_ids = valid[:eval_tokens]
    results = {"config": CONFIG, "vocab": vocab, "threads": torch.get_num_threads(), "steps": args.steps,
               "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # alternated, best of each: the run least disturbed by anything else on the machine
        plain_rates, full_runs = [], []
        for repeat in range(args.repeats):
            plain_rates.append(plain_train_tokens_per_s(train, vocab, args.steps))
            full_runs.append(lmtool_train(corpus, tmp / f"full{repeat}", adaptive=False, steps=args.steps))
        full = max(full_runs, key=lambda run: run["tokens_per_s"])
        results["plain_train_tok_s"] = max(plain_rates)
        results["lmtool_train_tok_s"] = full["tokens_per_s"]
        plain = PlainLSTM(vocab, CONFIG["emb"], CONFIG["hidden"], CONFIG["layers"], CONFIG["dropout"])
        data = batchify(valid, CONFIG["batch"])
        results["plain_eval_tok_s"] = best_rate(lambda: plain_evaluate(plain, data, windows), eval_tokens)
        results["lmtool_eval_tok_s"] = best_rate(
            lambda: evaluate_stream(full["model"], eval_ids, CONFIG["batch"], CONFIG["bptt"]), eval_tokens)
        adaptive = lmtool_train(corpus, tmp / "adaptive", adaptive=True, steps=args.steps)
        results["lmtool_adaptive_train_tok_s"] = adaptive["tokens_per_s"]
        results["lmtool_adaptive_eval_tok_s"] = best_rate(
            lambda: evaluate_stream(adaptive["model"], eval_ids, CONFIG["batch"], CONFIG["bptt"]), eval_tokens)
        if args.seconds:
            subset = valid[:args.valid_tokens]
            for name, is_adaptive in (("full", False), ("adaptive", True)):
                run = lmtool_train(corpus, tmp / f"timed-{name}", adaptive=is_adaptive, seconds=args.seconds,
                                   valid_ids=subset)
                results[f"equal_time_{name}"] = {"seconds": args.seconds, "steps": run["steps"],
                                                 "valid_ppl": run["valid_ppl"], "valid_tokens": len(subset)}
    return results


def print_throughput(r: dict) -> None:
    print(f"brown-bengio2003, V={r['vocab']}, 2x200 LSTM, BPTT 35, batch 20, SGD; {r['threads']} threads; "
          f"training: median of {r['steps']} steps, best of {r['repeats']} alternated runs; "
          f"evaluation: best of 2 passes over {r['steps']} windows")
    rows = [("train, full softmax", r["plain_train_tok_s"], r["lmtool_train_tok_s"]),
            ("eval, full softmax", r["plain_eval_tok_s"], r["lmtool_eval_tok_s"]),
            ("train, adaptive softmax", r["plain_train_tok_s"], r["lmtool_adaptive_train_tok_s"]),
            ("eval, adaptive softmax", r["plain_eval_tok_s"], r["lmtool_adaptive_eval_tok_s"])]
    print(f"{'':26}{'plain tok/s':>12}{'lmtool tok/s':>14}{'ratio':>8}")
    for name, plain, ours in rows:
        print(f"{name:26}{plain:12,.0f}{ours:14,.0f}{ours / plain:8.2f}")
    if "equal_time_full" in r:
        for name in ("full", "adaptive"):
            e = r[f"equal_time_{name}"]
            print(f"after {e['seconds']:.0f}s of training, {name} softmax: {e['steps']} steps, valid ppl "
                  f"{e['valid_ppl']:.1f} (first {e['valid_tokens']:,} valid tokens, streamed)")


# ----- quality -----------------------------------------------------------------------------------
# Sized for 30 minutes on 2 CPU cores: a 512-unit LSTM manages under 2 epochs of Brown there,
# a 2x256 one with the adaptive softmax about 10; Adam converges faster than SGD in so short a run.
QUALITY = {
    "brown": ["--corpus", "brown-bengio2003", "--cell", "lstm", "--emb", "256", "--hidden", "256", "--layers", "2",
              "--dropout", "0.3", "--adaptive-softmax", "--optimizer", "adam", "--lr", "2e-3", "--bptt", "35",
              "--batch-size", "32", "--valid-every", "500", "--patience", "5", "--lr-decay", "2"],
    "shakespeare": ["--corpus", str(SHARED / "data" / "tinyshakespeare" / "input.txt"), "--tokenizer", "char",
                    "--unit", "stream", "--split-fractions", "0.9,0.1,0", "--cell", "lstm", "--emb", "64",
                    "--hidden", "256", "--layers", "2", "--dropout", "0.2", "--optimizer", "adam", "--lr", "2e-3",
                    "--bptt", "100", "--batch-size", "32", "--valid-every", "200", "--patience", "5",
                    "--lr-decay", "2"],
}


def quality(args) -> dict:
    from lmtool.neural import load_rnn
    from lmtool.text import encode_corpus

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix=f"bench-rnn-{args.quality}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    model_path = workdir / f"{args.quality}.rnn"
    # training gets the budget less a margin for the final validation and test scoring
    budget = max(1.0, args.minutes - (3 if args.quality == "brown" else 2))
    command = [sys.executable, "-m", "lmtool", "train-rnn", *QUALITY[args.quality], "--max-time", f"{budget}m",
               "-o", str(model_path), "--log", str(workdir / "train.jsonl"), *args.extra]
    print("$ lmtool " + " ".join(command[3:]), flush=True)
    started = time.time()
    subprocess.run(command, check=True)
    model = load_rnn(model_path)
    result = {"quality": args.quality, "command": "lmtool " + " ".join(command[3:]), "model": str(model_path),
              "training": model.meta["training"]}
    spec = QUALITY[args.quality][1]
    if args.quality == "brown":
        test = encode_corpus(spec, model.tokenizer, model.vocabulary).splits["test"]
        reset = model.perplexity(test, reset_per_sentence=True)
        carried = model.perplexity(test, reset_per_sentence=False)
        result |= {"test_ppl_per_sentence": reset, "test_ppl_carried": carried, "kenlm_5gram": KENLM_BROWN_TEST_PPL,
                   "vs_kenlm": reset / KENLM_BROWN_TEST_PPL - 1}
        print(f"Brown test perplexity: {reset:.1f} per sentence ({result['vs_kenlm']:+.1%} vs KenLM 5-gram "
              f"{KENLM_BROWN_TEST_PPL}), {carried:.1f} with state carried across sentences")
    else:
        valid = encode_corpus(spec, model.tokenizer, model.vocabulary, unit="stream",
                              split_fractions="0.9,0.1,0").splits["valid"]
        nats = -float(np.sum(model.score(valid, reset_per_sentence=False))) / valid.n_chars
        result |= {"valid_nats_per_char": nats, "valid_bits_per_char": nats / math.log(2)}
        print(f"tiny Shakespeare valid: {nats:.4f} nats/char ({nats / math.log(2):.4f} bits/char)")
    result["wall_minutes"] = (time.time() - started) / 60
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="timed training steps / eval windows per variant")
    parser.add_argument("--repeats", type=int, default=2, help="alternated full-softmax training runs (best kept)")
    parser.add_argument("--seconds", type=float, default=60, help="equal-time training per softmax (0: skip)")
    parser.add_argument("--valid-tokens", type=int, default=50000, help="valid tokens for the equal-time perplexity")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--quality", choices=sorted(QUALITY), default=None)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--workdir", default=None, help="where quality runs keep their model and log")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("extra", nargs="*", help="quality mode: extra train-rnn options after --")
    args = parser.parse_args()
    os.environ.setdefault("NLTK_DATA", str(SHARED / "nltk_data"))
    if args.threads:
        torch.set_num_threads(args.threads)
    result = quality(args) if args.quality else throughput(args)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    elif not args.quality:
        print_throughput(result)


if __name__ == "__main__":
    main()
