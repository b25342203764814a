"""An order line's quantity counts: the customer-service tools see one item per unit (tau-bench's
shape), show the order's real total, return or exchange any of a line's units, and write a
changed unit back as a line of its own with the order total recomputed."""

from __future__ import annotations

from collections import Counter

import pytest

from knowledge import warehouse
from knowledge.customer_records import _regroup_lines
from knowledge.tau_records import get_order_record
from tests.shops import private_copy
from tools.registry import ToolContext, ToolError, get_tool


def _lines(shop, order_id: str) -> list[tuple]:
    con = warehouse.connect(shop.warehouse)
    try:
        return con.execute("SELECT line_no, product_id, item_id, title, quantity, unit_price, "
                           "options FROM order_items WHERE order_id = ? ORDER BY line_no",
                           [order_id]).fetchall()
    finally:
        con.close()


def _total(shop, order_id: str) -> float:
    con = warehouse.connect(shop.warehouse)
    try:
        return con.execute("SELECT total FROM orders WHERE order_id = ?", [order_id]).fetchone()[0]
    finally:
        con.close()


def _two_unit_order(shop, status: str) -> dict:
    """An order in ``status`` whose first line now has two units (orders.total updated); its
    product has another available variant and its owner a payment method that is no gift card:
    {order_id, user_id, item_id, price, new_item_id, new_price, method}."""
    con = warehouse.connect(shop.warehouse, read_only=False)
    try:
        found = con.execute("""
            SELECT o.order_id, o.user_id, i.item_id, i.unit_price, v.item_id, v.price,
                   min(m.payment_method_id)
            FROM orders o JOIN order_items i ON i.order_id = o.order_id AND i.line_no = (
                    SELECT min(line_no) FROM order_items WHERE order_id = o.order_id)
                JOIN product_variants v ON v.product_id = i.product_id AND v.available
                    AND v.item_id <> i.item_id AND v.price <> i.unit_price
                JOIN payment_methods m ON m.user_id = o.user_id AND m.source <> 'gift_card'
            WHERE o.status = ? GROUP BY ALL ORDER BY o.order_id, v.item_id LIMIT 1""",
                            [status]).fetchone()
        if found is None:
            pytest.skip(f"no {status} order with a swappable first line in this shop")
        order_id = found[0]
        con.execute("UPDATE order_items SET quantity = 2 WHERE order_id = ? AND line_no = "
                    "(SELECT min(line_no) FROM order_items WHERE order_id = ?)",
                    [order_id, order_id])
        con.execute("UPDATE orders SET total = (SELECT round(sum(quantity * unit_price), 2) "
                    "FROM order_items WHERE order_id = ?) WHERE order_id = ?",
                    [order_id, order_id])
    finally:
        con.close()
    keys = ("order_id", "user_id", "item_id", "price", "new_item_id", "new_price", "method")
    return dict(zip(keys, found))


def _customer(shop, user_id: str) -> ToolContext:
    return ToolContext(shop, role="customer", customer_id=user_id)


def _paid_with(shop, order_id: str) -> str:
    """The method the order was paid with (returns may go back to it)."""
    con = warehouse.connect(shop.warehouse, read_only=True)
    try:
        return get_order_record(con, order_id)["payment_history"][0]["payment_method_id"]
    finally:
        con.close()


def _headline_total(result: dict) -> float:
    return float(result["headline"].rsplit("total ", 1)[1].rstrip("."))


def test_order_items_have_one_entry_per_unit_and_the_headline_shows_the_order_total(small_shop,
                                                                                   tmp_path):
    shop = private_copy(small_shop, tmp_path)
    o = _two_unit_order(shop, "delivered")
    order = get_tool("get_order_details").invoke(ToolContext(shop, role="operator"),
                                                 {"order_id": o["order_id"]})
    units = sum(line[4] for line in _lines(shop, o["order_id"]))
    assert len(order["items"]) == units
    assert [i["item_id"] for i in order["items"][:2]] == [o["item_id"]] * 2
    assert order["items"][0] is not order["items"][1]
    assert f" {units} items (" in order["headline"]
    assert _headline_total(order) == pytest.approx(_total(shop, o["order_id"]), abs=0.005)


def test_headline_total_matches_orders_total_for_multi_unit_orders(small_shop):
    con = warehouse.connect(small_shop.warehouse, read_only=True)
    try:
        rows = con.execute("SELECT order_id, total FROM orders WHERE order_id IN (SELECT order_id "
                           "FROM order_items WHERE quantity > 1) ORDER BY order_id LIMIT 50"
                           ).fetchall()
        assert rows, "the synthetic shop has multi-unit lines"
        for order_id, total in rows:
            shown = get_tool("get_order_details").invoke(
                ToolContext(small_shop, role="operator", extras={"con": con}),
                {"order_id": order_id})
            assert _headline_total(shown) == pytest.approx(total, abs=0.005), order_id
    finally:
        con.close()


@pytest.mark.parametrize("units", [1, 2])
def test_customer_returns_one_or_both_units_of_a_two_unit_line(small_shop, tmp_path, units):
    shop = private_copy(small_shop, tmp_path)
    o = _two_unit_order(shop, "delivered")
    lines, total = _lines(shop, o["order_id"]), _total(shop, o["order_id"])
    order = get_tool("return_delivered_order_items").invoke(_customer(shop, o["user_id"]), {
        "order_id": o["order_id"], "item_ids": [o["item_id"]] * units,
        "payment_method_id": _paid_with(shop, o["order_id"])})
    assert order["status"] == "return requested"
    assert order["return_items"] == [o["item_id"]] * units
    # a return is a request: the lines and the total stay as they were
    assert _lines(shop, o["order_id"]) == lines
    assert _total(shop, o["order_id"]) == total


def test_customer_cannot_return_more_units_than_the_line_has(small_shop, tmp_path):
    shop = private_copy(small_shop, tmp_path)
    o = _two_unit_order(shop, "delivered")
    with pytest.raises(ToolError, match=f"item {o['item_id']} not found"):
        get_tool("return_delivered_order_items").invoke(_customer(shop, o["user_id"]), {
            "order_id": o["order_id"], "item_ids": [o["item_id"]] * 3,
            "payment_method_id": _paid_with(shop, o["order_id"])})


def test_exchange_of_both_units_prices_each_unit(small_shop, tmp_path):
    shop = private_copy(small_shop, tmp_path)
    o = _two_unit_order(shop, "delivered")
    order = get_tool("exchange_delivered_order_items").invoke(_customer(shop, o["user_id"]), {
        "order_id": o["order_id"], "item_ids": [o["item_id"]] * 2,
        "new_item_ids": [o["new_item_id"]] * 2, "payment_method_id": o["method"]})
    assert order["exchange_price_difference"] == pytest.approx(
        2 * (o["new_price"] - o["price"]), abs=0.005)


def test_modifying_one_unit_of_a_two_unit_line_splits_the_line(small_shop, tmp_path):
    shop = private_copy(small_shop, tmp_path)
    o = _two_unit_order(shop, "pending")
    lines, total = _lines(shop, o["order_id"]), _total(shop, o["order_id"])
    order = get_tool("modify_pending_order_items").invoke(_customer(shop, o["user_id"]), {
        "order_id": o["order_id"], "item_ids": [o["item_id"]],
        "new_item_ids": [o["new_item_id"]], "payment_method_id": o["method"]})
    after = _lines(shop, o["order_id"])
    first, *rest = lines
    # the changed unit (the first, as tau-bench changes the first match) becomes a line of its
    # own before the unchanged one; later lines move only as far as they must, and every
    # column but the variant's stays as it was
    assert after[0][:2] == first[:2] and after[0][2] == o["new_item_id"]
    assert after[0][3:6] == (first[3], 1, o["new_price"])
    assert after[1] == (first[0] + 1,) + first[1:4] + (1,) + first[5:]
    assert [line[1:] for line in after[2:]] == [line[1:] for line in rest]
    assert all(a[0] > b[0] for a, b in zip(after[1:], after))
    new_total = _total(shop, o["order_id"])
    assert new_total == pytest.approx(total - o["price"] + o["new_price"], abs=0.005)
    assert new_total == round(sum(line[4] * line[5] for line in after), 2)
    assert _headline_total(order) == pytest.approx(new_total, abs=0.005)
    assert order["payment_history"][-1]["amount"] == pytest.approx(
        abs(o["new_price"] - o["price"]), abs=0.005)
    con = warehouse.connect(shop.warehouse, read_only=True)
    try:
        assert get_order_record(con, o["order_id"])["items"] == order["items"]
    finally:
        con.close()


def test_modifying_both_units_keeps_one_line(small_shop, tmp_path):
    shop = private_copy(small_shop, tmp_path)
    o = _two_unit_order(shop, "pending")
    lines, total = _lines(shop, o["order_id"]), _total(shop, o["order_id"])
    get_tool("modify_pending_order_items").invoke(_customer(shop, o["user_id"]), {
        "order_id": o["order_id"], "item_ids": [o["item_id"]] * 2,
        "new_item_ids": [o["new_item_id"]] * 2, "payment_method_id": o["method"]})
    after = _lines(shop, o["order_id"])
    assert [line[:2] for line in after] == [line[:2] for line in lines]
    assert after[0][2] == o["new_item_id"] and after[0][4:6] == (2, o["new_price"])
    assert after[1:] == lines[1:]
    assert _total(shop, o["order_id"]) == pytest.approx(
        total + 2 * (o["new_price"] - o["price"]), abs=0.005)


def _line(no: int, item: str, quantity: int | None, price: float = 10.0) -> dict:
    return {"order_id": "#W1", "line_no": no, "product_id": "p", "item_id": item, "title": "T",
            "quantity": quantity, "unit_price": price, "options": '{"color": "red"}'}


def _unit(item: str, price: float = 10.0, color: str = "red") -> dict:
    return {"name": "T", "product_id": "p", "item_id": item, "price": price,
            "options": {"color": color}}


def test_unchanged_units_regroup_into_the_same_lines():
    lines = [_line(1, "a", 2), _line(2, "a", 1), _line(5, "b", None), _line(6, "c", -2)]
    units = [_unit("a"), _unit("a"), _unit("a"), _unit("b"), _unit("c"), _unit("c")]
    assert _regroup_lines(lines, units) == lines


def test_a_split_line_shifts_later_line_numbers_only_as_far_as_it_must():
    lines = [_line(1, "a", 3), _line(2, "b", 1), _line(9, "c", 1)]
    units = [_unit("a"), _unit("x", 12.0, "blue"), _unit("a"), _unit("b"), _unit("c")]
    got = _regroup_lines(lines, units)
    assert [(r["line_no"], r["item_id"], r["quantity"], r["unit_price"]) for r in got] == [
        (1, "a", 1, 10.0), (2, "x", 1, 12.0), (3, "a", 1, 10.0), (4, "b", 1, 10.0),
        (9, "c", 1, 10.0)]
    assert got[1]["options"] == '{"color": "blue"}' and got[1]["title"] == "T"
    with pytest.raises(ValueError, match="4 items for 3 order lines of 5 units"):
        _regroup_lines(lines, units[:-1])


def test_tau_bench_duplicate_items_stay_separate_lines():
    """tau-bench orders are imported one line per unit: a unit never joins another line."""
    lines = [_line(1, "a", 1), _line(2, "a", 1)]
    assert _regroup_lines(lines, [_unit("a"), _unit("a")]) == lines
    got = _regroup_lines(lines, [_unit("a"), _unit("x")])
    assert [(r["line_no"], r["item_id"], r["quantity"]) for r in got] == [
        (1, "a", 1), (2, "x", 1)]
    assert Counter(r["item_id"] for r in got) == Counter({"a": 1, "x": 1})
