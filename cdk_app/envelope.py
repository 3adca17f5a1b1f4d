"""The envelope item: the only shape a guest may write into the events table.

Shared by the guest policy (its attribute allow-list), the tests and the export tooling, so the
allow-list and the tracker can never silently disagree.
"""

SCHEMA_VERSION = 1

PARTITION_KEY = "pk"  # the Cognito identity id of the visitor
SORT_KEY = "sk"  # "<ISO-8601 UTC ms time of the first event>#<envelope id>"
GSI_NAME = "by_subject"
GSI_PARTITION_KEY = "gsi1pk"  # "<topic>#<subject>"
GSI_SORT_KEY = "gsi1sk"  # same value as sk
TTL_ATTRIBUTE = "expires_at"

# Small attributes copied into the GSI so "how many plays of song 123 in November" needs no item reads.
GSI_PROJECTED = ("topic", "subject", "count", "first_ts", "last_ts")

ATTRIBUTES = (
    PARTITION_KEY,
    SORT_KEY,
    "topic",
    "subject",
    "events",
    "count",
    "first_ts",
    "last_ts",
    "v",
    GSI_PARTITION_KEY,
    GSI_SORT_KEY,
    TTL_ATTRIBUTE,
)
