"""Word lists the synthetic shop composes its catalogue and customers from.

Plain data, no logic. Each category lists the nouns it sells, the materials and adjectives
that fit them, the variant options a product of that category comes in, a price level
(median list price, log-normal spread) and a seasonal profile (12 monthly multipliers of
interest, January first).
"""

from __future__ import annotations

from typing import Any

FLAT = [1.0] * 12

CATEGORIES: dict[str, dict[str, Any]] = {
    "home decor": {
        "nouns": ["Throw Pillow", "Table Lamp", "Wall Mirror", "Picture Frame", "Scented Candle",
                  "Vase", "Area Rug", "Wall Clock", "Throw Blanket", "Curtain Panel"],
        "materials": ["Linen", "Velvet", "Ceramic", "Rattan", "Oak", "Brass", "Wool", "Glass"],
        "adjectives": ["Rustic", "Modern", "Boho", "Minimalist", "Vintage", "Scandinavian",
                       "Cozy", "Handwoven"],
        "features": ["adds warmth to any living room", "pairs well with neutral interiors",
                     "is finished by hand", "brings a calm, natural look to the bedroom"],
        "options": {"color": ["ivory", "sage", "terracotta", "charcoal", "navy", "mustard"]},
        "price": (38.0, 0.55),
        "season": [0.9, 0.85, 0.9, 0.95, 0.95, 0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.5],
    },
    "kitchen": {
        "nouns": ["Chef's Knife", "Frying Pan", "Cutting Board", "Coffee Grinder", "Electric Kettle",
                  "Mixing Bowl Set", "French Press", "Dutch Oven", "Water Bottle", "Spice Rack"],
        "materials": ["Stainless Steel", "Cast Iron", "Bamboo", "Walnut", "Enamel", "Glass",
                      "Carbon Steel", "Stoneware"],
        "adjectives": ["Professional", "Compact", "Everyday", "Nonstick", "Heavy-Duty", "Classic",
                       "Ergonomic", "Insulated"],
        "features": ["is dishwasher safe", "heats evenly on every stove top",
                     "has an ergonomic handle", "is built to last for years of daily cooking"],
        "options": {"color": ["black", "silver", "red", "cream", "green"],
                    "capacity": ["0.5L", "1L", "1.5L"]},
        "price": (42.0, 0.6),
        "season": [1.0, 0.9, 0.9, 0.9, 0.95, 0.9, 0.9, 0.95, 1.0, 1.05, 1.25, 1.45],
    },
    "garden": {
        "nouns": ["Garden Hose", "Pruning Shears", "Planter", "Watering Can", "Bird Feeder",
                  "Garden Gloves", "Solar Path Light", "Raised Garden Bed", "Hose Reel", "Trowel"],
        "materials": ["Galvanized Steel", "Terracotta", "Cedar", "Rubber", "Recycled Plastic",
                      "Aluminum", "Canvas"],
        "adjectives": ["Weatherproof", "Lightweight", "Expandable", "Rust-Resistant", "Compact",
                       "Heavy-Duty", "Classic"],
        "features": ["withstands sun, rain and frost", "is easy to store over winter",
                     "makes spring planting easier", "is made for small balconies and big yards"],
        "options": {"color": ["green", "black", "terracotta", "grey"],
                    "size": ["small", "medium", "large"]},
        "price": (28.0, 0.6),
        "season": [0.4, 0.5, 0.9, 1.6, 1.9, 1.8, 1.5, 1.2, 0.9, 0.6, 0.45, 0.5],
    },
    "toys": {
        "nouns": ["Building Blocks Set", "Plush Bear", "Jigsaw Puzzle", "Toy Car", "Board Game",
                  "Kite", "Dollhouse", "Wooden Train Set", "Craft Kit", "Stacking Rings"],
        "materials": ["Wooden", "Plush", "Cardboard", "Recycled Plastic", "Cotton", "Felt"],
        "adjectives": ["Classic", "Educational", "Colorful", "Deluxe", "Mini", "Adventure",
                       "Rainbow"],
        "features": ["is safety tested for ages 3 and up", "encourages creative play",
                     "makes a great birthday gift", "keeps the whole family busy on rainy days"],
        "options": {"color": ["red", "blue", "yellow", "multicolor"],
                    "age": ["3+", "6+", "8+"]},
        "price": (24.0, 0.6),
        "season": [0.6, 0.6, 0.65, 0.7, 0.7, 0.75, 0.75, 0.8, 0.85, 1.0, 1.8, 3.0],
    },
    "stationery": {
        "nouns": ["Notebook", "Fountain Pen", "Desk Organizer", "Weekly Planner", "Sketchbook",
                  "Gel Pen Set", "Washi Tape Set", "Letter Paper Set", "Pencil Case"],
        "materials": ["Leather", "Recycled Paper", "Kraft", "Brass", "Linen", "Cork"],
        "adjectives": ["Dotted", "Pocket", "Premium", "Refillable", "Minimalist", "Artist"],
        "features": ["has thick pages that stop ink bleeding through", "lies flat when open",
                     "fits in any bag", "is ideal for journaling and planning"],
        "options": {"color": ["black", "navy", "blush", "olive"], "size": ["A6", "A5", "A4"]},
        "price": (13.0, 0.5),
        "season": [1.5, 1.0, 0.9, 0.85, 0.85, 0.8, 0.9, 1.4, 1.5, 1.0, 1.0, 1.2],
    },
    "apparel": {
        "nouns": ["T-Shirt", "Hoodie", "Denim Jacket", "Running Shorts", "Sweater", "Rain Jacket",
                  "Crew Socks", "Beanie", "Flannel Shirt", "Chino Pants"],
        "materials": ["Organic Cotton", "Merino Wool", "Fleece", "Denim", "Linen", "Recycled Polyester"],
        "adjectives": ["Relaxed-Fit", "Slim-Fit", "Everyday", "Oversized", "Classic", "Lightweight",
                       "Cozy"],
        "features": ["keeps its shape wash after wash", "is soft against the skin",
                     "layers easily through the seasons", "is cut for a relaxed, easy fit"],
        "options": {"size": ["XS", "S", "M", "L", "XL", "XXL"],
                    "color": ["black", "white", "heather grey", "navy", "olive", "burgundy"]},
        "price": (44.0, 0.5),
        "season": [0.9, 0.85, 0.95, 1.0, 1.0, 0.95, 0.9, 0.95, 1.05, 1.15, 1.35, 1.4],
    },
    "electronics accessories": {
        "nouns": ["Phone Case", "USB-C Cable", "Wireless Charger", "Bluetooth Speaker", "Power Bank",
                  "Wireless Earbuds", "Laptop Sleeve", "Smartwatch Band", "Webcam Cover"],
        "materials": ["Silicone", "Braided Nylon", "Aluminum", "Vegan Leather", "Polycarbonate",
                      "Neoprene"],
        "adjectives": ["Slim", "Fast-Charging", "Rugged", "Portable", "Magnetic", "Waterproof"],
        "features": ["works with most current phones", "charges twice as fast as a standard cable",
                     "survives drops from waist height", "fits in a jacket pocket"],
        "options": {"color": ["black", "white", "blue", "graphite"]},
        "price": (29.0, 0.75),
        "season": [0.9, 0.85, 0.9, 0.9, 0.9, 0.9, 0.95, 1.1, 1.1, 1.0, 1.5, 1.7],
    },
    "beauty": {
        "nouns": ["Face Serum", "Lip Balm", "Hand Cream", "Shampoo", "Body Lotion",
                  "Makeup Brush Set", "Sheet Face Mask", "Bath Salts", "Perfume Oil"],
        "materials": ["Vitamin C", "Shea Butter", "Aloe Vera", "Argan Oil", "Rose Water",
                      "Charcoal", "Lavender"],
        "adjectives": ["Hydrating", "Soothing", "Gentle", "Brightening", "Nourishing", "Organic"],
        "features": ["is free of parabens", "suits sensitive skin",
                     "absorbs quickly without a greasy feel", "is cruelty free and vegan"],
        "options": {"size": ["30ml", "50ml", "100ml"], "scent": ["unscented", "citrus", "rose", "mint"]},
        "price": (17.0, 0.55),
        "season": [1.0, 1.1, 1.0, 0.95, 1.0, 0.95, 0.9, 0.9, 0.95, 1.0, 1.3, 1.5],
    },
    "sports & outdoors": {
        "nouns": ["Yoga Mat", "Dumbbell Set", "Hiking Backpack", "Camping Lantern", "Jump Rope",
                  "Resistance Bands", "Water-Resistant Tent", "Trekking Poles", "Foam Roller"],
        "materials": ["Natural Rubber", "Cork", "Ripstop Nylon", "Iron", "Carbon Fiber", "TPE"],
        "adjectives": ["Ultralight", "Non-Slip", "Adjustable", "Trail-Ready", "Foldable", "Pro"],
        "features": ["packs down small for travel", "has a non-slip grip",
                     "is built for everyday training", "stands up to rough trails"],
        "options": {"color": ["black", "teal", "orange", "grey"], "size": ["S", "M", "L"]},
        "price": (39.0, 0.65),
        "season": [1.6, 1.2, 1.05, 1.05, 1.1, 1.1, 1.05, 0.95, 0.9, 0.85, 0.9, 1.0],
    },
    "pet supplies": {
        "nouns": ["Dog Bed", "Cat Scratcher", "Pet Bowl", "Dog Leash", "Cat Toy Set", "Pet Carrier",
                  "Grooming Brush", "Chew Toy"],
        "materials": ["Memory Foam", "Sisal", "Stainless Steel", "Nylon", "Natural Rubber", "Cotton Rope"],
        "adjectives": ["Calming", "Durable", "Washable", "Cozy", "Interactive", "Travel"],
        "features": ["is machine washable", "is tough enough for heavy chewers",
                     "keeps indoor cats busy", "makes vet trips less stressful"],
        "options": {"size": ["S", "M", "L"], "color": ["grey", "brown", "blue"]},
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
