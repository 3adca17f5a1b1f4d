"""PutOnly: browser events straight into the site owner's DynamoDB table."""
