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

account_url = "https://account.dev.refrain.example"

# The providers this deployment takes payments from (null or absent: off). Each brings
# its secrets; renewals charge through Stripe and Adyen (REFRAIN_PAYMENT_GATEWAY=providers).
stripe = {
  price_plans = {} # your own Stripe prices → plans, if checkouts do not carry Refrain's metadata
}

adyen = {
  merchant_account = "RefrainECOM"
  environment      = "test"
}

google_play = {
  package_names = ["com.refrain.app"]
  product_plans = { "premium_monthly" = "individual_monthly" }
}

apple = {
  bundle_id     = "com.refrain.app"
  environment   = "Sandbox"
  product_plans = { "com.refrain.premium.monthly" = "individual_monthly" }
}

# Keep secrets' replicas in the EU.
secret_locations = ["europe-west1", "europe-west4"]

# Extra non-secret settings for every function, beyond the above. Never set
# REFRAIN_ENVIRONMENT to local/test/dev in the cloud: those names let the churn export
# fall back to the public local pepper and lift the start-up checks.
function_env = {}
