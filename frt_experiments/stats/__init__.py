"""Statistical building blocks that see only numbers and per-arm sufficient statistics."""
