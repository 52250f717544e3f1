"""The vocabulary of the generated marketplace: category tree, names, titles, review texts."""

from __future__ import annotations

import random
import re
from typing import Any

CATEGORIES: dict[str, list[str]] = {
    "Electronics": ["Phones", "Laptops", "Audio", "Cameras", "Accessories"],
    "Fashion": ["Men", "Women", "Shoes", "Bags"],
    "Home": ["Kitchen", "Furniture", "Decor", "Bedding"],
    "Beauty": ["Skincare", "Hair", "Fragrance"],
    "Groceries": ["Snacks", "Drinks", "Spices"],
    "Sports": ["Fitness", "Outdoor", "Football"],
    "Books": ["Fiction", "Business", "Children"],
    "Toys": ["Puzzles", "Dolls", "Games"],
}

NOUNS: dict[str, list[str]] = {
    "Electronics": ["Phone", "Laptop", "Headphones", "Speaker", "Camera", "Charger", "Power Bank"],
    "Fashion": ["Shirt", "Ankara Dress", "Sneakers", "Handbag", "Kaftan", "Jeans", "Sandals"],
    "Home": ["Blender", "Sofa", "Lamp", "Duvet", "Pot Set", "Rug", "Curtains"],
    "Beauty": ["Shea Butter", "Face Cream", "Hair Oil", "Perfume", "Black Soap", "Lip Balm"],
    "Groceries": ["Plantain Chips", "Zobo Drink", "Suya Spice", "Garri", "Chin Chin", "Pepper Mix"],
    "Sports": ["Yoga Mat", "Dumbbells", "Football", "Tent", "Jersey", "Skipping Rope"],
    "Books": ["Novel", "Cookbook", "Storybook", "Business Guide", "Poetry Collection"],
    "Toys": ["Puzzle", "Doll", "Board Game", "Ludo Set", "Building Blocks"],
}

ADJECTIVES = [
    "Classic", "Premium", "Handmade", "Compact", "Deluxe", "Everyday", "Organic", "Vintage",
    "Modern", "Rugged", "Lightweight", "Royal", "Eco", "Smart", "Golden", "Sunny",
]  # fmt: skip
BRANDS = ["Adire", "Eko", "Naija Made", "Zuma", "Kano Craft", "Oja Basics", "Lekki", "Ibeji"]
MATERIALS = ["cotton", "leather", "steel", "wood", "plastic", "ceramic", "bamboo", "glass"]
COLORS = ["black", "white", "red", "blue", "green", "gold", "brown", "grey"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
PACKS = ["1 pack", "2 pack", "6 pack", "12 pack"]
STORE_WORDS = [
    "Mama", "Ade", "Chidi", "Bisi", "Emeka", "Funke", "Tunde", "Ngozi", "Kemi", "Obi",
]  # fmt: skip
STORE_KINDS = ["Market", "Emporium", "Stores", "Hub", "Boutique", "Depot", "Corner", "Mart"]
TAGLINES = [
    "quality goods at fair prices",
    "delivered across Lagos in two days",
    "handpicked every week",
    "made in Nigeria, loved everywhere",
]
STREETS = [
    "Allen Avenue, Ikeja",
    "Admiralty Way, Lekki",
    "Broad Street, Lagos",
    "Ring Road, Ibadan",
]
CITIES = ["Lagos", "Abuja", "Ibadan", "Port Harcourt", "Kano", "Enugu"]
FIRST_NAMES = [
    "Ada",
    "Bola",
    "Chinedu",
    "Dayo",
    "Efe",
    "Femi",
    "Halima",
    "Ifeoma",
    "Musa",
    "Zainab",
]
REVIEW_TITLES = {
    1: ["Not as described", "Disappointed"],
    2: ["Could be better", "Below expectations"],
    3: ["Okay for the price", "Average"],
    4: ["Good value", "Happy with it"],
    5: ["Excellent!", "Exactly what I wanted", "Love it"],
}
REVIEW_BODIES = {
    1: "It arrived late and the quality is poor. I would not buy it again.",
    2: "It works, but the finish is rough and it took a while to arrive.",
    3: "Does the job. Delivery was on time; the packaging could be better.",
    4: "Good quality for the money and the seller answered my questions quickly.",
    5: "Great quality, fast delivery and well packed. I will order again from this store.",
}
SEARCHES = ["phone", "ankara", "shea butter", "blender", "football", "novel", "perfume", "rice"]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:70]


def store_name(rng: random.Random, index: int) -> str:
    return f"{rng.choice(STORE_WORDS)}'s {rng.choice(STORE_KINDS)} {index + 1}"


def product(rng: random.Random, root: str, index: int) -> tuple[str, dict[str, Any]]:
    """A title and attributes; the index keeps titles apart (``… No. 42``)."""
    noun = rng.choice(NOUNS[root])
    brand = rng.choice(BRANDS)
    title = f"{brand} {rng.choice(ADJECTIVES)} {noun} No. {index + 1}"
    return title, {"brand": brand, "material": rng.choice(MATERIALS)}


def description(rng: random.Random, title: str, attributes: dict[str, Any]) -> str:
    return (
        f"{title}, made of {attributes['material']} by {attributes['brand']}: "
        f"{rng.choice(TAGLINES)}."
    )


def option_axis(root: str) -> tuple[str, list[str]]:
    if root == "Fashion":
        return "size", SIZES
    if root in {"Groceries", "Beauty"}:
        return "pack", PACKS
    return "color", COLORS


def rating(rng: random.Random) -> int:
    """Mostly happy buyers, as on any real marketplace."""
    return rng.choices((1, 2, 3, 4, 5), weights=(4, 5, 11, 30, 50))[0]
