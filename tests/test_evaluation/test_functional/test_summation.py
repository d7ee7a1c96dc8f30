import numpy as np
import pytest

from sakbox.evaluation.functional import exact_sum


def test_float_sums_do_not_depend_on_the_order():
    rng = np.random.default_rng(0)
    # wide dynamic range: a plain running sum changes with the order
    values = rng.normal(size=(200, 9)) * 10.0 ** rng.integers(-8, 9, (200, 9))
    reference = exact_sum(values)
    plain = {np.sum(values[rng.permutation(200)], axis=0).tobytes() for _ in range(20)}
    assert len(plain) > 1  # the test data does expose order dependence
    for _ in range(20):
        assert np.array_equal(exact_sum(values[rng.permutation(200)]), reference)
    assert np.allclose(reference, values.sum(0), rtol=1e-12, atol=1e-6)
    assert reference.dtype == np.float64 and reference.shape == (9,)


def test_integer_sums_stay_integer_and_list_input():
    parts = [np.full((4, 3), 2**40, dtype=np.int64), np.ones((4, 3), dtype=np.int32)]
    total = exact_sum(parts)
    assert total.dtype == np.int64 and np.all(total == 2**40 + 1)
    assert np.array_equal(exact_sum(np.array([[0.1, 0.2], [0.2, 0.1]], np.float32)),
                          [np.float64(np.float32(0.1)) + np.float64(np.float32(0.2))] * 2)


def test_empty_input_is_an_error():
    with pytest.raises(ValueError, match='N >= 1'):
        exact_sum(np.zeros((0, 3)))
