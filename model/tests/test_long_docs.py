"""long_docs builds the runtime's passages (src/encoder/tokenize.ts `passages`, local.ts max-pooling)."""
import numpy as np

from saesplade_model.long_docs import max_pool, windows


def test_windows_follow_the_runtime_rule():
    c = list(range(600))
    w = windows(c, 254, 32, 32)
    # step = room - overlap = 222; the last window reaches the end
    assert [x[0] for x in w] == [0, 222, 444]
    assert [len(x) for x in w] == [254, 254, 156]
    assert w[1][:32] == w[0][-32:]
    assert windows(c[:254], 254, 32, 32) == [c[:254]]
    assert windows(c, 254, 32, 2) == [c[:254], c[222:476]]        # max_passages cuts the tail
    assert [x[0] for x in windows(c, 10, 50, 100)][:3] == [0, 1, 2]  # overlap clamped to room - 1


def test_max_pool_takes_each_concepts_largest_weight():
    a = (np.array([1, 5, 9]), np.array([0.5, 0.1, 0.3], np.float32))
    b = (np.array([5, 7]), np.array([0.4, 0.2], np.float32))
    ind, val = max_pool([a, b])
    assert ind.tolist() == [1, 5, 7, 9]
    assert np.allclose(val, [0.5, 0.4, 0.2, 0.3])
    assert max_pool([a]) is a
