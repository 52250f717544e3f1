"""The buyer's cart: lines of variants, priced now by the catalogue's one pricing function."""
