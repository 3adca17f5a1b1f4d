"""Reusable units of PutOnly's infrastructure. They take typed keyword arguments and never read context."""
