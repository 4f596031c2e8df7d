"""Adapters: one module per influence index, each implementing ``aggregator.plugins.Adapter``."""
