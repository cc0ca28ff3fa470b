"""Scoring lines of text as KenLM's ``query`` does, streamed in blocks, and in batches from Python.

Each line is a sentence: ``<s>`` before it, ``</s>`` predicted after it (an empty line scores
``</s>`` alone, as in ``query``; ``lmtool eval`` skips empty lines instead). Output, one line
per input line (``--level word``, the default)::

    the=3 2 -2.150511<TAB>cat=6582 2 -4.410506<TAB></s>=2 1 -2.977696<TAB>Total: -9.538713 OOV: 0

that is ``word=id n log10p`` per token (``id`` 0 is ``<unk>``: an out-of-vocabulary word;
``n`` the length of the longest n-gram the model had for it), then the line's log10
probability and its number of OOVs; log10 values have 6 decimals (KenLM prints each float's
shortest form). ``--level sentence`` prints the ``Total:`` lines only; every level ends with
KenLM's summary (perplexity with and without OOVs, OOV and token counts, ``</s>`` counted).

Text is read in blocks of whole lines; a model with the word tokenizer is served by the
array tokenizer of :mod:`lmtool.ngram.bytetext`, others (char, bpe, treebank) by their own
tokenizer line by line. Scores are :func:`lmtool.ngram.tables.score_stream`'s, the same
numbers ``eval`` and ``NgramModel.score`` give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, Sequence

import numpy as np

from lmtool.errors import DataError, UsageError
from lmtool.lm import perplexity
from lmtool.ngram.bytetext import SHORT, ByteVocabulary, Tokens, has_unicode_space, split_lines
from lmtool.ngram.counting import row_type
from lmtool.ngram.formatting import Records, decimal_width, integer_width
from lmtool.ngram.ordered import in_order
from lmtool.ngram.tables import LN10, score_stream
from lmtool.text import EOS, EOS_ID, UNK_ID

LEVELS = ("word", "sentence", "summary")
#: bytes of text scored at a time (about 30,000 words): a block costs some 0.3 ms of numpy calls
#: whatever its size (0.5 ms with the word level's output), so larger blocks share that out
#: (Brown test x10 in process, summary: 64 KB 175 ms, 128 KB 148 ms, 256 KB 138-154 ms), while
#: its arrays take some 70 bytes a word at the peak (128 KB: 2 MiB, 256 KB: 4 MiB). The totals
#: are summed a block at a time, so the block also fixes the perplexity's last printed digits
BLOCK = 128 << 10
PLACES = 6  # decimals of the log10 values printed
#: tokens the word level renders at once (:func:`_rows`): their matrix and its mask take some
#: 100 bytes a token, and at 8,192 the render's peak stays under what scoring a block holds at its
#: own (Brown test x10, traced: 2.2 MiB against 2.5; 4,096 tokens: 1.7 MiB but 15% slower, twice
#: the chunks of some 70 array operations each; 16,384: 3.2 MiB, no faster)
RENDER_ROWS = 1 << 13


@dataclass
class Scored:
    """The scores of a block of lines: per token (``</s>`` of each line included) and per line."""

    tokens: Tokens  # the words of the block, with their spellings
    ids: np.ndarray  # (n,) vocabulary ids (int32: the vocabulary's row_type)
    starts: np.ndarray  # (lines + 1,) where each line's tokens start
    log10: np.ndarray  # (n,) log10 p of each token
    length: np.ndarray  # (n,) int16 n-gram length used

    @property
    def totals(self) -> np.ndarray:
        """log10 probability of each line (``</s>`` included)."""
        return np.add.reduceat(self.log10, self.starts[:-1]) if len(self.log10) else np.zeros(0)

    @property
    def oovs(self) -> np.ndarray:
        """Out-of-vocabulary tokens of each line."""
        return np.add.reduceat((self.ids == UNK_ID).astype(np.int64), self.starts[:-1]) if len(self.ids) else np.zeros(0, np.int64)


@dataclass
class Summary:
    """Running totals over everything scored, for the closing lines."""

    tokens: int = 0
    oovs: int = 0
    log10: float = 0.0
    oov_log10: float = 0.0
    lines: int = 0

    def add(self, scored: Scored) -> None:
        # the OOVs by index, not by mask: a mask of scattered True entries mispredicts a branch
        # per entry (a block of Brown test: 58 us against 18; the same values, the same sum)
        oov = np.flatnonzero(scored.ids == UNK_ID)
        self.tokens += len(scored.ids)
        self.oovs += len(oov)
        self.log10 += float(scored.log10.sum())
        self.oov_log10 += float(scored.log10.take(oov).sum())
        self.lines += len(scored.starts) - 1

    def perplexities(self) -> dict:
        """Perplexity with and without OOVs (``</s>`` counted), through the one perplexity
        function (given the mean natural-log probability); None where nothing was scored."""
        def ppl(total: float, count: int) -> float | None:
            value = perplexity(np.array([total * LN10 / count]))[1] if count else math.nan
            return value if math.isfinite(value) else None

        return {"perplexity": ppl(self.log10, self.tokens),
                "perplexity_excluding_oovs": ppl(self.log10 - self.oov_log10, self.tokens - self.oovs)}

    def text(self) -> str:
        """KenLM's closing lines."""
        values = {name: math.nan if value is None else value for name, value in self.perplexities().items()}
        return (f"Perplexity including OOVs:\t{values['perplexity']}\n"
                f"Perplexity excluding OOVs:\t{values['perplexity_excluding_oovs']}\n"
                f"OOVs:\t{self.oovs}\nTokens:\t{self.tokens}\n")


class LineScorer:
    """Scores blocks of lines with one n-gram model (see the module docstring)."""

    def __init__(self, model) -> None:
        if model.unit != "line":
            raise UsageError("this model was trained on a stream (--unit stream): query scores lines as sentences; "
                             "use lmtool eval for stream models")
        self.model = model
        self._bytes = None
        if model.tokenizer.kind == "word":
            vocabulary = model.vocabulary
            stored = getattr(vocabulary, "token_bytes", None)  # a compact file's: no Python strings
            if stored:
                self._bytes = ByteVocabulary(*stored())
                vocabulary.release_token_bytes()  # read once, to be indexed
            else:
                self._bytes = ByteVocabulary.of(vocabulary.tokens)

    def score(self, block: bytes) -> Scored:
        """Score ``block``: whole lines of UTF-8 text (the last ``\\n`` optional)."""
        if self._bytes is not None and not has_unicode_space(block):
            tokens, begin = split_lines(block)
            found = self._bytes.lookup(block, begin, tokens.length)
            del begin
        else:
            tokens, found = self._tokenize(block)
        counts = tokens.per_line + 1  # each line's tokens and </s>
        starts = np.concatenate([[0], np.cumsum(counts)])
        words = np.ones(starts[-1], dtype=bool)
        words[starts[1:] - 1] = False
        ids = np.full(starts[-1], EOS_ID, dtype=row_type(self.model.lookup.vocab_size))
        ids[words] = found
        del words, found  # one copy of the ids while the block is scored
        log10, length = score_stream(self.model.lookup, ids, starts)
        return Scored(tokens, ids, starts, log10, length)

    def _tokenize(self, block: bytes) -> tuple[Tokens, np.ndarray]:
        """The model's own tokenizer and vocabulary, line by line: the tokens (their bytes are the
        tokens re-encoded and joined, not the block's) and their ids."""
        lines = block.decode("utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        tokenize, vocabulary = self.model.tokenizer.tokenize, self.model.vocabulary
        per_line = [tokenize(line.rstrip("\r")) for line in lines]
        spelled = [token.encode("utf-8") for tokens in per_line for token in tokens]
        tokens = Tokens(np.array([len(token) for token in spelled], dtype=np.int32),
                        np.array([len(t) for t in per_line], dtype=np.int64),
                        np.frombuffer(b"".join(spelled), dtype=np.uint8))
        return tokens, vocabulary.encode([token for line in per_line for token in line])


def read_blocks(source: BinaryIO, name: str, size: int = BLOCK) -> Iterable[bytes]:
    """Blocks of whole lines from ``source``, checked to be UTF-8 text (:class:`DataError` naming
    ``name`` and the byte offset otherwise)."""
    pending, offset = b"", 0
    while True:
        chunk = source.read(size)
        data, more = pending + chunk, bool(chunk)
        cut = len(data) if not more else data.rfind(b"\n") + 1
        if cut == 0 and more:
            pending = data  # a line longer than the block: read on
            continue
        block, pending = data[:cut], data[cut:]
        del chunk, data  # the block alone is held while it is scored
        if block:
            _check_text(block, name, offset)
            yield block
            offset += len(block)
        if not more:
            return


def _check_text(block: bytes, name: str, offset: int) -> None:
    nul = block.find(b"\0")
    if nul >= 0:
        raise DataError(f"{name} looks binary (NUL byte at byte {offset + nul}): expected UTF-8 text")
    if block.isascii():  # UTF-8 already: no decoded copy of the block is made
        return
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{name}: invalid UTF-8 at byte {offset + error.start}: convert the input to UTF-8") from None


def render(scored: Scored, level: str) -> Iterable[np.ndarray]:
    """The output lines of ``scored`` at ``level`` (word or sentence; summary prints none), in
    pieces (uint8 arrays) to be written in order; the word level's are made as they are asked for."""
    lines = len(scored.starts) - 1
    if level == "summary" or lines == 0:
        return ()
    if level == "sentence":
        return (_closings(scored).squeeze(),)
    return _word_level(scored)


def _word_level(scored: Scored) -> Iterator[np.ndarray]:
    """The word level's lines, :data:`RENDER_ROWS` tokens (``</s>`` included) at a time, each
    token's output a row of one matrix, squeezed once (:func:`_rows`). The lines' closings and the
    fields' widths are made once for the block."""
    ends = scored.starts[1:] - 1
    closings = _closings(scored).matrix
    widths = integer_width(scored.ids), integer_width(scored.length), decimal_width(scored.log10, PLACES)
    spelling = scored.tokens.padded(), scored.tokens.offsets()
    for lo in range(0, len(scored.ids), RENDER_ROWS):
        part = slice(lo, min(lo + RENDER_ROWS, len(scored.ids)))
        lines = slice(*np.searchsorted(ends, [part.start, part.stop]).tolist())  # the lines ending in part
        yield _rows(scored, spelling, part, part.start - lines.start, ends[lines] - part.start, closings[lines], widths)


def _rows(scored: Scored, spelling: tuple[np.ndarray, np.ndarray], part: slice, first_word: int, ends: np.ndarray,
          closings: np.ndarray, widths: tuple[int, int, int]) -> np.ndarray:
    """The output of the tokens in ``part`` (words from ``first_word`` of :class:`Tokens` on,
    spelled from its padded bytes and offsets, and the ``</s>`` at ``ends``, relative to
    ``part``, closing lines with ``closings``), a row each::

        word row  |word (16 columns)|=id n log10p<TAB>|              (zero bytes)               |
        </s> row  |</s>|=id n log10p<TAB>|Total: log10p OOV: k\\n |

    A word is written from the two uint64 words of :meth:`Tokens.words` (on every row: a ``</s>``
    row is then overwritten whole), the fields on every row, and a ``</s>`` row's fields moved
    left to make room for its line's closing, so that rows are no wider than a ``</s>`` row's
    (Brown test: 50 columns). A word longer than 16 bytes has the rest of its bytes inserted
    after the squeeze (:func:`_long_words`)."""
    ids, length, log10 = scored.ids[part], scored.length[part], scored.log10[part]
    fields = 4 + sum(widths)
    rows = Records(len(ids), len(EOS) + fields + closings.shape[1])
    spelled = np.ones(len(ids), dtype=bool)
    spelled[ends] = False
    long = np.zeros(0, dtype=np.int64)
    if len(scored.tokens.length):  # (a block of empty lines has no words: its rows are all overwritten)
        word = np.cumsum(spelled)  # each row's word: its own, or on a </s> row the one before it (or the first)
        word += first_word - 1
        np.clip(word, 0, len(scored.tokens.length) - 1, out=word)
        rows.words(*scored.tokens.words(word, *spelling))
        long = np.flatnonzero(spelled & (scored.tokens.length.take(word) > SHORT))
    else:
        rows.words(np.uint64(0), np.uint64(0))
    _fields(rows, ids, length, log10, widths)
    matrix = rows.matrix
    matrix[ends, len(EOS) : len(EOS) + fields] = matrix[ends, SHORT : SHORT + fields]
    matrix[ends, : len(EOS)] = np.frombuffer(EOS.encode(), dtype=np.uint8)
    matrix[ends, len(EOS) + fields :] = closings
    out = rows.squeeze()
    if not len(long):
        return out
    which = word[long]
    return _long_words(out, matrix, long, scored.tokens.data, spelling[1][which], scored.tokens.length[which])


def _long_words(out: np.ndarray, matrix: np.ndarray, rows: np.ndarray, data: np.ndarray, begin: np.ndarray,
                length: np.ndarray) -> np.ndarray:
    """``out`` (``matrix`` squeezed) with the bytes past the 16th of the long words at ``begin``
    in ``data``, of ``length`` bytes, inserted after the 16 of their ``rows``."""
    count = np.count_nonzero(matrix, axis=1)
    row_starts = np.cumsum(count) - count
    extra = length - SHORT
    joined = np.cumsum(extra) - extra  # where each word's rest starts in the bytes inserted
    index = np.repeat(begin + SHORT - joined, extra) + np.arange(int(extra.sum()))
    return np.insert(out, np.repeat(row_starts[rows] + SHORT, extra), data[index])


def _fields(records: Records, ids: np.ndarray, length: np.ndarray, log10: np.ndarray,
            widths: tuple[int, int, int]) -> Records:
    """``=id n log10p<TAB>`` on each row of ``records``, in ``widths`` columns (the three values')."""
    id_width, length_width, log10_width = widths
    records.text(b"=").integers(ids, id_width).text(b" ").integers(length, length_width).text(b" ")
    return records.decimals(log10, PLACES, log10_width).text(b"\t")


def _closings(scored: Scored) -> Records:
    """Each line's closing, ``Total: log10p OOV: k`` and a newline, a row per line."""
    totals, oovs = scored.totals, scored.oovs
    closings = Records(len(totals), 14 + decimal_width(totals, PLACES) + integer_width(oovs))
    return closings.text(b"Total: ").decimals(totals, PLACES).text(b" OOV: ").integers(oovs).text(b"\n")


def query(model, source: BinaryIO, sink: BinaryIO, *, level: str = "word", name: str = "standard input",
          threads: int = 1) -> Summary:
    """Score every line of ``source`` with ``model``, writing ``level`` output and the summary
    to ``sink``; returns the totals. With ``threads`` > 1, blocks are scored on that many
    threads (numpy releases the interpreter lock inside its array operations) and written in
    their order, so the output is the same."""
    if level not in LEVELS:
        raise UsageError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    scorer, summary = LineScorer(model), Summary()

    def work(block: bytes) -> tuple[Scored, Iterable[np.ndarray]]:
        scored = scorer.score(block)
        pieces = render(scored, level)
        return scored, pieces if threads <= 1 else list(pieces)  # joined by the worker, not as written

    for scored, pieces in in_order(work, read_blocks(source, name), threads):
        summary.add(scored)
        _write(sink, pieces)
        del scored, pieces  # not held while the next block is scored: one block's arrays at a time
    sink.write(summary.text().encode())
    return summary


def _write(sink: BinaryIO, pieces: Iterable[np.ndarray]) -> None:
    """Write ``pieces`` in order, each let go once written (writelines would bypass a sink's own write)."""
    for piece in pieces:
        sink.write(piece)
        del piece  # not held while the next piece is made


def score_sentences(model, sentences: Sequence[str]) -> Scored:
    """Score a batch of sentences in one vectorised pass: per-token log10 probabilities, n-gram
    lengths and ids, and per-sentence ``totals`` and ``oovs`` (see :class:`Scored`)."""
    block = "\n".join(sentence.replace("\n", " ") for sentence in sentences).encode("utf-8")
    return LineScorer(model).score(block + b"\n" if sentences else b"")
