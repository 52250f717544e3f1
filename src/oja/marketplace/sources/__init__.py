"""Where imported products come from: the :class:`~oja.marketplace.sources.port.ProductSource`
port and its adapters (AliExpress first)."""
