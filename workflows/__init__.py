"""Temporal workflow definitions and their input and result types.

Deterministic code only: nothing here imports a database driver, an HTTP client or
the web framework. Activities are called by name; the delivery worker implements them.
"""
