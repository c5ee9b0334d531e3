"""Behaviour of the API, one module per route; pure Python, no AWS calls."""
