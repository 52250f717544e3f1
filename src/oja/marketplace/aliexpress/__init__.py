"""AliExpress for vendors: connecting an AliExpress account (OAuth) and what is imported from it."""
