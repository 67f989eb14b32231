"""An exchange-rate service as a resource. Here the rates come from flowstone.toml; a real one
would call a rates API in `setup()`. Tests hand assets a fake instead (see tests/user_style/)."""

from flowstone_cli import Resource


class FxRates(Resource):
    """Converts amounts from a currency to `base`."""

    base: str = "EUR"
    rates: dict[str, float]

    def to_base(self, amount: float, currency: str) -> float:
        """`amount` in `currency`, converted to the base currency."""
        if currency == self.base:
            return amount
        return amount * self.rates[currency]

    def health_check(self):
        missing = [c for c, r in self.rates.items() if r <= 0]
        return f"non-positive rate for {', '.join(missing)}" if missing else None
