"""The multi-vendor marketplace (seed 003): a sub-package per sub-domain.

``vendors`` (stores, their staff and status), ``catalog`` (categories, products, variants, prices),
``inventory`` (stock and its movements). Tenancy is the first invariant: every vendor-owned row
carries ``vendor_id`` (:class:`oja.marketplace.tenancy.VendorOwned`), every repository query of such
a table filters on it, and another vendor's object answers 404.
"""
