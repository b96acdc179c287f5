# terraform plan -var-file=environments/prod.tfvars
project_id  = "refrain-prod-123456"
environment = "prod"
region      = "europe-west1"

firestore_location = "eur3"
bigquery_location  = "EU"

# Two warm webhook instances: provider webhooks time out on cold starts.
webhook_min_instances = 2
webhook_max_instances = 100
worker_max_instances  = 20

mail_from  = "receipts@refrain.example"
ses_region = "eu-west-1"

analytics_partition_expiration_days = 730
deletion_protection                 = true
alert_email                         = "payments-oncall@refrain.example"

# Non-secret settings for every function. Never set REFRAIN_ENVIRONMENT to local/test/dev
# in the cloud: those names let the churn export fall back to the public local pepper.
function_env = {
  REFRAIN_ACCOUNT_URL = "https://account.refrain.example"
}
