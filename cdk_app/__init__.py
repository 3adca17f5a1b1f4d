"""PutOnly: browser events straight into the site owner's DynamoDB table.

One folder per lifecycle: ``constructs/`` runs at deploy time (aws_cdk), ``tools/`` against a real account
(boto3), ``local/`` only in development (reads cdk.out/). ``settings``, ``envelope`` and ``snippet`` are pure.
"""
