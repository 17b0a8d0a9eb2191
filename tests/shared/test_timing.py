"""The project's one timing helper: warm-up excluded, a true median, repeats honoured."""

import time

import pytest

from shared.timing import measure


def test_warmup_excluded_and_median_is_a_sample():
    calls = []

    def fn():
        calls.append(1)
        # the first (warm-up) call is slow; it must not reach the statistics
        time.sleep(0.2 if len(calls) == 1 else 0.001)
        return len(calls)

    t, last = measure(fn, repeats=5, warmup=1)
    assert len(calls) == 6 and last == 6
    assert t.repeats == 5
    assert t.max_s < 0.15  # the 0.2 s warm-up is not among the timed calls
    assert t.min_s <= t.median_s <= t.max_s


def test_repeats_must_be_positive():
    with pytest.raises(ValueError):
        measure(lambda: None, repeats=0)
