"""Token prices of teacher models, for cost accounting and ``--max-cost``.

Prices are USD per million tokens ``(input, output)``, list prices as published by the
providers in 2025; they change, so a user can override or extend the table with a JSON
file (``{"my-model": {"input": 0.2, "output": 0.8}}``) or ``register_price``. A model
is matched by its exact name, else by the longest known prefix ("gpt-4o-2024-08-06"
costs what "gpt-4o" costs). A model with no known price costs 0 and is reported as
unpriced; ``--max-cost`` refuses to run with one, since it could not stop.
"""

from __future__ import annotations

import json
from pathlib import Path

from leancot.errors import UsageError

BATCH_DISCOUNT = 0.5  # the OpenAI Batch API bills half the synchronous price

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-pro": (1.25, 10.00),
    "deepseek-chat": (0.27, 1.10),
    "deepseek-reasoner": (0.55, 2.19),
}


def register_price(model: str, input_per_million: float, output_per_million: float) -> None:
    """Add or replace the price of ``model`` (USD per million prompt / completion tokens)."""
    if input_per_million < 0 or output_per_million < 0:
        raise UsageError(f"price of {model} must not be negative")
    PRICES[model] = (float(input_per_million), float(output_per_million))


def load_prices(path: str | Path) -> None:
    """Read ``{"model": {"input": X, "output": Y}}`` (USD per million tokens) into the table."""
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
        for model, p in table.items():
            register_price(model, p["input"], p["output"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(f'cannot read prices from {path}: expected {{"model": {{"input": X, "output": Y}}}} ({e})') from None


def price_of(model: str) -> tuple[float, float] | None:
    """``(input, output)`` USD per million tokens for ``model``, or None if unknown."""
    name = model.split("/")[-1]  # "openai/gpt-4o" on routers costs what gpt-4o costs
    if name in PRICES:
        return PRICES[name]
    prefixes = [m for m in PRICES if name.startswith(m)]
    return PRICES[max(prefixes, key=len)] if prefixes else None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, *, batch: bool = False) -> float:
    """Cost of one call in USD (0 for an unpriced model)."""
    price = price_of(model)
    if price is None:
        return 0.0
    cost = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6
    return cost * BATCH_DISCOUNT if batch else cost
