"""The colour view over any LanguageModel (here two hand-written bigram tables): shading, hover data, escaping."""

import json
import math
import re

import pytest

from lmtool.analysis.colour_view import FULL_BITS, colour, colour_view, view_page
from lmtool.errors import UsageError
from tests.lm_fakes import ROWS, BigramTable, uniform_rows
from tests.ngram.helpers import split_of

HOSTILE = ["</script><b>x", "a&b"]


def test_hover_data_holds_both_probabilities_and_the_top_alternatives():
    a = BigramTable(["a", "b", "c"], uniform_rows(["a", "b", "c"], ["<s>", "a", "b", "c", "<unk>"]))
    b = BigramTable(["a", "b", "c"], ROWS)
    split = split_of([[3, 4], [5]])  # "a b </s>", "c </s>"
    fragment = colour_view({"A": a, "B": b}, split, lines=1, top=2)
    data = json.loads(re.search(r'class="lmview-data">(.*?)</script>', fragment).group(1))
    assert data["names"] == ["A", "B"] and len(data["tokens"]) == 3  # the first line only
    text, p_a, p_b, gain, top_a, top_b = data["tokens"][1]  # "b" after "a"
    assert (text, p_a, p_b) == ("b", 0.2, 0.6)
    assert gain == pytest.approx(math.log2(0.6 / 0.2), abs=1e-3)
    assert top_b == [["b", 0.6], [top_b[1][0], 0.1]]  # B after "a": b 0.6, then ties at 0.1
    assert fragment.count("data-i=") == 3 and "<br>" in fragment  # </s> ends the line


def test_tokens_are_escaped_everywhere():
    words = HOSTILE
    model = BigramTable(words, uniform_rows(words, ["<s>", *words, "<unk>"]))
    split = split_of([[3, 4]])
    page = view_page("<title>", colour_view({"A": model, "B": model}, split))
    assert "</script><b>" not in page and "<title>" not in page.split("<body>")[1]
    assert "&lt;/script&gt;&lt;b&gt;x" in page and "a&amp;b" in page
    data = re.search(r'class="lmview-data">(.*?)</script>', page).group(1)
    assert json.loads(data)["tokens"][0][0] == HOSTILE[0]  # the JSON block keeps the token, with < escaped


def test_colours_and_refusals():
    assert colour(FULL_BITS) == colour(10 * FULL_BITS) == "rgba(31,119,180,0.85)"
    assert colour(-FULL_BITS / 2) == "rgba(230,120,20,0.42)"
    model = BigramTable(["a", "b", "c"], ROWS)
    with pytest.raises(UsageError, match="two models"):
        colour_view({"A": model}, split_of([[3]]))
    with pytest.raises(UsageError, match="--lines"):
        colour_view({"A": model, "B": model}, split_of([[3]]), lines=0)
