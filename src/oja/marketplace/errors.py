"""Marketplace errors: one code each, one meaning and one HTTP status per code."""

from __future__ import annotations

from oja.core.errors import Conflict, ErrorCode, Forbidden, NotFound, OjaError


class MarketplaceErrorCode(ErrorCode):
    vendor_not_found = "vendor_not_found"
    not_a_vendor_member = "not_a_vendor_member"
    vendor_role_required = "vendor_role_required"
    vendor_slug_taken = "vendor_slug_taken"
    already_vendor_member = "already_vendor_member"
    invalid_vendor_transition = "invalid_vendor_transition"
    reason_required = "reason_required"
    staff_not_found = "staff_not_found"
    staff_user_not_found = "staff_user_not_found"
    last_owner = "last_owner"
    logo_not_found = "logo_not_found"
    category_not_found = "category_not_found"
    category_slug_taken = "category_slug_taken"
    category_in_use = "category_in_use"
    category_cycle = "category_cycle"
    product_not_found = "product_not_found"
    variant_not_found = "variant_not_found"
    sku_taken = "sku_taken"
    last_variant = "last_variant"
    insufficient_stock = "insufficient_stock"
    currency_mismatch = "currency_mismatch"
    stock_contended = "stock_contended"
    discount_code_taken = "discount_code_taken"
    order_not_found = "order_not_found"
    invalid_order_transition = "invalid_order_transition"
    review_not_found = "review_not_found"
    not_a_verified_buyer = "not_a_verified_buyer"
    order_not_delivered = "order_not_delivered"
    already_reviewed = "already_reviewed"
    order_line_mismatch = "order_line_mismatch"
    already_voted = "already_voted"
    already_flagged = "already_flagged"
    already_replied = "already_replied"
    review_changed = "review_changed"
    photo_not_found = "photo_not_found"


class VendorNotFound(NotFound):
    code = MarketplaceErrorCode.vendor_not_found


class NotAVendorMember(Forbidden):
    """The caller belongs to no store (open one with ``POST /vendors``)."""

    code = MarketplaceErrorCode.not_a_vendor_member


class VendorRoleRequired(Forbidden):
    """The caller's role in the store does not allow this (e.g. staff managing staff)."""

    code = MarketplaceErrorCode.vendor_role_required


class VendorSlugTaken(Conflict):
    code = MarketplaceErrorCode.vendor_slug_taken


class AlreadyVendorMember(Conflict):
    """A user belongs to one store at most."""

    code = MarketplaceErrorCode.already_vendor_member


class InvalidVendorTransition(Conflict):
    code = MarketplaceErrorCode.invalid_vendor_transition


class ReasonRequired(OjaError):
    """Rejecting or suspending a store needs a ``reason`` (it is stored and shown to the store)."""

    status_code = 422
    code = MarketplaceErrorCode.reason_required


class StaffNotFound(NotFound):
    code = MarketplaceErrorCode.staff_not_found


class StaffUserNotFound(NotFound):
    """No account has the given ``user_id`` or ``email``."""

    code = MarketplaceErrorCode.staff_user_not_found


class LastOwner(Conflict):
    code = MarketplaceErrorCode.last_owner


class LogoNotFound(NotFound):
    """The logo names no file of the caller's."""

    code = MarketplaceErrorCode.logo_not_found


class CategoryNotFound(NotFound):
    code = MarketplaceErrorCode.category_not_found


class CategorySlugTaken(Conflict):
    code = MarketplaceErrorCode.category_slug_taken


class CategoryInUse(Conflict):
    """A category with children or products cannot be deleted."""

    code = MarketplaceErrorCode.category_in_use


class CategoryCycle(Conflict):
    """A category cannot move under itself or one of its descendants."""

    code = MarketplaceErrorCode.category_cycle


class ProductNotFound(NotFound):
    code = MarketplaceErrorCode.product_not_found


class VariantNotFound(NotFound):
    code = MarketplaceErrorCode.variant_not_found


class SkuTaken(Conflict):
    """SKUs are unique within a store."""

    code = MarketplaceErrorCode.sku_taken


class LastVariant(Conflict):
    """A product keeps at least one variant."""

    code = MarketplaceErrorCode.last_variant


class InsufficientStock(Conflict):
    """The adjustment would take stock below zero; nothing changed."""

    code = MarketplaceErrorCode.insufficient_stock


class CurrencyMismatch(Conflict):
    """Every variant of a product is priced in the same currency."""

    code = MarketplaceErrorCode.currency_mismatch


class StockContended(Conflict):
    """Stock kept changing under a ``set``; retry, or send an ``adjust``."""

    code = MarketplaceErrorCode.stock_contended


class DiscountCodeTaken(Conflict):
    """Discount codes are unique within a store."""

    code = MarketplaceErrorCode.discount_code_taken


class OrderNotFound(NotFound):
    code = MarketplaceErrorCode.order_not_found


class InvalidOrderTransition(Conflict):
    """The order's status does not allow this move (see ``ORDER_TRANSITIONS``)."""

    code = MarketplaceErrorCode.invalid_order_transition


class ReviewNotFound(NotFound):
    code = MarketplaceErrorCode.review_not_found


class NotAVerifiedBuyer(Forbidden):
    """Only a buyer with an order of the product (or from the store) may review it."""

    code = MarketplaceErrorCode.not_a_verified_buyer


class OrderNotDelivered(Conflict):
    """The buyer's order is not delivered yet: it can be reviewed once it is."""

    code = MarketplaceErrorCode.order_not_delivered


class AlreadyReviewed(Conflict):
    """One review per order line (product) or per store order (store)."""

    code = MarketplaceErrorCode.already_reviewed


class OrderLineMismatch(OjaError):
    """The ``order_line_id`` (or ``store_order_id``) is of another product or store."""

    status_code = 422
    code = MarketplaceErrorCode.order_line_mismatch


class AlreadyVoted(Conflict):
    code = MarketplaceErrorCode.already_voted


class AlreadyFlagged(Conflict):
    code = MarketplaceErrorCode.already_flagged


class AlreadyReplied(Conflict):
    """The store answers a review once."""

    code = MarketplaceErrorCode.already_replied


class ReviewChanged(Conflict):
    """The review changed under this request; read it again and retry."""

    code = MarketplaceErrorCode.review_changed


class PhotoNotFound(OjaError):
    """A photo must be the id of a file you uploaded."""

    status_code = 422
    code = MarketplaceErrorCode.photo_not_found
