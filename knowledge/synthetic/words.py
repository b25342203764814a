"""Word lists the synthetic shop composes its catalogue and customers from.

Plain data. Each category lists product lines (nouns with the materials that suit them,
what they do, the options their variants differ in), adjectives, a price level
(median list price, log-normal spread) and a seasonal profile (12 monthly multipliers of
interest, January first).
"""

from __future__ import annotations

from typing import Any

FLAT = [1.0] * 12
COLORS = ["black", "white", "grey", "navy", "green", "red"]


def line(nouns: str, materials: str, features: list[str], adjectives: str | None = None,
         price: float | None = None, **options: list[str]) -> dict[str, Any]:
    """A product line: nouns and materials (comma-separated), what such products do, and the
    options their variants differ in. `adjectives` and `price` (median) override the category's."""
    return {"nouns": nouns.split(", "), "materials": materials.split(", "), "features": features,
            "adjectives": adjectives.split(", ") if adjectives else None, "price": price,
            "options": options}


CATEGORIES: dict[str, dict[str, Any]] = {
    "home decor": {
        "lines": [
            line("Throw Pillow, Area Rug, Throw Blanket, Curtain Panel", "Linen, Velvet, Wool, Cotton, Jute",
                 ["adds warmth to any living room", "is soft to the touch",
                  "pairs well with neutral interiors"],
                 color=["ivory", "sage", "terracotta", "charcoal", "navy", "mustard"],
                 size=["small", "medium", "large"]),
            line("Table Lamp, Wall Mirror, Picture Frame, Vase, Wall Clock", "Ceramic, Rattan, Oak, Brass, Glass",
                 ["is finished by hand", "brings a calm, natural look to the bedroom",
                  "works on a shelf as well as a side table"],
                 color=["white", "black", "natural", "gold"]),
            line("Scented Candle, Reed Diffuser", "Soy Wax, Beeswax, Cedarwood, Amber",
                 ["fills a room with a gentle scent", "burns cleanly for hours"],
                 scent=["vanilla", "fig", "sea salt", "pine"], size=["small", "large"]),
        ],
        "adjectives": ["Rustic", "Modern", "Boho", "Minimalist", "Vintage", "Scandinavian", "Cozy"],
        "price": (38.0, 0.55),
        "season": [0.9, 0.85, 0.9, 0.95, 0.95, 0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.5],
    },
    "kitchen": {
        "lines": [
            line("Chef's Knife, Paring Knife, Bread Knife", "Stainless Steel, Carbon Steel, Damascus Steel",
                 ["holds a sharp edge for months", "has an ergonomic handle"], price=55.0,
                 length=["6 inch", "8 inch", "10 inch"]),
            line("Frying Pan, Dutch Oven, Saucepan", "Cast Iron, Stainless Steel, Enamel",
                 ["heats evenly on every stove top", "goes from stove to oven"], price=70.0,
                 size=["20 cm", "24 cm", "28 cm"], color=["black", "red", "cream"]),
            line("Cutting Board, Spice Rack, Utensil Set", "Bamboo, Walnut, Acacia",
                 ["is finished with food-safe oil", "is built for years of daily cooking"],
                 price=25.0, size=["small", "medium", "large"]),
            line("Electric Kettle, French Press, Water Bottle", "Stainless Steel, Glass, Copper",
                 ["keeps drinks hot for hours", "is easy to clean"],
                 capacity=["0.5L", "1L", "1.5L"], color=["silver", "black", "green"]),
            line("Mixing Bowl Set, Serving Platter, Pasta Bowl", "Stoneware, Glass, Porcelain",
                 ["is dishwasher safe", "stacks neatly in the cupboard"],
                 color=["white", "cream", "blue", "speckled grey"]),
        ],
        "adjectives": ["Professional", "Compact", "Everyday", "Heavy-Duty", "Classic", "Artisan"],
        "price": (42.0, 0.6),
        "season": [1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.9, 0.95, 1.0, 1.05, 1.25, 1.45],
    },
    "garden": {
        "lines": [
            line("Garden Hose, Hose Reel", "Rubber, Recycled Plastic, Galvanized Steel",
                 ["does not kink", "withstands sun, rain and frost"],
                 length=["15 m", "25 m", "50 m"], color=["green", "black"]),
            line("Pruning Shears, Trowel, Hand Rake", "Carbon Steel, Stainless Steel, Aluminum",
                 ["has a comfortable non-slip grip", "makes spring planting easier"],
                 size=["small", "standard"]),
            line("Planter, Raised Garden Bed, Bird Feeder", "Terracotta, Cedar, Galvanized Steel",
                 ["is made for small balconies and big yards", "withstands sun, rain and frost"],
                 size=["small", "medium", "large"], color=["natural", "grey", "black"]),
            line("Watering Can, Solar Path Light", "Galvanized Steel, Copper, Recycled Plastic",
                 ["is easy to store over winter", "looks good on any patio"],
                 color=["green", "copper", "black"]),
            line("Garden Gloves, Kneeling Pad", "Canvas, Leather, Nitrile",
                 ["protects against thorns", "is washable"], size=["S", "M", "L"]),
        ],
        "adjectives": ["Weatherproof", "Lightweight", "Rust-Resistant", "Compact", "Heavy-Duty",
                       "Classic"],
        "price": (28.0, 0.6),
        "season": [0.4, 0.5, 0.9, 1.6, 1.9, 1.8, 1.5, 1.2, 0.9, 0.6, 0.45, 0.5],
    },
    "toys": {
        "lines": [
            line("Building Blocks Set, Train Set, Stacking Rings, Dollhouse", "Wooden, Recycled Plastic",
                 ["is safety tested for ages 3 and up", "encourages creative play"],
                 pieces=["20 pieces", "50 pieces", "100 pieces"]),
            line("Plush Bear, Plush Bunny, Puppet", "Plush, Organic Cotton, Felt",
                 ["is soft enough to sleep with", "is machine washable"],
                 color=["brown", "cream", "pink", "blue"], size=["small", "large"]),
            line("Jigsaw Puzzle, Board Game, Card Game", "Cardboard, Wooden",
                 ["keeps the whole family busy on rainy days", "makes a great birthday gift"],
                 age=["3+", "6+", "8+", "12+"]),
            line("Toy Car, Kite, Craft Kit", "Wooden, Recycled Plastic, Paper",
                 ["makes a great birthday gift", "encourages outdoor play"],
                 color=["red", "blue", "yellow", "multicolor"]),
        ],
        "adjectives": ["Classic", "Educational", "Colorful", "Deluxe", "Mini", "Adventure"],
        "price": (24.0, 0.6),
        "season": [0.6, 0.6, 0.65, 0.7, 0.7, 0.75, 0.75, 0.8, 0.85, 1.0, 1.8, 3.0],
    },
    "stationery": {
        "lines": [
            line("Notebook, Weekly Planner, Sketchbook, Letter Paper Set",
                 "Recycled Paper, Kraft, Linen-Bound, Leather-Bound",
                 ["has thick pages that stop ink bleeding through", "lies flat when open"],
                 size=["A6", "A5", "A4"], ruling=["dotted", "lined", "blank"]),
            line("Fountain Pen, Gel Pen Set, Mechanical Pencil", "Brass, Aluminum, Resin",
                 ["writes smoothly without skipping", "is refillable"],
                 color=["black", "navy", "burgundy", "green"]),
            line("Desk Organizer, Pencil Case, Washi Tape Set", "Cork, Felt, Walnut, Canvas",
                 ["keeps a desk tidy", "fits in any bag"], color=["natural", "grey", "blush"]),
        ],
        "adjectives": ["Pocket", "Premium", "Minimalist", "Artist", "Everyday", "Classic"],
        "price": (13.0, 0.5),
        "season": [1.5, 1.0, 0.9, 0.85, 0.85, 0.8, 0.9, 1.4, 1.5, 1.0, 1.0, 1.2],
    },
    "apparel": {
        "lines": [
            line("T-Shirt, Hoodie, Sweatshirt, Crew Socks", "Organic Cotton, Fleece, Bamboo",
                 ["keeps its shape wash after wash", "is soft against the skin"],
                 size=["XS", "S", "M", "L", "XL", "XXL"], color=COLORS),
            line("Sweater, Beanie, Cardigan", "Merino Wool, Cashmere, Cotton Knit",
                 ["keeps you warm without bulk", "layers easily through the seasons"],
                 size=["XS", "S", "M", "L", "XL"], color=["oatmeal", "charcoal", "navy", "forest"]),
            line("Denim Jacket, Chino Pants, Flannel Shirt", "Denim, Cotton Twill, Flannel",
                 ["is cut for a relaxed, easy fit", "gets softer with every wash"],
                 size=["S", "M", "L", "XL"], color=["indigo", "khaki", "black", "olive"]),
            line("Rain Jacket, Running Shorts", "Recycled Polyester, Nylon",
                 ["dries in minutes", "packs into its own pocket"],
                 size=["S", "M", "L", "XL"], color=["black", "yellow", "navy"]),
        ],
        "adjectives": ["Relaxed-Fit", "Slim-Fit", "Everyday", "Oversized", "Classic", "Lightweight"],
        "price": (44.0, 0.5),
        "season": [0.9, 0.85, 0.95, 1.0, 1.0, 0.95, 0.9, 0.95, 1.05, 1.15, 1.35, 1.4],
    },
    "electronics accessories": {
        "lines": [
            line("Phone Case, Laptop Sleeve, Smartwatch Band", "Silicone, Vegan Leather, Neoprene",
                 ["survives drops from waist height", "fits snugly without adding bulk"],
                 adjectives="Slim, Rugged, Minimalist, Clear", price=19.0, color=["black", "white", "sand", "blue"]),
            line("USB-C Cable, Lightning Cable, Car Charger, USB-C Hub", "Braided Nylon, TPE, Aluminum",
                 ["charges twice as fast as a standard cable", "survives thousands of bends"],
                 adjectives="Fast-Charging, Durable, Coiled, Right-Angle, Extra-Long", price=12.0, length=["1 m", "2 m", "3 m"], color=["black", "white"]),
            line("Wireless Charger, Power Bank, Bluetooth Speaker, Wireless Earbuds",
                 "Aluminum, Polycarbonate, Fabric-Covered",
                 ["works with most current phones", "fits in a jacket pocket"],
                 adjectives="Portable, Waterproof, Compact, Magnetic", price=45.0, color=["black", "white", "graphite"]),
        ],
        "adjectives": ["Slim", "Portable", "Compact"],
        "price": (29.0, 0.5),
        "season": [0.9, 0.85, 0.9, 0.9, 0.9, 0.9, 0.95, 1.1, 1.1, 1.0, 1.5, 1.7],
    },
    "beauty": {
        "lines": [
            line("Face Serum, Night Cream, Sheet Face Mask", "Vitamin C, Hyaluronic, Retinol, Aloe Vera",
                 ["suits sensitive skin", "absorbs quickly without a greasy feel"],
                 size=["15ml", "30ml", "50ml"]),
            line("Lip Balm, Hand Cream, Body Lotion", "Shea Butter, Cocoa Butter, Argan Oil",
                 ["keeps skin soft all day", "is free of parabens"],
                 size=["30ml", "100ml", "250ml"], scent=["unscented", "citrus", "rose", "mint"]),
            line("Shampoo, Conditioner, Bath Salts", "Argan Oil, Lavender, Rosemary, Sea Salt",
                 ["is cruelty free and vegan", "is gentle enough for daily use"],
                 size=["250ml", "500ml", "1L"]),
            line("Makeup Brush Set", "Vegan Bristle, Bamboo-Handled",
                 ["blends powder and cream alike", "comes with a travel pouch"],
                 pieces=["5 brushes", "10 brushes"]),
        ],
        "adjectives": ["Hydrating", "Soothing", "Gentle", "Brightening", "Nourishing", "Organic"],
        "price": (17.0, 0.55),
        "season": [1.0, 1.1, 1.0, 0.95, 1.0, 0.95, 0.9, 0.9, 0.95, 1.0, 1.3, 1.5],
    },
    "sports & outdoors": {
        "lines": [
            line("Yoga Mat, Foam Roller, Resistance Bands", "Natural Rubber, Cork, TPE",
                 ["has a non-slip grip", "is built for everyday training"], price=28.0,
                 thickness=["4 mm", "6 mm", "8 mm"], color=["black", "teal", "purple"]),
            line("Dumbbell Set, Kettlebell, Jump Rope", "Cast Iron, Neoprene-Coated, Steel",
                 ["is built for everyday training", "stores neatly in a small flat"],
                 adjectives="Adjustable, Pro, Compact, Home-Gym",
                 weight=["5 kg", "10 kg", "20 kg"]),
            line("Hiking Backpack, Tent, Sleeping Bag", "Ripstop Nylon, Recycled Polyester",
                 ["packs down small for travel", "stands up to rough trails"], price=80.0,
                 size=["S", "M", "L"], color=["black", "orange", "olive"]),
            line("Camping Lantern, Trekking Poles", "Aluminum, Carbon Fiber",
                 ["weighs almost nothing in a pack", "stands up to rough trails"],
                 color=["black", "orange", "grey"]),
        ],
        "adjectives": ["Ultralight", "Non-Slip", "Adjustable", "Trail-Ready", "Foldable", "Pro"],
        "price": (39.0, 0.65),
        "season": [1.6, 1.2, 1.05, 1.05, 1.1, 1.1, 1.05, 0.95, 0.9, 0.85, 0.9, 1.0],
    },
    "pet supplies": {
        "lines": [
            line("Dog Bed, Cat Bed, Pet Blanket", "Memory Foam, Sherpa, Cotton",
                 ["is machine washable", "gives older pets a comfortable rest"],
                 size=["S", "M", "L"], color=["grey", "brown", "blue"]),
            line("Dog Leash, Dog Collar, Harness", "Nylon, Leather, Rope",
                 ["has a reflective stitch for night walks", "is easy to adjust"],
                 size=["S", "M", "L"], color=["black", "red", "navy"]),
            line("Pet Bowl, Water Fountain", "Stainless Steel, Ceramic, Bamboo",
                 ["is dishwasher safe", "does not slide on the floor"], size=["small", "large"]),
            line("Chew Toy, Cat Toy Set, Cat Scratcher", "Natural Rubber, Sisal, Felt",
                 ["stands up to daily play", "keeps indoor pets busy"],
                 color=["red", "blue", "natural"]),
        ],
        "adjectives": ["Calming", "Durable", "Washable", "Cozy", "Interactive", "Travel"],
        "price": (23.0, 0.6),
        "season": FLAT,
    },
}

FIRST_NAMES = [
    "Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Ethan", "Isabella",
    "Mason", "Amelia", "Yusuf", "Harper", "Omar", "Evelyn", "Mei", "Aarav", "Chloe", "Daniel",
    "Fatima", "Lei", "Sofia", "Mohamed", "Anya", "Ivan", "Yara", "Raj", "Lena", "Juan", "Aisha",
    "Mateo", "Ingrid", "Kenji", "Nadia", "Priya", "Ben", "Grace", "Hugo", "Zoe", "Ahmed", "Elena",
    "Sam", "Julia", "Leo", "Maya", "Arjun", "Clara", "Diego", "Sara", "Tom", "Nora", "Kai",
]
LAST_NAMES = [
    "Wilson", "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Martinez", "Lee",
    "Khan", "Nguyen", "Patel", "Kim", "Anderson", "Thomas", "Moore", "Jackson", "Martin", "Li",
    "Taylor", "Hernandez", "Ito", "Sanchez", "Clark", "Lewis", "Walker", "Young", "Allen", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Rossi", "Muller", "Silva", "Sato",
    "Kovacs", "Novak", "Dubois", "Schmidt", "Ahmed", "Cohen", "Murphy", "Rivera", "Wang", "Chen",
]
STREETS = [
    "Main Street", "Oak Avenue", "Maple Drive", "Cedar Street", "Sunset Drive", "River Road",
    "Elm Street", "Park Avenue", "Hillcrest Drive", "Lakeview Road", "Chestnut Street",
    "Pine Lane", "Willow Way", "Highland Avenue", "Broadway", "Spruce Street",
]

# country -> (share of customers, [(city, state, zip prefix)], zip pattern). In the zip
# pattern "#" is a random digit appended to the prefix.
COUNTRIES: dict[str, tuple[float, list[tuple[str, str, str]], str]] = {
    "USA": (0.82, [
        ("New York", "NY", "100"), ("Los Angeles", "CA", "900"), ("Chicago", "IL", "606"),
        ("Houston", "TX", "770"), ("Phoenix", "AZ", "850"), ("Philadelphia", "PA", "191"),
        ("San Antonio", "TX", "782"), ("San Diego", "CA", "921"), ("Dallas", "TX", "752"),
        ("Austin", "TX", "787"), ("Seattle", "WA", "981"), ("Denver", "CO", "802"),
        ("Boston", "MA", "021"), ("Portland", "OR", "972"), ("Atlanta", "GA", "303"),
        ("Miami", "FL", "331"), ("Minneapolis", "MN", "554"), ("Charlotte", "NC", "282"),
    ], "##"),
    "Canada": (0.07, [("Toronto", "ON", "M5V"), ("Vancouver", "BC", "V6B"),
                      ("Montreal", "QC", "H2X")], " #A#"),
    "United Kingdom": (0.06, [("London", "England", "SW1"), ("Manchester", "England", "M1"),
                              ("Edinburgh", "Scotland", "EH1")], " #AB"),
    "Germany": (0.05, [("Berlin", "BE", "101"), ("Munich", "BY", "803"),
                       ("Hamburg", "HH", "203")], "##"),
}

CARD_BRANDS = ["visa", "mastercard", "amex", "discover"]
CANCEL_REASONS = ["no longer needed", "ordered by mistake"]
