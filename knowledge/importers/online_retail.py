"""Online Retail (UCI 352): invoice lines of a UK gift shop -> orders, items, purchase events.

Cleaning rules. A raw line that is dropped is counted once, under the first rule that applies
(in this order); the counts land in ``ImportReport.dropped``:
1. no CustomerID (guest checkout): dropped, the shop cannot tie it to a user;
2. a non-product stock code (postage, carriage, fees, manual adjustments, discounts, samples,
   bad debt, gift vouchers; see NON_PRODUCT_CODES): dropped, not merchandise;
3. a unit price of zero or less: dropped (free samples, write-offs, data errors);
4. a quantity of zero or less on an invoice that is not a cancellation: dropped (stock
   adjustments). Cancellation invoices ("C...") keep their lines as a ``cancelled`` order whose
   items carry the cancelled units as a positive quantity; they produce no purchase event.
Changed but kept: lower-case stock codes ("85123a") are upper-cased, the source uses both for
the same product. Timestamps are kept as given (local UK time, no time zone).
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pandas as pd

from knowledge.importers.base import (
    ImportReport,
    most_common,
    numbers,
    read_csv,
    replace_table,
    timestamps,
)
from knowledge.settings import Settings

FILE = "online_retail.csv.gz"
COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Country"]
NON_PRODUCT_CODES = {"POST", "DOT", "C2", "M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"}
GIFT_VOUCHER_PREFIX = "GIFT_"  # gift_0001_10 ... gift_0001_50

# Coarse category by keyword in the description: a heuristic, the first category with a
# matching word (plural S / ES allowed) wins.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "christmas": ("CHRISTMAS", "XMAS", "ADVENT", "SANTA", "REINDEER", "SNOWFLAKE", "NATIVITY"),
    "party": ("PARTY", "BUNTING", "BALLOON", "CONFETTI", "BIRTHDAY", "CAKE CASES", "NAPKINS"),
    "bags": ("BAG", "HANDBAG", "WASHBAG", "SHOPPER", "PURSE", "TOTE", "RUCKSACK", "BACKPACK",
             "LUGGAGE"),
    "jewellery & accessories": (
        "NECKLACE", "EARRINGS", "BRACELET", "RING", "HAIR", "CLIP", "BROOCH", "GLOVES", "SCARF",
        "KEYRING", "CHARM", "BEAD", "DIAMANTE", "SLIPPER", "HAT"),
    "lighting": ("T-LIGHT", "TLIGHT", "LIGHT", "LANTERN", "CANDLE", "LAMP", "LED"),
    "kitchen & dining": (
        "MUG", "CUP", "PLATE", "BOWL", "TEA", "COFFEE", "CAKE", "BAKING", "JAR", "LUNCH",
        "CUTLERY", "SPOON", "TRAY", "COASTER", "APRON", "JUG", "BOTTLE", "GLASS", "PLACEMAT",
        "RECIPE", "KITCHEN", "EGG", "NAPKIN", "TUMBLER", "STRAW", "BEAKER"),
    "stationery & paper": (
        "CARD", "WRAP", "PAPER", "NOTEBOOK", "PENCIL", "PEN", "STICKER", "ENVELOPE", "CALENDAR",
        "JOURNAL", "TAPE", "CHALK", "NOTE", "BOOK", "ERASER", "RUBBER", "STAMP", "TISSUE", "RIBBON",
        "REEL", "GIFT TAG"),
    "toys & games": (
        "TOY", "GAME", "DOLL", "JIGSAW", "PUZZLE", "SPACEBOY", "SOLDIER", "SKITTLES", "DOMINOES",
        "PLAYHOUSE", "TEDDY", "CRAYON", "COLOURING", "KIT"),
    "garden & outdoor": (
        "GARDEN", "PLANT", "WATERING", "BIRD", "FLOWER POT", "HERB", "PARASOL", "UMBRELLA",
        "PICNIC", "SEED"),
    "bath & textiles": (
        "TOWEL", "HOT WATER", "BATH", "SOAP", "BLANKET", "CUSHION", "THROW", "QUILT", "FLANNEL",
        "CURTAIN", "EMBROIDERED"),
    "storage": ("BOX", "TIN", "BASKET", "STORAGE", "DRAWER", "CASE", "CRATE", "HOOK", "RACK",
                "SHELF", "CABINET", "BIN", "HANGER"),
    "home decor": (
        "FRAME", "CLOCK", "SIGN", "HEART", "HANGING", "DOORSTOP", "MIRROR", "VASE", "DECORATION",
        "ORNAMENT", "WREATH", "HOLDER", "GARLAND", "DOORMAT", "WALL", "PLAQUE", "CHIME", "FLOWER",
        "MAGNET", "INCENSE", "TILE", "DOOR", "PHOTO", "BOARD", "LETTERS", "NUMBER"),
}
_CATEGORY_PATTERNS = [
    (name, re.compile(rf"\b(?:{'|'.join(map(re.escape, words))})(?:S|ES)?\b"))
    for name, words in CATEGORY_KEYWORDS.items()
]


def category_of(description: str) -> str:
    """A coarse category from keywords in the description (a heuristic, not the shop's own)."""
    text = description.upper()
    return next((name for name, pattern in _CATEGORY_PATTERNS if pattern.search(text)), "other")


def _read_lines(path: Path) -> pd.DataFrame:
    text = ["InvoiceNo", "StockCode", "Description", "InvoiceDate", "CustomerID", "Country"]
    raw = read_csv(path, COLUMNS, dtype=dict.fromkeys(text, str), keep_default_na=False,
                   na_values=[""])
    return pd.DataFrame({
        "invoice": raw["InvoiceNo"].str.strip(),
        "code": raw["StockCode"].str.strip(),
        "description": raw["Description"].str.strip(),
        "quantity": numbers(path, raw, "Quantity", integer=True),
        "ts": timestamps(path, raw, "InvoiceDate", "%Y-%m-%d %H:%M:%S"),
        "price": numbers(path, raw, "UnitPrice"),
        "customer": raw["CustomerID"].str.strip(),
        "country": raw["Country"].str.strip(),
    })


def _raw_counts(lines: pd.DataFrame) -> dict[str, int]:
    """What SOURCE.md counts, computed from the raw lines."""
    return {
        "lines": len(lines),
        "invoices": lines["invoice"].nunique(),
        "stock_codes": lines["code"].nunique(),
        "customers": lines["customer"].nunique(),
        "countries": lines["country"].nunique(),
        "lines_without_customer": int(lines["customer"].isna().sum()),
        "cancellation_lines": int(lines["invoice"].str.startswith("C").sum()),
        "negative_quantity_lines": int((lines["quantity"] < 0).sum()),
    }


def _drop_reasons(lines: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    code = lines["code"].str.upper()
    cancelled = lines["invoice"].str.startswith("C")
    return [
        ("no CustomerID: guest line (dropped)", lines["customer"].isna()),
        ("non-product stock code: postage, fees, adjustments, vouchers (dropped)",
         code.isin(NON_PRODUCT_CODES) | code.str.startswith(GIFT_VOUCHER_PREFIX)),
        ("unit price zero or negative (dropped)", lines["price"] <= 0),
        ("quantity zero or negative outside a cancellation invoice (dropped)",
         (lines["quantity"] <= 0) & ~cancelled),
    ]


def _products(kept: pd.DataFrame) -> pd.DataFrame:
    described = kept.dropna(subset=["description"])
    products = pd.DataFrame({"title": most_common(described, "code", "description"),
                             "price": kept.groupby("code")["price"].median()})
    products["title"] = products["title"].fillna("stock code " + products.index.to_series())
    products["category"] = products["title"].map(category_of)
    products["description"] = [
        f"{title.capitalize()}. Category: {category}. Typical unit price £{price:.2f} "
        f"(Online Retail stock code {code})."
        for code, title, category, price in zip(
            products.index, products["title"], products["category"], products["price"])
    ]
    return products.rename_axis("product_id").reset_index()


def run(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings) -> ImportReport:
    lines = _read_lines(Path(source_dir) / FILE)
    report = ImportReport(source="online_retail", raw=_raw_counts(lines))
    dropped = pd.Series(False, index=lines.index)
    for reason, mask in _drop_reasons(lines):
        report.dropped[reason] = int((mask & ~dropped).sum())
        dropped |= mask
    kept = lines[~dropped].copy()
    lower = kept["code"] != kept["code"].str.upper()
    report.dropped["lower-case stock code upper-cased (kept)"] = int(lower.sum())
    kept["code"] = kept["code"].str.upper()
    kept["cancelled"] = kept["invoice"].str.startswith("C")
    report.dropped["cancellation invoice line (kept as a cancelled order, no purchase event)"] = (
        int(kept["cancelled"].sum()))
    kept["quantity"] = kept["quantity"].abs()
    kept["line_total"] = kept["quantity"] * kept["price"]

    products = _products(kept)
    kept["category"] = kept["code"].map(products.set_index("product_id")["category"])
    kept["title"] = kept["description"].fillna(kept["code"].map(
        products.set_index("product_id")["title"]))
    customers = lines.dropna(subset=["customer"])
    users = most_common(customers, "customer", "country").rename_axis("user_id").reset_index()
    by_invoice = kept.groupby("invoice", sort=False)
    orders = pd.DataFrame({
        "user_id": by_invoice["customer"].first(),
        "ordered_at": by_invoice["ts"].min(),
        "status": by_invoice["cancelled"].first().map({True: "cancelled", False: "completed"}),
        "country": by_invoice["country"].first(),
        "total": by_invoice["line_total"].sum().round(2),
    }).rename_axis("order_id").reset_index()
    items = kept.assign(line_no=by_invoice.cumcount() + 1)[
        ["invoice", "line_no", "code", "title", "quantity", "price"]
    ].set_axis(["order_id", "line_no", "product_id", "title", "quantity", "unit_price"], axis=1)
    events = kept[~kept["cancelled"]].assign(event_type="purchase")[
        ["customer", "code", "category", "event_type", "ts", "invoice", "quantity", "price"]
    ].set_axis(["user_id", "product_id", "category", "event_type", "ts", "session_id",
                "quantity", "price"], axis=1)

    for table, frame in [("users", users), ("products", products), ("orders", orders),
                         ("order_items", items), ("events", events)]:
        report.rows[table] = replace_table(con, table, frame)
    report.notes.append("categories are a keyword heuristic over the product description")
    return report
