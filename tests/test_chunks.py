"""The planning helpers every job shares (``runner/chunks.py``)."""

import ml_collections
import numpy as np
import pytest

from alignment.runner.chunks import as_list, check_known_fields, even_parts


def test_even_parts_are_the_fewest_of_sizes_within_one():
    parts = even_parts(np.arange(10), 4)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert np.concatenate(parts).tolist() == list(range(10))
    assert [len(p) for p in even_parts(np.arange(8), 4)] == [4, 4]


def test_as_list_takes_scalars_and_sequences():
    assert as_list(3) == [3] and as_list("relu") == ["relu"] and as_list((1, 2)) == [1, 2]


def test_unknown_fields_are_named_with_the_schema_recursively():
    ref = ml_collections.ConfigDict({"lr": 0.1, "flow": {"rtol": 1e-3}})
    check_known_fields(ml_collections.ConfigDict({"lr": 0.2}), ref, "x/config.py")
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['lrr'\].*x/config.py"):
        check_known_fields(ml_collections.ConfigDict({"lrr": 0.2}), ref, "x/config.py")
    bad = ml_collections.ConfigDict({"flow": {"rtoll": 1.0}})
    with pytest.raises(ValueError, match=r"unknown config.flow field\(s\) \['rtoll'\]"):
        check_known_fields(bad, ref, "x/config.py")
