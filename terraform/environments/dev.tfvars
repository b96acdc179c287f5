# terraform plan -var-file=environments/dev.tfvars
project_id  = "refrain-dev-123456"
environment = "dev"
region      = "europe-west1"

firestore_location = "eur3"
bigquery_location  = "EU"

# No warm webhook instance in dev: cold starts are acceptable there.
webhook_min_instances = 0
webhook_max_instances = 3
worker_max_instances  = 2

mail_from  = "receipts@dev.refrain.example"
ses_region = "eu-west-1"

analytics_partition_expiration_days = 90
deletion_protection                 = false
alert_email                         = null

# Non-secret settings for every function. Never set REFRAIN_ENVIRONMENT to local/test/dev
# in the cloud: those names let the churn export fall back to the public local pepper.
function_env = {
  REFRAIN_ACCOUNT_URL = "https://account.dev.refrain.example"
}
