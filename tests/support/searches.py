"""Hypothesis settings of the property-based tests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def search_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
