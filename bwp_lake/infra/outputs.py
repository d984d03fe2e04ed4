"""Names of the stack's outputs: the stack writes them, ``bwp-lake`` reads them back."""

DEFAULT_STACK_NAME = "BwpReportLake"

STATE_MACHINE_ARN = "StateMachineArn"
DATA_BUCKET = "DataBucketName"
STATE_TABLE = "StateTableName"
WORKGROUP = "AthenaWorkGroupName"
DATABASE = "GlueDatabaseName"
# A JSON object: store id -> the name of its credentials secret.
CREDENTIALS_SECRETS = "CredentialsSecretNames"
# The configured stores' ids, comma-separated, in configuration order.
STORE_IDS = "StoreIds"
STATE_MACHINE_CONSOLE = "StateMachineConsoleUrl"
ATHENA_CONSOLE = "AthenaConsoleUrl"
DASHBOARD_CONSOLE = "DashboardConsoleUrl"

# Named queries holding the typed views' DDL are called "<prefix><view>"; `bwp-lake create-views`
# runs them.
VIEW_QUERY_PREFIX = "create view "
