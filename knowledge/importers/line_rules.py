"""Order lines a shop leaves out on purpose, and how its product ids are spelled.

A shop's export holds lines that are not merchandise bought by a known customer: guest
checkouts, postage and fees, free samples. ``LineRules`` names them; the importer leaves such a
line out *before* its checks (so a fee line with a negative price is skipped, not rejected) and
counts it under its reason in ``ImportReport.dropped``. Nothing is left out unless a rule says
so. A customer named only by skipped lines is still a customer: it is added to the users.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from knowledge.importers.sql_text import literal, quote_ident

GUEST = "no customer id: guest line (dropped)"
NOT_MERCHANDISE = "product id listed as not merchandise: postage, fees, vouchers (dropped)"
UNPRICED = "unit price zero or negative (dropped)"


class LineRules(BaseModel):
    """Which order lines to skip (each counted by reason), and product-id spelling."""

    model_config = ConfigDict(extra="forbid")

    skip_guest_lines: bool = Field(
        False, description="Skip lines with no customer id (default: kept as guest orders, "
        "which belong to no customer and make no events).")
    skip_product_ids: list[str] = Field(
        default_factory=list, description="Skip lines whose product id is one of these "
        "(compared case-insensitively): postage, fees, adjustments.")
    skip_product_prefixes: list[str] = Field(
        default_factory=list, description="Skip lines whose product id starts with one of these "
        "(case-insensitive), e.g. gift_ for gift vouchers.")
    skip_unpriced_lines: bool = Field(
        False, description="Skip lines whose unit price is zero or negative (free samples, "
        "write-offs); default: zero is kept, negative is rejected.")
    upper_case_product_ids: bool = Field(
        False, description="Upper-case product ids, for exports that spell one product both "
        "ways (85123a and 85123A).")

    def skips(self, columns: set[str]) -> list[tuple[str, str]]:
        """(reason, SQL condition over the typed columns) per rule that is on, first match wins."""
        product = f"upper({quote_ident('product_id')})"
        out = []
        if self.skip_guest_lines:
            if "customer_id" not in columns:
                raise ValueError("skip_guest_lines needs a customer_id column")
            out.append((GUEST, f"{quote_ident('customer_id')} IS NULL"))
        codes = [literal(c.upper()) for c in self.skip_product_ids]
        tests = [f"{product} IN ({', '.join(codes)})"] if codes else []
        tests += [f"starts_with({product}, {literal(p.upper())})"
                  for p in self.skip_product_prefixes]
        if tests:
            out.append((NOT_MERCHANDISE, " OR ".join(tests)))
        if self.skip_unpriced_lines:
            out.append((UNPRICED, f"{quote_ident('unit_price')} <= 0"))
        return out

    def product_id(self, expr: str) -> str:
        """The product-id expression, spelled as the rules say."""
        return f"upper({expr})" if self.upper_case_product_ids else expr
