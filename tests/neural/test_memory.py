"""lmtool.neural.memory: truncated-context windows against direct runs, state gradients against finite differences."""

import numpy as np
import pytest
import torch

from lmtool.neural.batching import input_stream
from lmtool.neural.config import RnnConfig
from lmtool.neural.memory import initial_network, sample_gradient_norms, state_gradient_norms, window_log_probs
from lmtool.neural.network import RnnNetwork
from lmtool.text import BOS_ID
from lmtool.text.encoding import EncodedSplit

from .conftest import tiny_config, tiny_model


def random_split(vocab_size: int, sentences: int = 30, seed: int = 0) -> EncodedSplit:
    """Sentences of 1 to 11 tokens (the last one </s>) over ids 3..V-1."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 12, size=sentences)
    ids = np.concatenate([np.append(rng.integers(3, vocab_size, size=n - 1), 2) for n in lengths]).astype(np.int32)
    return EncodedSplit(ids=ids, starts=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), n_chars=0)


def direct_log_prob(net, window: np.ndarray, target: int) -> float:
    """log p(target) after a zero state reads ``window``: one plain forward pass."""
    with torch.no_grad():
        logits, _, _ = net(torch.from_numpy(window)[None, :])
    return torch.log_softmax(logits[0, -1].double(), dim=-1)[target].item()


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_windows_equal_direct_runs_from_a_fresh_state(vocabulary, cell):
    net = tiny_model(vocabulary, cell=cell).net
    rng = np.random.default_rng(1)
    inputs = rng.integers(2, len(vocabulary), size=60)
    ids = rng.integers(2, len(vocabulary), size=60)
    starts = rng.integers(0, 50, size=40)
    columns = rng.integers(0, 10, size=40)  # windows of 1 to 10 inputs; several share a start
    starts[:5] = 7
    targets = ids[starts + columns]
    # a small chunk forces several batches of runs of different widths
    got = window_log_probs(net, inputs, starts, columns, targets, chunk_tokens=40)
    expected = [direct_log_prob(net, inputs[s:s + c + 1], t) for s, c, t in zip(starts, columns, targets)]
    assert got == pytest.approx(expected, abs=1e-5)


def test_reset_windows_longer_than_the_sentence_give_the_per_sentence_score(vocabulary):
    # the test: with K >= the sentence length under per-sentence reset, the truncated
    # score is the ordinary per-sentence score, token for token
    model = tiny_model(vocabulary)
    split = random_split(len(vocabulary))
    longest = int(np.diff(split.starts).max())
    targets = np.arange(split.n_tokens)
    full = model.score(split, reset_per_sentence=True)
    truncated = model.score_contexts(split, [1, 3, longest, longest + 5], targets, reset_per_sentence=True)
    assert truncated[2] == pytest.approx(full, abs=1e-5)
    assert truncated[3] == pytest.approx(full, abs=1e-5)
    # K = 1 sees only the previous input (<s> at a sentence start): different elsewhere
    first = split.starts[:-1]
    assert truncated[0][first] == pytest.approx(full[first], abs=1e-5)
    assert np.abs(truncated[0] - full).max() > 1e-3


def test_carried_windows_cross_sentences(vocabulary):
    model = tiny_model(vocabulary, cell="gru")
    split = random_split(len(vocabulary), seed=2)
    targets = np.array([20, 41, 77])
    got = model.score_contexts(split, [4], targets, reset_per_sentence=False)[0]
    stream = input_stream(split.ids)  # the carried input stream: </s> then the next sentence's words
    expected = [direct_log_prob(model.net, stream[t - 3:t + 1], int(split.ids[t])) for t in targets]
    assert got == pytest.approx(expected, abs=1e-5)
    # and with a context as long as the text, the carried score itself
    whole = model.score_contexts(split, [split.n_tokens + 1], targets, reset_per_sentence=False)[0]
    assert whole == pytest.approx(model.score(split, reset_per_sentence=False)[targets], abs=1e-5)


def test_a_context_below_one_is_refused(vocabulary):
    from lmtool.errors import UsageError

    with pytest.raises(UsageError, match="at least 1"):
        tiny_model(vocabulary).score_contexts(random_split(len(vocabulary)), [0, 2], np.array([3]))


# ----- gradients through time --------------------------------------------------------------------

def hand_built_srn() -> RnnNetwork:
    """A tanh SRN over 5 ids with 2-wide embeddings and 3 hidden units, every weight written out."""
    net = RnnNetwork(RnnConfig(vocab_size=5, cell="rnn-tanh", emb_size=2, hidden_size=3, layers=1,
                               dropout_input=0.0, dropout_between=0.0, dropout_output=0.0)).double()
    weights = {
        "encoder.weight": [[0.1, -0.2], [0.0, 0.3], [0.5, 0.1], [-0.4, 0.6], [0.2, -0.7]],
        "rnn.weight_ih_l0": [[0.8, -0.3], [0.2, 0.9], [-0.5, 0.4]],
        "rnn.weight_hh_l0": [[0.9, -0.4, 0.3], [0.5, 0.7, -0.6], [-0.2, 0.8, 1.1]],
        "rnn.bias_ih_l0": [0.1, -0.1, 0.05], "rnn.bias_hh_l0": [0.0, 0.2, -0.15],
        "decoder.weight": [[1.0, -1.0, 0.5], [0.3, 0.3, 0.3], [-0.7, 0.2, 0.9], [0.4, -0.8, 0.1], [0.6, 0.5, -1.2]],
        "decoder.bias": [0.1, 0.0, -0.2, 0.3, 0.0],
    }
    with torch.no_grad():
        for name, value in weights.items():
            net.get_parameter(name).copy_(torch.tensor(value, dtype=torch.float64))
    return net.eval()


def srn_loss_from(weights: dict, state: np.ndarray, inputs: list[int], target: int) -> float:
    """The SRN's loss when its state is ``state`` and it then reads ``inputs`` (numpy, by hand)."""
    h = state
    for x in inputs:
        h = np.tanh(weights["W_ih"] @ weights["E"][x] + weights["b"] + weights["W_hh"] @ h)
    logits = weights["D"] @ h + weights["d"]
    logits[BOS_ID] = -np.inf  # <s> is never predicted
    return -(logits[target] - np.log(np.sum(np.exp(logits[np.isfinite(logits)]))))


def test_srn_state_gradients_match_finite_differences():
    net = hand_built_srn()
    p = {k: v.detach().numpy() for k, v in net.named_parameters()}
    weights = {"E": p["encoder.weight"], "W_ih": p["rnn.weight_ih_l0"], "W_hh": p["rnn.weight_hh_l0"],
               "b": p["rnn.bias_ih_l0"] + p["rnn.bias_hh_l0"], "D": p["decoder.weight"], "d": p["decoder.bias"]}
    inputs, target = [1, 3, 4, 2, 0, 3, 3], 4
    norms = state_gradient_norms(net, torch.tensor([inputs]), torch.tensor([target]))[0]  # (T+1,) by k
    states = [np.zeros(3)]  # states[t + 1] is the state after input t
    for x in inputs:
        states.append(np.tanh(weights["W_ih"] @ weights["E"][x] + weights["b"] + weights["W_hh"] @ states[-1]))
    eps = 1e-6
    for k in range(len(inputs)):
        t = len(inputs) - 1 - k  # the state after input t is k steps before the last
        rest = inputs[t + 1:]
        grad = [(srn_loss_from(weights, states[t + 1] + eps * e, rest, target)
                 - srn_loss_from(weights, states[t + 1] - eps * e, rest, target)) / (2 * eps) for e in np.eye(3)]
        assert norms[k] == pytest.approx(np.linalg.norm(grad), rel=1e-6, abs=1e-10)
    assert norms[-1] < norms[0]  # this contracting recurrence loses signal with distance


def test_lstm_state_gradients_match_finite_differences():
    # two layers, h and c: the norm covers the whole state, perturbed through the network itself
    torch.manual_seed(3)
    net = RnnNetwork(tiny_config(7, cell="lstm", emb_size=3, hidden_size=4, layers=2)).double().eval()
    inputs, target = torch.tensor([[1, 4, 5, 3, 6]]), torch.tensor([2])
    norms = state_gradient_norms(net, inputs, target)[0]
    emb = net.encoder(inputs)

    def loss_after(state, t):
        with torch.no_grad():
            _, (h, c) = net.rnn(emb[:, t + 1:], state) if t + 1 < inputs.size(1) else (None, state)
            return -net.target_log_probs(h[-1], target).item()

    with torch.no_grad():
        states, hidden = [], net.init_hidden(1)
        for t in range(inputs.size(1)):
            _, hidden = net.rnn(emb[:, t:t + 1], hidden)
            states.append(hidden)
    eps = 1e-6
    for k in range(inputs.size(1)):
        t = inputs.size(1) - 1 - k
        flat = torch.cat([states[t][0].flatten(), states[t][1].flatten()])
        grad = []
        for i in range(flat.numel()):
            step = torch.zeros_like(flat)
            step[i] = eps
            up, down = flat + step, flat - step
            shape = states[t][0].shape
            split = lambda v: (v[:v.numel() // 2].view(shape), v[v.numel() // 2:].view(shape))  # noqa: E731
            grad.append((loss_after(split(up), t) - loss_after(split(down), t)) / (2 * eps))
        assert norms[k] == pytest.approx(np.linalg.norm(grad), rel=1e-5, abs=1e-9)


def test_sampled_norms_are_seeded_and_leave_the_mode(vocabulary):
    net = tiny_model(vocabulary).net.train()
    ids = np.tile(np.arange(3, 11, dtype=np.int32), 20)
    first = sample_gradient_norms(net, ids, span=6, count=10, seed=1, batch=4)
    again = sample_gradient_norms(net, ids, span=6, count=10, seed=1)
    assert first.shape == (10, 7) and np.allclose(first, again, rtol=1e-5)
    assert net.training  # measured in eval mode, put back


def test_initial_network_is_the_one_train_starts_from(monkeypatch, tmp_path):
    import lmtool.neural.train as train_module
    from lmtool.neural.config import TrainOptions
    from lmtool.text import load_corpus

    seen = {}

    class Stop(Exception):
        pass

    def capture(network, *args, **kwargs):
        seen["state"] = {k: v.clone() for k, v in network.state_dict().items()}
        raise Stop

    monkeypatch.setattr(train_module, "Trainer", capture)
    corpus = load_corpus("gen:markov:order=1,alphabet=4,length=400")
    config = tiny_config(len(corpus.vocabulary))
    with pytest.raises(Stop):
        train_module.train(corpus, config, TrainOptions(max_steps=1, seed=77), output=tmp_path / "unused.rnn",
                           device="cpu")
    fresh = initial_network(config, 77).state_dict()
    assert all(torch.equal(fresh[k], v) for k, v in seen["state"].items())
