"""Published data sets (Montgomery, Introduction to Statistical Quality Control).

Each is checked against the totals the book prints, so a transcription slip fails loudly.
"""

# Table 6.3: inside diameters (mm) of forged automobile piston rings, 25 subgroups of 5.
# The book prints Σx̄ = 1850.028 (of x̄ rounded to 3 decimals) and ΣR = 0.581.
# The demo seeds the same table into a firm, so it lives with the demo data.
from chaoyun.apps.demo import PISTON_RINGS as PISTON_RINGS  # re-exported for the tests

# Table 7.1: nonconforming 6-oz orange-juice cans in 30 samples of n = 50 (p̄ = 347/1500 = 0.2313).
ORANGE_JUICE = [
    12,
    15,
    8,
    10,
    4,
    7,
    16,
    9,
    14,
    10,
    5,
    6,
    17,
    12,
    22,
    8,
    10,
    5,
    13,
    11,
    20,
    18,
    24,
    15,
    9,
    12,
    7,
    13,
    9,
    6,
]

# Table 7.7 (c chart): nonconformities in 26 successive samples of 100 printed circuit boards (c̄ = 516/26 = 19.85).
CIRCUIT_BOARDS = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15]
