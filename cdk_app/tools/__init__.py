"""Operator commands run against a real account (the putonly-* commands).

boto3 only: they never import aws_cdk, the emulator or a browser, so they start fast and run where no Node.js is.
"""
