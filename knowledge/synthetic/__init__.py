"""The synthetic shop: shopmind's embedded default data, generated from settings.

One module per concern: `timeline` (calendar, seasonality), `catalogue` (products, variants,
popularity), `customers` (people, addresses, payment methods), `behaviour` (hidden traits,
sessions, the funnel), `campaign` (a randomised test with a known effect per customer),
`orders` (tau-bench shaped orders, payments, shipments), `events` (the events table) and
`shop` (the order in which they are drawn); `drift` (optional, off by default: a category
that takes off on a known day, for bench/drift_simulation.py). See docs/synthetic_shop.md.
"""
