"""Tiny hand-written Online Retail files for the importer tests."""

from __future__ import annotations

import gzip
from pathlib import Path

RETAIL_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
RETAIL_LINES = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom",
    "536365,POST,POSTAGE,1,2010-12-01 08:26:00,18.00,17850,United Kingdom",
    "536366,22633,HAND WARMER UNION JACK,6,2010-12-01 08:28:00,1.85,,United Kingdom",
    "536367,22634,CHILDS BREAKFAST SET,-3,2010-12-01 08:34:00,9.95,17850,United Kingdom",
    "536368,85123a,WHITE HANGING HEART T-LIGHT HOLDER,1,2010-12-01 09:00:00,0.00,17851,France",
    "536369,85123a,WHITE HANGING HEART T-LIGHT HOLDER,2,2010-12-01 09:01:00,2.95,17851,France",
    "C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,2010-12-01 09:41:00,2.55,17850,United Kingdom",
]


def write_gz(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(text)
    return path
