"""Token prices of teacher models, for cost accounting and ``--max-cost``.

Prices are USD per million tokens ``(input, output, cached_input)``, list prices as
published by the providers in 2025. ``cached_input`` is what a prompt token costs when the
provider's automatic prompt caching served it (the server reports how many were:
``usage.prompt_tokens_details.cached_tokens``, or DeepSeek's ``prompt_cache_hit_tokens``);
a price without it bills cached tokens at the input rate. Prices change, so a user can
override or extend the table with a JSON file (``{"my-model": {"input": 0.2, "output": 0.8,
"cached_input": 0.05}}``) or ``register_price``. A model is matched by its exact name, else
by the longest known prefix ("gpt-4o-2024-08-06" costs what "gpt-4o" costs). A model with no
known price costs 0 and is reported as unpriced; ``--max-cost`` refuses to run with one,
since it could not stop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from leancot.errors import UsageError

BATCH_DISCOUNT = 0.5  # the OpenAI Batch API bills half the synchronous price


class Price(NamedTuple):
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # a prompt token served from the provider's prompt cache; None: the input rate


# cached input: OpenAI's "cached input" column (gpt-4o / 4o-mini / o3-mini: half the input price, the
# 4.1 family, o3 and o4-mini: a quarter), Google's context-caching price, DeepSeek's "cache hit" input price
PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "o3": Price(2.00, 8.00, 0.50),
    "gemini-2.0-flash": Price(0.10, 0.40, 0.025),
    "gemini-2.5-flash": Price(0.30, 2.50, 0.03),
    "gemini-2.5-pro": Price(1.25, 10.00, 0.125),
    "deepseek-chat": Price(0.27, 1.10, 0.07),
    "deepseek-reasoner": Price(0.55, 2.19, 0.14),
}


def register_price(model: str, input_per_million: float, output_per_million: float, cached_input_per_million: float | None = None) -> None:
    """Add or replace the price of ``model`` (USD per million prompt / completion / cached prompt tokens)."""
    if input_per_million < 0 or output_per_million < 0 or (cached_input_per_million or 0) < 0:
        raise UsageError(f"price of {model} must not be negative")
    cached = None if cached_input_per_million is None else float(cached_input_per_million)
    PRICES[model] = Price(float(input_per_million), float(output_per_million), cached)


def load_prices(path: str | Path) -> None:
    """Read ``{"model": {"input": X, "output": Y, "cached_input": Z}}`` (USD per million tokens; Z optional)."""
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
        for model, p in table.items():
            register_price(model, p["input"], p["output"], p.get("cached_input"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise UsageError(
            f'cannot read prices from {path}: expected {{"model": {{"input": X, "output": Y, "cached_input": Z (optional)}}}} ({e})'
        ) from None


def price_of(model: str) -> Price | None:
    """``(input, output, cached_input)`` USD per million tokens for ``model``, or None if unknown."""
    name = model.split("/")[-1]  # "openai/gpt-4o" on routers costs what gpt-4o costs
    if name in PRICES:
        return PRICES[name]
    prefixes = [m for m in PRICES if name.startswith(m)]
    return PRICES[max(prefixes, key=len)] if prefixes else None


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int, *, cached_prompt_tokens: int = 0, batch: bool = False) -> float:
    """Cost of one call in USD (0 for an unpriced model).

    ``cached_prompt_tokens`` are the part of ``prompt_tokens`` the provider's prompt cache served
    (OpenAI and DeepSeek count them inside ``prompt_tokens``); they cost the cached-input rate.
    ``batch`` halves the whole cost, cached input included."""
    price = price_of(model)
    if price is None:
        return 0.0
    cached = min(max(cached_prompt_tokens, 0), prompt_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    cost = ((prompt_tokens - cached) * price.input + cached * cached_rate + completion_tokens * price.output) / 1e6
    return cost * BATCH_DISCOUNT if batch else cost
