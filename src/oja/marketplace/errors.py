"""Marketplace errors: one code each, one meaning and one HTTP status per code."""

from __future__ import annotations

from oja.core.errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    Forbidden,
    NotConfigured,
    NotFound,
    OjaError,
    Unauthorized,
    UnsupportedMediaType,
    UpstreamError,
)


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
    order_group_not_found = "order_group_not_found"
    return_not_found = "return_not_found"
    return_window_closed = "return_window_closed"
    return_quantity_exceeded = "return_quantity_exceeded"
    invalid_return_transition = "invalid_return_transition"
    order_line_not_found = "order_line_not_found"
    vendor_suspended = "vendor_suspended"
    image_not_found = "image_not_found"
    too_many_images = "too_many_images"
    not_an_image = "not_an_image"
    import_not_found = "import_not_found"
    unsupported_import_file = "unsupported_import_file"
    import_key_reused = "import_key_reused"
    aliexpress_state_invalid = "aliexpress_state_invalid"
    aliexpress_not_connected = "aliexpress_not_connected"
    aliexpress_connection_expired = "aliexpress_connection_expired"
    aliexpress_refused = "aliexpress_refused"
    aliexpress_product_gone = "aliexpress_product_gone"
    cart_item_not_found = "cart_item_not_found"
    cart_currency_mismatch = "cart_currency_mismatch"
    cart_empty = "cart_empty"
    out_of_stock = "out_of_stock"
    lines_unavailable = "lines_unavailable"
    discount_code_invalid = "discount_code_invalid"
    discount_exhausted = "discount_exhausted"
    payment_not_retryable = "payment_not_retryable"
    dispute_not_found = "dispute_not_found"
    dispute_closed = "dispute_closed"
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
    store_traffic_limit = "store_traffic_limit"
    report_range_invalid = "report_range_invalid"
    unknown_time_zone = "unknown_time_zone"
    store_session_ended = "store_session_ended"
    plan_already_active = "plan_already_active"
    no_paid_plan = "no_paid_plan"
    plan_unchanged = "plan_unchanged"
    payout_account_unresolved = "payout_account_unresolved"
    no_pending_payout_account = "no_pending_payout_account"
    payout_not_found = "payout_not_found"
    payout_not_retryable = "payout_not_retryable"
    payout_not_awaiting_otp = "payout_not_awaiting_otp"
    payout_otp_rejected = "payout_otp_rejected"


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


class OrderGroupNotFound(NotFound):
    code = MarketplaceErrorCode.order_group_not_found


class ReturnNotFound(NotFound):
    code = MarketplaceErrorCode.return_not_found


class ReturnWindowClosed(Conflict):
    """Returns are accepted for a delivered order within ``return_window_days`` of delivery."""

    code = MarketplaceErrorCode.return_window_closed


class ReturnQuantityExceeded(Conflict):
    """A line cannot be returned more times than it was bought (requests already made count)."""

    code = MarketplaceErrorCode.return_quantity_exceeded


class InvalidReturnTransition(Conflict):
    """The return's status does not allow this (requested → approved | rejected; approved →
    received)."""

    code = MarketplaceErrorCode.invalid_return_transition


class OrderLineNotFound(OjaError):
    """A return names a line that is not part of this order."""

    status_code = 422
    code = MarketplaceErrorCode.order_line_not_found


class VendorSuspended(Forbidden):
    """The store is suspended or rejected: its catalogue is frozen (it can still read it)."""

    code = MarketplaceErrorCode.vendor_suspended


class ImageNotFound(NotFound):
    code = MarketplaceErrorCode.image_not_found


class TooManyImages(Conflict):
    """A product has at most ``OJA_PRODUCT_IMAGES_MAX`` images."""

    code = MarketplaceErrorCode.too_many_images


class NotAnImage(OjaError):
    """The uploaded file's bytes are not an image Oja processes (JPEG, PNG, WebP, GIF, …)."""

    status_code = 422
    code = MarketplaceErrorCode.not_an_image


class ImportNotFound(NotFound):
    code = MarketplaceErrorCode.import_not_found


class UnsupportedImportFile(UnsupportedMediaType):
    """An import is a CSV (UTF-8) or an XLSX workbook, told from its bytes."""

    code = MarketplaceErrorCode.unsupported_import_file


class ImportKeyReused(Conflict):
    """This ``Idempotency-Key`` was already used for a different file or mode."""

    code = MarketplaceErrorCode.import_key_reused


class CartItemNotFound(NotFound):
    """No such line in the caller's cart (another buyer's line included)."""

    code = MarketplaceErrorCode.cart_item_not_found


class CartCurrencyMismatch(Conflict):
    """A cart is paid in one currency: a variant priced in another cannot join it."""

    code = MarketplaceErrorCode.cart_currency_mismatch


class CartEmpty(Conflict):
    code = MarketplaceErrorCode.cart_empty


class OutOfStock(Conflict):
    """Some lines want more than is in stock (``details.lines``); nothing was reserved."""

    code = MarketplaceErrorCode.out_of_stock


class LinesUnavailable(Conflict):
    """Some lines' products are no longer sold (``details.lines``): remove them first."""

    code = MarketplaceErrorCode.lines_unavailable


class DiscountCodeInvalid(OjaError):
    """The code names no running discount of a store in the cart, or applies to none of its lines."""

    status_code = 422
    code = MarketplaceErrorCode.discount_code_invalid


class DiscountExhausted(Conflict):
    """A discount reached its usage limit (overall or for this buyer) meanwhile; nothing was kept."""

    code = MarketplaceErrorCode.discount_exhausted


class PaymentNotRetryable(Conflict):
    """The group is not unpaid any more (paid, flagged, expired), or its current attempt has not
    failed: nothing was started."""

    code = MarketplaceErrorCode.payment_not_retryable


class DisputeNotFound(NotFound):
    code = MarketplaceErrorCode.dispute_not_found


class DisputeClosed(Conflict):
    """The dispute is resolved already, or its provider takes no evidence through Oja."""

    code = MarketplaceErrorCode.dispute_closed


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


class AliExpressNotConfigured(NotConfigured):
    """AliExpress import lacks its app key or secret: 503 ``not_configured`` like every module."""


class AliExpressStateInvalid(BadRequest):
    """The callback's ``state`` is not one Oja signed, or it is older than its ten minutes."""

    code = MarketplaceErrorCode.aliexpress_state_invalid


class AliExpressNotConnected(Conflict):
    """The store has connected no AliExpress account yet."""

    code = MarketplaceErrorCode.aliexpress_not_connected


class AliExpressConnectionExpired(Conflict):
    """The store's AliExpress tokens have lapsed (or AliExpress revoked them): reconnect."""

    code = MarketplaceErrorCode.aliexpress_connection_expired


class AliExpressRefused(UpstreamError):
    """AliExpress refused or failed a call Oja made for the store (its words in ``details``)."""

    code = MarketplaceErrorCode.aliexpress_refused


class AliExpressProductGone(NotFound):
    """AliExpress no longer offers the product (removed, or not shipped to the store's country)."""

    code = MarketplaceErrorCode.aliexpress_product_gone


class StoreTrafficLimit(Forbidden):
    """The store has served as many distinct users this plan period as its plan allows; users
    already counted keep access until the period ends."""

    code = MarketplaceErrorCode.store_traffic_limit


class ReportRangeInvalid(OjaError):
    """A report's ``from`` is after its ``to``, or the range is longer than
    ``OJA_REPORTS_MAX_RANGE_DAYS``."""

    status_code = 422
    code = MarketplaceErrorCode.report_range_invalid


class UnknownTimeZone(OjaError):
    """``tz`` names no IANA time zone (such as ``Africa/Lagos`` or ``UTC``)."""

    status_code = 422
    code = MarketplaceErrorCode.unknown_time_zone


class StoreSessionEnded(Unauthorized):
    """The store is over its plan's limit (a downgrade, a failed renewal, an operator's change)
    and the caller is not among the users its allowance admits this period: their session with
    this store has ended until the period rolls over or the store upgrades."""

    code = MarketplaceErrorCode.store_session_ended


class PlanAlreadyActive(Conflict):
    """The store already pays for a plan: change it with ``POST /vendors/me/subscription/change``."""

    code = MarketplaceErrorCode.plan_already_active


class NoPaidPlan(Conflict):
    """The store has no paid plan to change or cancel (subscribe with
    ``POST /vendors/me/subscription``)."""

    code = MarketplaceErrorCode.no_paid_plan


class PlanUnchanged(Conflict):
    """The store is already on (or already moving to) that plan."""

    code = MarketplaceErrorCode.plan_unchanged


class PayoutAccountUnresolved(OjaError):
    """The provider could not resolve the bank code and account number to an account."""

    status_code = 422
    code = MarketplaceErrorCode.payout_account_unresolved


class NoPendingPayoutAccount(Conflict):
    """The store has no payout account waiting for approval."""

    code = MarketplaceErrorCode.no_pending_payout_account


class PayoutNotFound(NotFound):
    code = MarketplaceErrorCode.payout_not_found


class PayoutNotAwaitingOtp(Conflict):
    """Only a payout in ``otp_required`` is finalized or has its OTP resent (a finalized one is
    already on its way: a replay changes nothing)."""

    code = MarketplaceErrorCode.payout_not_awaiting_otp


class PayoutOtpRejected(OjaError):
    """The provider refused the OTP (wrong or expired): the payout still waits for the right one."""

    status_code = 422
    code = MarketplaceErrorCode.payout_otp_rejected


class PayoutNotRetryable(Conflict):
    """Only a failed payout is retried, once, while the store has no payout in flight and enough
    available money."""

    code = MarketplaceErrorCode.payout_not_retryable
