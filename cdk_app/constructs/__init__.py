"""Deploy time: PutOnly's infrastructure as constructs (aws_cdk only), with their nag acknowledgments.

They take typed keyword arguments and never read context. A construct's Lambda code sits in a folder beside it.
"""
