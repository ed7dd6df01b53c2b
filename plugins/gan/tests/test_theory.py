"""000 ch. 3 bounds against the exact values of seeds-gan §2 / §11.1."""

import pytest

from tryon.errors import InputError
from tryon_gan import theory as T


# abs=5e-5 throughout: the seed's tables print 4 decimals, so a correct value is within half a unit of the 4th
# decimal of the printed figure -- exact by construction (float64 closed forms, no CPU dependence). Measured
# worst 4.93e-5 (asymptotic, M = 9, ε = 1: a figure on a rounding edge), identical on AVX2 and SSE4.1
@pytest.mark.parametrize("eps,alpha", [(0.1, 0.9206), (0.25, 0.8064), (0.5, 0.6419), (1.0, 0.4220), (2.0, 0.2281)])
def test_two_modes_exact(eps, alpha):
    assert T.two_modes_precision_bound(eps) == pytest.approx(alpha, abs=5e-5)


def test_two_modes_lambert_example():
    # W(1) = 0.5671; half a unit of the printed 4th decimal, as above (measured 1.5e-5 and 2e-7)
    assert T.two_modes_lambert_bound(1.0) == pytest.approx(0.5475, abs=5e-5)
    assert T.two_modes_lambert_bound(0.1) == pytest.approx(0.9921, abs=5e-5)
    assert T.epsilon(2.0, 1.0) == 1.0


@pytest.mark.parametrize("M,row", [
    (4, (2.0144, 0.9881, 0.1123, 0.0001)),
    (9, (0.8011, 0.2991, 0.0197, 0.0000)),
    (25, (0.4877, 0.1397, 0.0054, 0.0000)),
    (100, (0.3267, 0.0702, 0.0015, 0.0000)),
    (1000, (0.2079, 0.0305, 0.0003, 0.0000)),
])
def test_multi_modes_table(M, row):
    for eps, v in zip((0.5, 1.0, 2.0, 4.0), row):
        # half a unit of the table's 4th decimal (see above); measured worst 4.4e-5
        assert T.multi_modes_precision_bound(M, eps) == pytest.approx(v, abs=5e-5)


@pytest.mark.parametrize("M,a05,a1", [(4, 0.3838, 0.1147), (9, 0.3094, 0.0745), (25, 0.2482, 0.0480),
                                       (100, 0.1935, 0.0292), (1000, 0.1376, 0.0147)])
def test_multi_modes_asymptotic(M, a05, a1):
    # half a unit of the table's 4th decimal (see above); measured worst 4.93e-5
    assert T.multi_modes_asymptotic_bound(M, 0.5) == pytest.approx(a05, abs=5e-5)
    assert T.multi_modes_asymptotic_bound(M, 1.0) == pytest.approx(a1, abs=5e-5)


def test_simplicial_bounds_decrease_with_modes_and_distance():
    import math

    assert T.simplicial_precision_bound(4, 1.0) == pytest.approx(1 - math.sqrt(math.log(4)) * math.exp(-1.5))
    assert T.simplicial_precision_bound(10, 1.0) < T.simplicial_precision_bound(4, 1.0)
    assert T.simplicial_asymptotic_bound(4, 2.0) < T.simplicial_asymptotic_bound(4, 1.0)
    assert T.simplicial_precision_bound(4, 100.0) == 0.0


def test_bad_arguments():
    with pytest.raises(InputError, match="epsilon"):
        T.two_modes_precision_bound(0.0)
    with pytest.raises(InputError, match="recall"):
        T.multi_modes_precision_bound(4, 1.0, recall=0.2)  # β̄ ≤ 1/M
