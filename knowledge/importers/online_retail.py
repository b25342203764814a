"""Online Retail (UCI 352): invoice lines of a UK gift shop, imported through the generic
``transactions`` preset (``own_shop``) with the cleaning rules below, as any shop could state
them in a shop.yaml (docs/own_shop.md shows that file).

Cleaning rules (``LineRules``). A raw line that is left out is counted once, under the first
rule that applies, in ``ImportReport.dropped``:
1. no CustomerID (guest checkout): the shop cannot tie it to a user;
2. a non-product stock code (postage, carriage, fees, manual adjustments, discounts, samples,
   bad debt, gift vouchers; NON_PRODUCT_CODES, GIFT_VOUCHER_PREFIX): not merchandise;
3. a unit price of zero or less (free samples, write-offs, data errors).
Changed but kept: lower-case stock codes ("85123a") are upper-cased, the source uses both for
the same product. A cancellation invoice ("C...", every line a negative quantity) becomes a
``cancelled`` order whose items carry the cancelled units as positive quantities; it makes no
purchase event. Timestamps are kept as given (local UK time, no time zone). Categories are a
keyword heuristic over the description (CATEGORY_KEYWORDS).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from knowledge.importers.base import DataFileError, ImportReport, require_file
from knowledge.importers.line_rules import LineRules
from knowledge.importers.own_shop import FileJob, Progress, ShopImport, import_shop
from knowledge.importers.presets import transactions
from knowledge.importers.shop_mapping import Extract, with_rules
from knowledge.settings import Settings

FILE = "online_retail.csv.gz"
COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Country"]
NON_PRODUCT_CODES = ["POST", "DOT", "C2", "M", "D", "S", "B", "BANK CHARGES", "AMAZONFEE", "CRUK"]
GIFT_VOUCHER_PREFIX = "GIFT_"  # gift_0001_10 ... gift_0001_50
RULES = LineRules(skip_guest_lines=True, skip_product_ids=NON_PRODUCT_CODES,
                  skip_product_prefixes=[GIFT_VOUCHER_PREFIX], skip_unpriced_lines=True,
                  upper_case_product_ids=True)

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
def raw_counts(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    """What SOURCE.md counts, computed from the raw file."""
    row = con.execute("""SELECT count(*), count(DISTINCT InvoiceNo), count(DISTINCT StockCode),
            count(DISTINCT CustomerID), count(DISTINCT Country),
            count(*) FILTER (WHERE CustomerID IS NULL),
            count(*) FILTER (WHERE starts_with(InvoiceNo, 'C')),
            count(*) FILTER (WHERE try_cast(Quantity AS BIGINT) < 0)
        FROM read_csv(?, all_varchar = true)""", [str(path)]).fetchone()
    names = ["lines", "invoices", "stock_codes", "customers", "countries",
             "lines_without_customer", "cancellation_lines", "negative_quantity_lines"]
    return dict(zip(names, row))


def extracts(path: Path, header: list[str]) -> list[Extract]:
    """The transactions preset with RULES, once the file has the source's own columns."""
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataFileError(path, f"missing column(s) {', '.join(missing)}; found "
                                  f"{', '.join(header)}")
    return [with_rules(extract, RULES) for extract in transactions(path, header)]


def describe_products(con: duckdb.DuckDBPyConnection) -> None:
    """The catalogue text the product search and the text recommender read: the source has
    only a line description, so say the category and the typical price too."""
    con.execute("""UPDATE products SET description = upper(left(title, 1))
        || lower(substr(title, 2)) || '. Category: ' || category || '. Typical unit price £'
        || printf('%.2f', price) || ' (Online Retail stock code ' || product_id || ').'""")


def run(con: duckdb.DuckDBPyConnection, source_dir: Path, settings: Settings,
        progress: Progress | None = None) -> ImportReport:
    path = Path(source_dir) / FILE
    job = ShopImport(source="online_retail", timezone="UTC", currency="GBP",
                     max_reject_fraction=settings.import_max_reject_fraction,
                     category_keywords=CATEGORY_KEYWORDS,
                     jobs=[FileJob(path, lambda header: extracts(path, header))])
    report = import_shop(con, job, progress)
    describe_products(con)
    report.raw = raw_counts(con, require_file(path))
    report.notes.append("categories are a keyword heuristic over the product description")
    return report
