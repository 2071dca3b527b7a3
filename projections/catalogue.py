"""The read models the projector keeps, in the order it applies them."""

from __future__ import annotations

from projections.balances import AccountBalances
from projections.runner import ReadModel


def read_models() -> list[ReadModel]:
    return [AccountBalances()]
