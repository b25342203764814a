"""Worded tool arguments -> the numbers and ids the tool schemas declare.

A model that is not grammar-constrained (an external OpenAI-compatible backend) sends
``{"horizon_days": "six weeks"}``, ``{"k": "half a dozen"}``, ``{"budget": "$2.5k"}`` or
``{"user_id": 15544}``. The tool input models run the ``*_arg`` functions as ``mode="before"``
validators: the JSON schema the model sees stays as declared, a well-typed value passes through
untouched, and a value that cannot be read exactly raises ``ValueError`` saying what was
expected. Nothing is guessed: "soonish", "a few" and "lots" are errors, not numbers.
"""

from __future__ import annotations

import math
import re
from typing import Any

from knowledge.language import CJK

# --- numbers in words ---------------------------------------------------------------------------

_SMALL = {w: i for i, w in enumerate([
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen"])}
_SMALL |= {w: 10 * i for i, w in enumerate(
    ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"], start=2)}
_GROUPS = {"dozen": 12, "dozens": 12, "couple": 2, "pair": 2}  # "a dozen", "two dozen"
_SCALES = {"thousand": 1_000, "grand": 1_000, "million": 1_000_000}
_FILLER = {"a", "an", "and", "of", "about", "around", "roughly", "approximately"}
_DIGITS = re.compile(r"-?\d+(?:\.\d+)?")
_DIGITS_K = re.compile(r"(\d+(?:\.\d+)?)k")  # "2.5k"

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6,
              "七": 7, "八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1_000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_CN_COUNTERS = "个位名件人次"  # measure words after a count: "五个" is 5

_CURRENCY = re.compile(r"[$£€¥￥]|\b(?:usd|gbp|eur|cny|rmb|dollars?|bucks?|pounds?|quid|euros?|"
                       r"yuan)\b|块钱|块|元|美元|英镑|欧元|人民币")


def _english(text: str) -> float:
    """'half a dozen' 6, 'a couple' 2, 'one hundred and five' 105, '2.5k' 2500, 'a grand' 1000."""
    if match := re.fullmatch(r"(.+?)\s+and\s+a\s+half", text):  # "two and a half"
        return _english(match[1]) + 0.5
    total = current = 0.0
    factor, quantity, halves = 1.0, False, False
    tens = None  # after "twenty" only a unit word may follow; "5 5" or "five six" is no number
    for token in re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text).split():  # twenty-five
        value = float(token) if _DIGITS.fullmatch(token) else _SMALL.get(token)
        if value is not None:
            if tens is not None and not (tens and token in _SMALL and 0 < value < 10):
                raise ValueError("two numbers in a row")
            current += value
            tens = token in _SMALL and value >= 20 and value % 10 == 0
            quantity = True
            continue
        tens = None
        if k := _DIGITS_K.fullmatch(token):
            total += float(k[1]) * 1_000
        elif token in _GROUPS:
            current = (current or 1) * _GROUPS[token]
        elif token == "hundred":
            current = (current or 1) * 100
        elif token in _SCALES:
            total, current = total + (current or 1) * _SCALES[token], 0.0
        elif token == "half":
            factor, halves = factor * 0.5, True
            continue
        elif token in _FILLER:
            continue
        else:
            raise ValueError(f"unknown word {token!r}")
        quantity = True
    if not quantity and not halves:
        raise ValueError("no number")
    return ((total + current) if quantity else 1.0) * factor


def _chinese(text: str) -> float:
    """'两' 2, '十五' 15, '一百零五' 105, '一百五' 150, '三千五' 3500, '2.5万' 25000, '半' 0.5."""
    text = text.rstrip(_CN_COUNTERS)
    half = text.endswith("半")
    text = text.removesuffix("半")
    if not text:
        if half:
            return 0.5
        raise ValueError("no number")
    total = section = 0.0
    digit: float | None = None
    last_unit, after_unit = 1, False
    for token in re.findall(r"\d+(?:\.\d+)?|.", text):
        if _DIGITS.fullmatch(token) or token in _CN_DIGITS:
            if digit is not None:
                raise ValueError("two digits in a row")
            value = float(token) if token not in _CN_DIGITS else float(_CN_DIGITS[token])
            if value == 0 and token in _CN_DIGITS:  # 零 only marks a gap: 一百零五
                after_unit = False
                continue
            digit = value
            continue
        if token in _CN_UNITS:
            section += (1 if digit is None else digit) * _CN_UNITS[token]
            last_unit = _CN_UNITS[token]
        elif token in _CN_BIG:
            total += (section + (digit or 0) or 1) * _CN_BIG[token]
            section, last_unit = 0.0, _CN_BIG[token]
        else:
            raise ValueError(f"unknown character {token!r}")
        digit, after_unit = None, True
    if digit is not None:  # a digit right after a unit is one place lower: 一百五 = 150
        section += digit * (last_unit / 10 if after_unit and last_unit > 1 else 1)
    return total + section + (0.5 if half else 0.0)


def parse_number(text: str, currency: bool = False) -> float:
    """A number written in digits, English words or Chinese numerals; ``currency`` also drops
    currency symbols and names ('$2.5k', '500 pounds', '五百块'). Raises ValueError."""
    text = text.strip().lower()
    if currency:
        text = _CURRENCY.sub(" ", text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text).strip()  # 2,500
    if not text:
        raise ValueError("empty")
    return _chinese(text.replace(" ", "")) if CJK.search(text) else _english(text)


# --- durations ----------------------------------------------------------------------------------

_DAY_UNITS = {"d": 1, "day": 1, "days": 1, "w": 7, "wk": 7, "wks": 7, "week": 7, "weeks": 7,
              "fortnight": 14, "fortnights": 14, "mo": 30, "mos": 30, "month": 30, "months": 30,
              "quarter": 90, "quarters": 90, "y": 365, "yr": 365, "yrs": 365, "year": 365,
              "years": 365, "h": 1 / 24, "hr": 1 / 24, "hrs": 1 / 24, "hour": 1 / 24,
              "hours": 1 / 24}
_ONE_UNIT = {"day", "week", "fortnight", "month", "quarter", "year"}
_WHOLE = {1, 1 / 24}  # units whose count must make whole days ("48 hours" 2, not "36 hours")
_TIME_FILLER = re.compile(r"^(?:(?:the|next|within|in|over|for|coming|following|last|past)\s+)+|"
                          r"\s+(?:ago|from now|ahead)$")
_CN_DAY_UNITS = {"天": 1, "日": 1, "周": 7, "星期": 7, "礼拜": 7, "月": 30, "季度": 90, "季": 90,
                 "年": 365, "小时": 1 / 24}
_CN_DURATION = re.compile(
    r"(?:未来|接下来|今后|最近|过去|近|下)?(?P<num>[\d.零〇一二两三四五六七八九十百千万]*)个?(?P<half>半)?个?"
    r"(?P<unit>小时|天|日|周|星期|礼拜|月|季度|季|年)(?:内|以内|之内|里)?")


def parse_days(text: str) -> int:
    """A duration in days: '30', 'six weeks' 42, 'a fortnight' 14, '3 months' 90 (a month is 30
    days), 'next quarter' 90, 'a year' 365, '48 hours' 2, '两周' 14, '三个月' 90. Raises
    ValueError."""
    text = text.strip().lower()
    if CJK.search(text):
        match = _CN_DURATION.fullmatch(text.replace(" ", ""))
        if not match:
            raise ValueError("not a duration")
        count = parse_number(match["num"]) if match["num"] else (0.0 if match["half"] else 1.0)
        count, unit = count + (0.5 if match["half"] else 0.0), _CN_DAY_UNITS[match["unit"]]
    else:
        text = _TIME_FILLER.sub("", text).strip()
        match = re.fullmatch(r"(?P<num>.*?)\s*(?P<unit>[a-z]+)", text)
        if match and match["unit"] in _DAY_UNITS:
            number = match["num"].strip()
            if number in ("", "a", "an", "next", "one"):  # "a fortnight"; not "weeks" or "y"
                if match["unit"] not in _ONE_UNIT:
                    raise ValueError("no number")
                count = 1.0
            else:
                count = parse_number(number)
            unit = _DAY_UNITS[match["unit"]]
        else:
            count, unit = parse_number(text), 1
    days = count * unit
    if unit in _WHOLE and abs(days - round(days)) > 1e-9:
        raise ValueError("not a whole number of days")
    return math.floor(days + 0.5)  # "half a year" 183: weeks and longer round to whole days


# --- ids ----------------------------------------------------------------------------------------

# A label before an id, only when a space, '.', ':' or '#' follows it ('user_12' is an id).
_ID_LABEL = re.compile(r"^(?:(?:customer|user|client|member|account|order|id|number|num|nr|no)"
                       r"(?=[\s.:#])\.?|[#:])\s*", re.IGNORECASE)
_TAU_ORDER = re.compile(r"#?w(\d{7})", re.IGNORECASE)


def clean_user_id(text: str) -> str:
    """'customer 15544', 'no. 15544', '#15544', 'user: sara_doe_496' -> the bare id."""
    text = text.strip().strip("'\"`").strip()
    while (stripped := _ID_LABEL.sub("", text, count=1)) != text:
        text = stripped
    return text.rstrip(".,;").strip()


def clean_order_id(text: str) -> str:
    """tau-bench order ids are '#W' + 7 digits: 'W1234567', '#w1234567', 'order #W1234567' ->
    '#W1234567'. Anything else only loses its labels; bare digits get no '#W' (other shops
    number their orders differently), so an unknown order is reported, not invented."""
    text = text.strip().strip("'\"`").strip()
    while (stripped := re.sub(r"^(?:order|id|number|no)(?=[\s.:#])\.?\s*:?\s*", "", text,
                              count=1, flags=re.IGNORECASE)) != text:
        text = stripped
    text = text.rstrip(".,;").strip()
    match = _TAU_ORDER.fullmatch(text)
    return f"#W{match[1]}" if match else text


# --- pydantic "before" validators ---------------------------------------------------------------

def _refuse(expected: str, value: Any) -> ValueError:
    return ValueError(f"expected {expected}, got {value!r}")


def _numeric(value: Any, expected: str, currency: bool = False) -> Any:
    """Strings are read; numbers and anything else go on to pydantic's own type check."""
    if isinstance(value, bool):  # pydantic would quietly read true as 1
        raise _refuse(expected, value)
    if not isinstance(value, str):
        return value
    try:
        number = parse_number(value, currency=currency)
    except ValueError:
        raise _refuse(expected, value) from None
    return int(number) if number == int(number) else number


def count_arg(value: Any) -> Any:
    """How many: 5, '5', 'five', 'half a dozen', 'a couple', '五个'."""
    expected = "a whole number such as 5 or 'half a dozen'"
    number = _numeric(value, expected)
    if isinstance(value, str) and not isinstance(number, int):
        raise _refuse(expected, value)
    return number


def amount_arg(value: Any) -> Any:
    """Money: 2500, '$2.5k', 'a grand', '500 pounds', '两千块'."""
    return _numeric(value, "an amount such as 2500 or '$2.5k'", currency=True)


def probability_arg(value: Any) -> Any:
    """0-1: 0.3, '0.3', '30%', '30 percent', 'half'."""
    expected = "a probability between 0 and 1 such as 0.3 or '30%'"
    if isinstance(value, str) and (match := re.fullmatch(r"\s*(.+?)\s*(?:%|per ?cent)\s*", value)):
        return _numeric(match[1], expected) / 100
    return _numeric(value, expected)


def days_arg(value: Any) -> Any:
    """A number of days: 30, '30 days', 'six weeks', 'a fortnight', '3 months', '两周'."""
    if isinstance(value, bool):
        raise _refuse("a number of days such as 30 or 'six weeks'", value)
    if not isinstance(value, str):
        return value
    try:
        return parse_days(value)
    except ValueError:
        raise _refuse("a number of days such as 30 or 'six weeks'", value) from None


def user_id_arg(value: Any) -> Any:
    """A user id: 'sara_doe_496', 15544 (a number), 'customer 15544', 'no. 15544'."""
    if isinstance(value, bool):
        raise _refuse("a user id such as 'sara_doe_496' or '15544'", value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return str(int(value))
    if not isinstance(value, str) or not value.strip():
        return value  # pydantic reports the type; the tools report an empty id
    if not (cleaned := clean_user_id(value)):
        raise _refuse("a user id such as 'sara_doe_496' or '15544'", value)
    return cleaned


def order_id_arg(value: Any) -> Any:
    """An order id: '#W1234567', 'W1234567', '#w1234567', 'order #W1234567'."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        return value
    if not (cleaned := clean_order_id(value)):
        raise _refuse("an order id such as '#W0000000'", value)
    return cleaned


# --- addresses ----------------------------------------------------------------------------------

_NOT_ADDRESS = re.compile(r"#?w\d{7}|(?:credit_card|paypal|gift_card)_\d+|\S+@\S+", re.IGNORECASE)
_ADDRESS_PART = {  # what each part needs, as (pattern, what to expect)
    "address1": (re.compile(r".*[^\W\d_].*"), "a street line such as '123 Main St'"),
    "city": (re.compile(r"[^\d#@_]*[^\W\d_][^\d#@_]*"), "a city name such as 'Austin'"),
    "zip": (re.compile(r"(?=.*\d)[\w -]{3,10}"), "a postal code such as '78701' or 'H2X 9G2'"),
}


def address_part_arg(part: str):
    """A validator for one part of an address: no order, payment or e-mail id in any part, and
    the street line, city and postal code shaped as such (a small model wrote an order id as
    the street and the customer's first name as the city). Empty parts are left to the tool."""
    pattern, expected = _ADDRESS_PART.get(part, (None, "part of an address, not an id or e-mail"))

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        text = value.strip()
        if _NOT_ADDRESS.search(text) or (pattern and not pattern.fullmatch(text)):
            raise _refuse(f"{part}: {expected}", value)
        return text
    return check


# --- quantities a message states (decode-time grounding of numeric arguments) -------------------

_WORD = re.compile(r"\d+(?:[.,]\d+)*k?|[a-z]+(?:-[a-z]+)?|[$£€¥%]")
_ID_CONTEXT = {"customer", "user", "client", "member", "account", "order", "id", "no", "number",
               "nr", "#", "cust", "sku", "item", "product"}
_MORE = re.compile(r"(?:more than|over|above|greater than|exceeding|beyond)\s*$|(?:超过|多于|大于)$")
_LESS = re.compile(r"(?:less than|fewer than|under|below)\s*$|(?:少于|低于|不到|小于)$")
_CN_NUMBER = re.compile(r"百分之[零〇一二两三四五六七八九十百\d.]+|[\d.零〇一二两三四五六七八九十百千万]+")
_LONGEST_SPAN = 5  # words: "one hundred and twenty five"
_UNIT_NUMBER = re.compile(r"\$?\d+(?:[.,]\d+)*(?:k|d|w|wk|wks|mo|mos|y|yr|yrs|st|nd|rd|th)")


def _without_ids(text: str) -> str:
    """``text`` with id-like words blanked: letters and digits mixed ('tom_green_8734', 'w1234')
    other than a number with a unit ('2.5k', '30d')."""
    def blank(match: re.Match) -> str:
        word = match[0].strip(".,;:!?")
        if re.search(r"\d", word) and re.search(r"[a-z_@]", word) and not _UNIT_NUMBER.fullmatch(word):
            return " " * len(match[0])
        return match[0]
    return re.sub(r"\S+", blank, text)


def quantities_in(text: str) -> set[float]:
    """Every quantity ``text`` states, read as the tools read arguments: digits, words, money,
    durations in days ("a fortnight" 14, "next quarter" 90, "两周" 14), percentages also as a
    fraction ("seventy percent" 70 and 0.7), and a count after "more than n" / "fewer than n"
    also as n+1 / n-1 ("more than 2 orders" is at least 3). The longest reading of a phrase wins
    ("three hundred quid" is 300, not also 3). Numbers that label an id ("customer 16029",
    "#W1234567", "tom_green_8734") are not quantities."""
    text = _without_ids(text.lower())
    found: set[float] = set()

    def add(value: float, before: str, percent: bool) -> None:
        found.add(value)
        if percent:
            found.add(round(value / 100, 6))
        if value == int(value) and _MORE.search(before):
            found.add(value + 1)
        elif value == int(value) and _LESS.search(before):
            found.add(value - 1)

    words = list(_WORD.finditer(text))
    i = 0
    while i < len(words):
        word = words[i]
        label = words[i - 1][0] if i else ""
        if text[:word.start()].rstrip().endswith("#") or label in _ID_CONTEXT:
            i += 1
            continue
        for j in range(min(i + _LONGEST_SPAN, len(words)), i, -1):
            values = _readings(text[word.start():words[j - 1].end()])
            if values:
                rest = text[words[j - 1].end():].lstrip()
                percent = rest.startswith(("%", "percent", "per cent"))
                for value in values:
                    add(value, text[:word.start()], percent)
                i = j
                break
        else:
            i += 1
    for match in _CN_NUMBER.finditer(text):
        if not CJK.search(match[0]):
            continue
        percent = match[0].startswith("百分之") or text[match.end():].startswith("%")
        try:
            add(parse_number(match[0].removeprefix("百分之")), text[:match.start()], percent)
        except ValueError:
            continue
    for match in _CN_DURATION.finditer(text):
        try:
            add(float(parse_days(match[0])), text[:match.start()], False)
        except ValueError:
            continue
    return found


def _readings(span: str) -> set[float]:
    """The values a phrase reads as: a number of days and/or an amount; empty if neither."""
    values = set()
    for read in (parse_days, lambda s: parse_number(s, currency=True)):
        try:
            values.add(float(read(span)))
        except ValueError:
            continue
    return values
