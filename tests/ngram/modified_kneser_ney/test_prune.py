"""The one parser and validator of pruning thresholds (the Python API and --prune both use it)."""

from __future__ import annotations

import pytest

from lmtool.errors import UsageError
from lmtool.ngram.modified_kneser_ney.prune import check_prune, prune_thresholds


@pytest.mark.parametrize("value", ["0 1 1", "0,1,1", " 0, 1 1 ", [0, 1, 1], (0, "1", 1)])
def test_accepted_forms(value):
    assert check_prune("prune", value) == [0, 1, 1]


@pytest.mark.parametrize("value", [None, "", "  ", []])
def test_no_pruning(value):
    assert check_prune("prune", value) is None
    assert prune_thresholds(value, 3) == [0, 0, 0]


@pytest.mark.parametrize("value, message", [
    ("0 x", "integer thresholds"),
    (7, "integer thresholds"),
    ([1, 1], "unigram pruning is not supported"),
    ("0 2 1", "non-decreasing"),
    ([0, -1], ">= 0"),
])
def test_bad_thresholds_name_the_option(value, message):
    with pytest.raises(UsageError, match=message) as error:
        check_prune("prune", value)
    assert "--prune" in str(error.value)


def test_the_last_threshold_repeats_for_higher_orders():
    assert prune_thresholds([0, 1], 4) == [0, 1, 1, 1]
    assert prune_thresholds("0 1 2 3", 2) == [0, 1]
