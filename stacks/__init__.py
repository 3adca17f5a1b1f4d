"""Thin stacks: they compose cdk_app constructs and wire grants and outputs."""
