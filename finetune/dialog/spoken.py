"""Numbers the way people write them in a request: "over the coming six weeks", "half a dozen
products", "a budget of a grand". A template's numeric slot is rewritten into such words (the
call's argument stays the number), so the model learns to turn words into arguments instead of
dropping them. Only slots whose template context reads naturally in words are rewritten: a day
slot followed by "days", a count or money slot not glued to "+", "-day" or a unit word.
"""

from __future__ import annotations

import random
import re

DURATIONS = {
    7: ["a week", "one week"], 14: ["two weeks", "a fortnight"], 21: ["three weeks"],
    30: ["a month", "one month", "thirty days"], 42: ["six weeks"], 60: ["two months", "sixty days"],
    90: ["three months", "a quarter", "ninety days"], 180: ["six months", "half a year"],
    365: ["a year", "twelve months"],
}
COUNTS = {
    2: ["two"], 3: ["three"], 4: ["four"], 5: ["five"], 6: ["six", "half a dozen"], 7: ["seven"],
    8: ["eight"], 9: ["nine"], 10: ["ten"], 12: ["twelve", "a dozen"], 20: ["twenty"],
    50: ["fifty"], 100: ["a hundred"], 200: ["two hundred"], 500: ["five hundred"],
}
MONEY = {
    50: ["fifty", "$50"], 100: ["a hundred", "$100", "100 dollars"], 200: ["two hundred", "$200"],
    250: ["two hundred and fifty", "$250"], 500: ["five hundred", "$500", "500 pounds"],
    1000: ["a thousand", "a grand", "1k", "$1,000", "1,000"],
    2000: ["two thousand", "2k", "$2k", "2,000"], 2500: ["2.5k", "$2,500", "2,500"],
}
DAY_SLOTS = {"horizon_days", "filters.inactive_days_min", "filters.active_within_days"}
COUNT_SLOTS = {"k", "max_users", "filters.min_orders", "filters.max_orders"}
MONEY_SLOTS = {"budget", "filters.min_spend", "filters.max_spend"}
_NOT_AFTER = r"(?![+\w-]| bucks| dollars| pounds| euros)"


def spoken(template: str, values: dict, rng: random.Random, share: float) -> str:
    """``template`` with some numeric slots (each with probability ``share``) replaced by the
    words of their value in ``values``; other slots are left for the caller to fill."""
    for slot in sorted(set(re.findall(r"\{([a-z_.]+)\}", template))):
        value = values.get(slot)
        if rng.random() >= share or not isinstance(value, int):
            continue
        name = re.escape("{" + slot + "}")
        if slot in DAY_SLOTS and value in DURATIONS:
            template = re.sub(name + r" days?\b", rng.choice(DURATIONS[value]), template, count=1)
        elif slot in COUNT_SLOTS and value in COUNTS:
            template = re.sub(name + _NOT_AFTER, rng.choice(COUNTS[value]), template, count=1)
        elif slot in MONEY_SLOTS and value in MONEY:
            template = re.sub(r"[$£€]?" + name + _NOT_AFTER, rng.choice(MONEY[value]), template,
                              count=1)
    return template
