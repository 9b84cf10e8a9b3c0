"""Word lists and weights the generator draws from: catalog, people, places, devices.

Plain tables, no logic. Strings that end up inside clickstream lines (search queries,
user agents, URLs) must not contain ``"`` or ``\\``: those lines are built by string
formatting, not by ``json.dumps``.
"""

from __future__ import annotations

SHOP = "https://shop.example.com"
MOBILE_SHOP = "https://m.shop.example.com"
API_PAGES = "https://api.shop.example.com/v2/customers"

#: category -> (code, [(subcategory, code, min USD, max USD, [nouns])])
CATALOG: dict[str, tuple[str, list[tuple[str, str, int, int, list[str]]]]] = {
    "Electronics": (
        "ELE",
        [
            ("Audio", "AUD", 25, 350, ["Wireless Headphones", "Earbuds", "Bluetooth Speaker"]),
            (
                "Accessories",
                "ACC",
                8,
                60,
                ["USB-C Cable", "Phone Case", "Power Bank", "65W Charger", '15" Laptop Sleeve'],
            ),
            ("Smart Home", "SMH", 20, 250, ["Smart Plug", "Video Doorbell", "Smart Bulb"]),
        ],
    ),
    "Home & Kitchen": (
        "HOM",
        [
            ("Cookware", "COO", 20, 200, ["Frying Pan", "Dutch Oven", "Knife Set", "Saucepan"]),
            ("Storage", "STO", 10, 80, ["Storage Box", "Spice Rack", "Food Container Set"]),
            ("Bedding", "BED", 25, 220, ["Duvet Cover", "Pillow", "Sheet Set"]),
            ("Lighting", "LIG", 15, 180, ["Desk Lamp", "Floor Lamp", "LED Strip"]),
        ],
    ),
    "Apparel": (
        "APP",
        [
            ("Tops", "TOP", 12, 70, ["T-Shirt", "Hoodie", "Polo Shirt"]),
            ("Outerwear", "OUT", 60, 300, ["Rain Jacket", "Puffer Jacket", "Fleece"]),
            ("Footwear", "FOO", 40, 180, ["Running Shoes", "Sneakers", "Hiking Boots"]),
            ("Accessories", "ACC", 10, 90, ["Beanie", "Scarf", "Leather Belt"]),
        ],
    ),
    "Beauty": (
        "BEA",
        [
            ("Skincare", "SKI", 8, 90, ["Face Serum", "Moisturizer", "Sunscreen SPF 50"]),
            ("Haircare", "HAI", 6, 45, ["Shampoo", "Conditioner", "Hair Oil"]),
            ("Fragrance", "FRA", 30, 150, ["Eau de Parfum", "Body Mist"]),
        ],
    ),
    "Sports & Outdoors": (
        "SPO",
        [
            ("Fitness", "FIT", 10, 250, ["Yoga Mat", "Kettlebell", "Resistance Bands"]),
            ("Camping", "CAM", 20, 400, ["Tent", "Sleeping Bag", "Camping Stove"]),
            ("Cycling", "CYC", 15, 600, ["Bike Helmet", "Bike Light Set", "Kids' 12\" Bike"]),
        ],
    ),
    "Toys & Games": (
        "TOY",
        [
            ("Board Games", "BOA", 15, 70, ["Strategy Game", "Party Game", "Family Game"]),
            ("Puzzles", "PUZ", 10, 40, ["1000-Piece Puzzle", "3D Puzzle"]),
            ("Building Sets", "BUI", 20, 150, ["Building Set", "Marble Run"]),
        ],
    ),
    "Books": (
        "BOO",
        [
            ("Fiction", "FIC", 8, 30, ["Novel", "Short Stories", "Thriller"]),
            ("Cookbooks", "COO", 15, 45, ["Cookbook", "Baking Book"]),
            ("Children's", "CHI", 6, 25, ["Picture Book", "Activity Book"]),
        ],
    ),
    "Grocery": (
        "GRO",
        [
            ("Coffee", "COF", 8, 40, ["Whole Bean Coffee", "Espresso Pods", "Ground Coffee"]),
            ("Tea", "TEA", 5, 25, ["Green Tea", "Earl Grey", "Chai"]),
            ("Snacks", "SNA", 3, 15, ["Trail Mix", "Dark Chocolate", "Granola"]),
        ],
    ),
}
#: How often each category sells relative to its catalog share.
CATEGORY_WEIGHT = {
    "Electronics": 1.3,
    "Home & Kitchen": 1.1,
    "Apparel": 1.4,
    "Beauty": 1.0,
    "Sports & Outdoors": 0.8,
    "Toys & Games": 0.6,
    "Books": 0.7,
    "Grocery": 0.9,
}
BRANDS = [
    "Acme",
    "Nordlys",
    "Bröd & Co",
    "Café Mío",
    "Northwind",
    "Bluepeak",
    "Kōbō",
    "Lumen",
    "Fjäll",
    "Harbor & Pine",
    "Oakline",
    "Zephyr",
    "Tandem",
    "Vela",
    "Maison Lune",
]
ADJECTIVES = [
    "Classic",
    "Pro",
    "Ultra",
    "Essential",
    "Compact",
    "Premium",
    "Eco",
    "Everyday",
    "Deluxe",
    "Mini",
    "Signature",
    "Crème",
]
VARIANTS = [
    "Black",
    "White",
    "Navy",
    "Forest Green",
    "Size M",
    "Size L",
    "Pack of 3",
    "500 g",
    "1 kg",
    "Limited Edition",
    '"Holiday" Edition',
]

SEGMENTS_WEIGHTS = (("consumer", 0.86), ("small_business", 0.10), ("corporate", 0.04))

# name pools by region ------------------------------------------------------------------
FIRST_NAMES = {
    "north_america": ["James", "Olivia", "Liam", "Emma", "Noah", "Ava", "Mia", "Ethan", "Zoë"],
    "europe": ["Lukas", "Léa", "Matteo", "Jan", "Björn", "Inês", "Chloé", "Sofia", "Ana"],
    "latin_america": ["Sofía", "Mateo", "Valentina", "Santiago", "Camila", "João", "Lucía"],
    "middle_east_africa": ["Omar", "Fatima", "Yusuf", "Aisha", "Noa", "Thabo", "Amara"],
    "asia_pacific": ["Hiroshi", "Yuki", "Wei", "Mei", "Arjun", "Priya", "Ji-woo", "Jack"],
}
LAST_NAMES = {
    "north_america": ["Smith", "Johnson", "Brown", "O'Connor", "Williams", "Taylor", "Nguyen"],
    "europe": ["Müller", "García", "Rossi", "Dubois", "de Vries", "Nowak", "Sørensen", "Silva"],
    "latin_america": ["González", "Rodríguez", "Pérez", "Souza", "López", "Martínez"],
    "middle_east_africa": ["Haddad", "Al-Farsi", "Cohen", "Okafor", "Mensah", "Naidoo"],
    "asia_pacific": ["Tanaka", "Sato", "Wang", "Li", "Kim", "Patel", "Sharma", "Tan", "Chen"],
}
EMAIL_DOMAINS = ["example.com", "example.org", "example.net", "mail.example"]

# places --------------------------------------------------------------------------------
#: country -> (share of customers, UTC offset in hours, postal pattern, [(city, region)])
#: Postal patterns: '9' a digit, 'A' a letter. Countries not listed here get a small
#: long-tail share and an address without city or postal code.
PLACES: dict[str, tuple[float, int, str, list[tuple[str, str | None]]]] = {
    "US": (
        0.30,
        -6,
        "99999",
        [
            ("New York", "NY"),
            ("Austin", "TX"),
            ("Seattle", "WA"),
            ("Chicago", "IL"),
            ("Washington", "District of Columbia"),
            ("Coeur d'Alene", "ID"),
        ],
    ),
    "CA": (0.06, -5, "A9A 9A9", [("Toronto", "ON"), ("Montréal", "QC"), ("Vancouver", "BC")]),
    "GB": (
        0.09,
        0,
        "AA9 9AA",
        [("London", "Greater London"), ("Manchester", None), ("Edinburgh", "Scotland")],
    ),
    "IE": (0.01, 0, "A99 A9A9", [("Dublin", "Leinster"), ("Cork", "Munster")]),
    "DE": (0.07, 1, "99999", [("Berlin", "Berlin"), ("München", "Bayern"), ("Köln", "NRW")]),
    "FR": (
        0.05,
        1,
        "99999",
        [("Paris", "Île-de-France"), ("Lyon", "Auvergne-Rhône-Alpes"), ("Nice", "PACA")],
    ),
    "NL": (0.02, 1, "9999 AA", [("Amsterdam", "Noord-Holland"), ("Utrecht", "Utrecht")]),
    "ES": (0.025, 1, "99999", [("Madrid", "Madrid"), ("Barcelona", "Cataluña")]),
    "IT": (0.025, 1, "99999", [("Milano", "Lombardia"), ("Roma", "Lazio")]),
    "PT": (0.006, 0, "9999-999", [("Porto", "Porto"), ("Lisboa", "Lisboa")]),
    "BE": (0.008, 1, "9999", [("Bruxelles", "Bruxelles"), ("Antwerpen", "Antwerpen")]),
    "AT": (0.006, 1, "9999", [("Wien", "Wien"), ("Graz", "Steiermark")]),
    "FI": (0.004, 2, "99999", [("Helsinki", "Uusimaa")]),
    "GR": (0.003, 2, "999 99", [("Athens", "Attica")]),
    "SE": (0.01, 1, "999 99", [("Stockholm", "Stockholm"), ("Göteborg", "Västra Götaland")]),
    "DK": (0.005, 1, "9999", [("København", "Hovedstaden")]),
    "NO": (0.004, 1, "9999", [("Oslo", "Oslo")]),
    "CH": (0.005, 1, "9999", [("Zürich", "ZH"), ("Genève", "GE")]),
    "PL": (0.01, 1, "99-999", [("Warszawa", "Mazowieckie"), ("Kraków", "Małopolskie")]),
    "CZ": (0.003, 1, "999 99", [("Praha", "Praha")]),
    "AU": (0.05, 10, "9999", [("Sydney", "NSW"), ("Melbourne", "VIC"), ("Perth", "WA")]),
    "NZ": (0.008, 12, "9999", [("Auckland", "Auckland"), ("Wellington", "Wellington")]),
    "JP": (0.015, 9, "999-9999", [("Tokyo", "Tokyo"), ("Osaka", "Osaka")]),
    "KR": (0.005, 9, "99999", [("Seoul", "Seoul")]),
    "SG": (0.006, 8, "999999", [("Singapore", None)]),
    "HK": (0.004, 8, "", [("Hong Kong", "Kowloon")]),
    "IN": (0.01, 5, "999999", [("Bengaluru", "Karnataka"), ("Mumbai", "Maharashtra")]),
    "MX": (0.015, -6, "99999", [("Ciudad de México", "CDMX"), ("Guadalajara", "Jalisco")]),
    "BR": (0.015, -3, "99999-999", [("São Paulo", "SP"), ("Rio de Janeiro", "RJ")]),
    "AR": (0.005, -3, "A9999AAA", [("Buenos Aires", "CABA")]),
    "CL": (0.004, -4, "9999999", [("Santiago", "RM")]),
    "CO": (0.004, -5, "999999", [("Bogotá", "Bogotá D.C.")]),
    "PR": (0.002, -4, "99999", [("San Juan", None)]),
    "AE": (0.008, 4, "", [("Dubai", "Dubai"), ("Abu Dhabi", "Abu Dhabi")]),
    "SA": (0.005, 3, "99999", [("Riyadh", "Riyadh")]),
    "IL": (0.004, 2, "9999999", [("Tel Aviv", None)]),
    "ZA": (0.006, 2, "9999", [("Cape Town", "Western Cape"), ("Johannesburg", "Gauteng")]),
    "NG": (0.003, 1, "999999", [("Lagos", "Lagos")]),
    "KE": (0.002, 3, "99999", [("Nairobi", "Nairobi")]),
    "EG": (0.002, 2, "99999", [("Cairo", "Cairo")]),
    "MA": (0.002, 1, "99999", [("Casablanca", "Casablanca-Settat")]),
}
#: Share of customers from the countries not listed in PLACES.
LONG_TAIL_SHARE = 0.012
#: Typical UTC offset of a region, for long-tail countries.
REGION_OFFSET = {
    "north_america": -6,
    "latin_america": -4,
    "europe": 1,
    "middle_east_africa": 2,
    "asia_pacific": 8,
}
#: Euro area members (Bulgaria from 2026) and the states that use the euro by agreement.
EUROZONE = frozenset(
    {"AD", "AT", "BE", "BG", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE"}
    | {"IT", "LT", "LU", "LV", "MC", "ME", "MT", "NL", "PT", "SI", "SK", "SM", "VA"}
)
CURRENCY_OF = {"US": "USD", "CA": "CAD", "GB": "GBP", "AU": "AUD"}
#: Units of each currency per USD (list prices are USD; a fixed rate keeps prices stable).
FX = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.37, "AUD": 1.52}

#: Relative activity by local hour of day (0..23).
LOCAL_HOURS = [
    0.6, 0.35, 0.2, 0.15, 0.15, 0.25, 0.5, 1.0, 1.6, 2.0, 2.3, 2.6,
    2.9, 2.8, 2.5, 2.4, 2.4, 2.6, 3.0, 3.5, 3.8, 3.6, 2.6, 1.4,
]  # fmt: skip
#: Orders by weekday (Monday first); the mean is 1.
WEEKDAY_ORDERS = [1.02, 0.98, 0.96, 0.95, 0.92, 1.03, 1.14]
#: Channel mix on weekdays and at weekends: (web, mobile, marketplace).
CHANNEL_MIX = {False: (0.52, 0.33, 0.15), True: (0.41, 0.47, 0.12)}
#: Basket size by channel: the chance that an order stops after each further line (app
#: baskets are small, marketplace resellers buy more lines).
LINE_STOP = {"web": 0.55, "mobile": 0.68, "marketplace": 0.42}

#: Share of web and app visits that end in a purchase, by the visitor's region...
REGION_CONVERSION = {
    "north_america": 0.036,
    "europe": 0.032,
    "asia_pacific": 0.027,
    "latin_america": 0.022,
    "middle_east_africa": 0.019,
}
#: ...times a weekday factor (Monday first): weekends bring browsers more than buyers.
WEEKDAY_CONVERSION = [1.06, 1.04, 1.02, 1.0, 0.97, 0.9, 0.86]

#: Campaigns: the chance a campaign starts on a day without one, its length in days, and
#: what it does: more orders, visitors who convert better, and most lines discounted.
CAMPAIGN_START = 1 / 16
CAMPAIGN_DAYS = (2, 4)
CAMPAIGN_ORDERS = 1.7
CAMPAIGN_CONVERSION = 1.25
#: (no discount field, discount 0, discounted) shares of lines, and the discounts (%).
DISCOUNTS = {False: (0.6, 0.25, 0.15), True: (0.2, 0.1, 0.7)}
DISCOUNT_PERCENTS = {False: (5, 10, 15, 20, 30), True: (15, 20, 25, 30, 40)}

#: Outages: the chance per day that checkout is down for a few hours (UTC): orders in that
#: window are lost, their visits are not, so the day's conversion drops.
OUTAGE_CHANCE = 1 / 24
OUTAGE_HOURS = (2, 6)

#: Payment method weights by region.
PAYMENT_MIX = {
    "north_america": {"card": 62, "paypal": 25, "gift_card": 7, "bank_transfer": 4},
    "europe": {"card": 50, "paypal": 25, "bank_transfer": 14, "gift_card": 5},
    "latin_america": {"card": 55, "paypal": 10, "bank_transfer": 10, "gift_card": 3},
    "middle_east_africa": {"card": 45, "paypal": 8, "bank_transfer": 10, "gift_card": 2},
    "asia_pacific": {"card": 60, "paypal": 15, "bank_transfer": 12, "gift_card": 5},
}
COD_SHARE = {
    "north_america": 0.02,
    "europe": 0.05,
    "latin_america": 0.22,
    "middle_east_africa": 0.35,
    "asia_pacific": 0.08,
}

# clickstream ---------------------------------------------------------------------------
SEARCH_QUERIES = [
    "headphones",
    "wireless earbuds",
    "running shoes",
    "rain jacket",
    "yoga mat",
    "coffee beans",
    "usb-c cable",
    "gift for dad",
    "puzzle 1000",
    "tent 2 person",
    "face serum",
    "café crème",
    "desk lamp",
    "kids bike",
    "green tea",
    "power bank 20000",
    "winter sale",
]
LANDING_PAGES = ["/", "/", "/", "/deals", "/new", "/c/electronics", "/c/apparel", "/c/home"]
DESKTOP_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0",
]
MOBILE_AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/129.0.0.0 Mobile Safari/537.36",
    "ShopApp/5.12.1 (iPhone15,3; iOS 18.0.1; Scale/3.00)",
    "ShopApp/5.12.0 (Android 14; SM-S918B)",
]
#: First octets of plausible public IPv4 addresses.
IP_FIRST_OCTETS = [24, 31, 46, 62, 66, 73, 77, 81, 86, 92, 98, 104, 109, 151, 176, 185, 212]
