"""Slots for the customer's change requests (new address, another payment method, another
variant, a return or exchange): values drawn from the signed-in customer's own orders, as the
requests the product gets carry them ("ship #W2093032 to 58 Quarry Hill Road, ...").

A template names the composite slots {address} (every address argument), {item_id} and
{new_item_id} (one-element ``item_ids`` / ``new_item_ids``), {item_name} (the item's product
name, text only) and {payment_method_id}.
"""

from __future__ import annotations

import random
from typing import Any

from finetune.dialog.entities import Entities

# The order status each change needs (tools/customer_service.py refuses any other).
ORDER_STATUS_FOR = {
    "cancel_pending_order": "pending",
    "modify_pending_order_address": "pending",
    "modify_pending_order_payment": "pending",
    "modify_pending_order_items": "pending",
    "return_delivered_order_items": "delivered",
    "exchange_delivered_order_items": "delivered",
}
CHANGE_TOOLS = set(ORDER_STATUS_FOR) | {"modify_user_address"}
ADDRESS_KEYS = ("address1", "address2", "city", "state", "country", "zip")
LIST_SLOTS = {"item_id": "item_ids", "new_item_id": "new_item_ids"}

_STREETS = ["Quarry Hill Road", "Cedar Lane", "Maple Avenue", "Harbor View Drive", "Elm Street",
            "Willow Court", "Sunset Boulevard", "Park Row", "Lakeshore Drive", "Birch Way"]
_CITIES = [("Burlington", "VT"), ("Austin", "TX"), ("Portland", "OR"), ("Denver", "CO"),
           ("Madison", "WI"), ("Tampa", "FL"), ("Boise", "ID"), ("Tulsa", "OK"),
           ("Knoxville", "TN"), ("Fresno", "CA")]


def new_address(rng: random.Random) -> dict[str, str]:
    city, state = rng.choice(_CITIES)
    second = rng.choice(["", "", f"Apt {rng.randrange(1, 40)}{rng.choice('ABC')}",
                         f"Suite {rng.randrange(100, 999)}", f"Unit {rng.randrange(1, 20)}"])
    return {"address1": f"{rng.randrange(1, 2000)} {rng.choice(_STREETS)}", "address2": second,
            "city": city, "state": state, "country": "USA", "zip": f"{rng.randrange(10**4, 10**5)}"}


def address_text(address: dict[str, str], rng: random.Random) -> str:
    lines = [address["address1"], address["address2"], address["city"],
             f"{address['state']} {address['zip']}"]
    if rng.random() < 0.5:
        lines.append(address["country"])
    return ", ".join(line for line in lines if line)


def orders_in(person: dict, ents: Entities, status: str | None) -> list[str]:
    return [o for o in person.get("orders", [])
            if status is None or ents.orders.get(o, {}).get("status") == status]


def can_request(tool: str, person: dict, ents: Entities) -> bool:
    """Whether ``person`` has what the request needs: an order in the status, and for a
    payment switch a second method to switch to."""
    if tool == "modify_pending_order_payment" and len(person.get("payment_methods", {})) < 2:
        return False
    return bool(orders_in(person, ents, ORDER_STATUS_FOR.get(tool)))


def change_slots(rng: random.Random, tool: str, person: dict, ents: Entities) -> dict[str, Any]:
    """Values for a change request by ``person`` (one who ``can_request`` it where there is
    such a customer, see ``DialogData._customer``)."""
    values: dict[str, Any] = {}
    address = new_address(rng)
    values["address"], values["address_fields"] = address_text(address, rng), address
    orders = [o for o in orders_in(person, ents, ORDER_STATUS_FOR.get(tool))
              or person.get("orders", []) if o in ents.orders]
    if not orders:
        return values
    order = ents.orders[rng.choice(orders)]
    item = rng.choice(order["items"])
    others = [v for v in ents.variants.get(item.get("product_id", ""), []) if v != item["item_id"]]
    methods = sorted(person.get("payment_methods", {}))
    paid_with = {p["payment_method_id"] for p in order.get("payment_history", [])}
    # a refund goes back to the method the order was paid with; a switch is to another one
    refund = tool in ("return_delivered_order_items", "exchange_delivered_order_items")
    wanted = [m for m in methods if (m in paid_with) == refund] or sorted(paid_with) or methods
    values.update({
        "order_id": order["order_id"], "item_id": item["item_id"], "item_name": item["name"],
        "new_item_id": rng.choice(others) if others else item["item_id"],
        "payment_method_id": rng.choice(wanted or ["credit_card_0000000"]),
    })
    return values
