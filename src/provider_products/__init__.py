"""provider-products: the health-insurance provider product registry."""
