"""How the charts rank songs: net score for the Top 10, and the lower bound of the Wilson
score interval for "Best rated", which does not let one lucky vote beat 900 up and 100
down (Evan Miller, "How Not To Sort By Average Rating", 2009). Pure functions, no Django.
"""

from __future__ import annotations

import math

Z_95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval


def wilson_lower_bound(up: int, down: int, z: float = Z_95) -> float:
    """The lower bound of the Wilson score interval for the share of up votes; 0 with no
    votes. 1 up, 0 down: 0.21; 900 up, 100 down: 0.88; 9 up, 1 down: 0.60."""
    n = up + down
    if n <= 0:
        return 0.0
    p = up / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt((p * (1 - p) + z2 / (4 * n)) / n)
    return max(0.0, (centre - spread) / (1 + z2 / n))
