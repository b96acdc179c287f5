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

account_url = "https://account.refrain.example"

# The providers this deployment takes payments from (null or absent: off). Each brings
# its secrets; renewals charge through Stripe and Adyen (REFRAIN_PAYMENT_GATEWAY=providers).
stripe = {
  price_plans = {} # your own Stripe prices → plans, if checkouts do not carry Refrain's metadata
}

adyen = {
  merchant_account = "RefrainECOM"
  environment      = "live"
  live_prefix      = "1797a841fbb37ca7-RefrainECOM" # Customer Area → Developers → API URLs
}

google_play = {
  package_names = ["com.refrain.app"]
  product_plans = { "premium_monthly" = "individual_monthly" }
}

apple = {
  bundle_id     = "com.refrain.app"
  environment   = "Production"
  app_apple_id  = 1234567890 # App Store Connect → App Information → Apple ID
  product_plans = { "com.refrain.premium.monthly" = "individual_monthly" }
}

# Keep secrets' replicas in the EU.
secret_locations = ["europe-west1", "europe-west4"]

# Extra non-secret settings for every function, beyond the above. Never set
# REFRAIN_ENVIRONMENT to local/test/dev in the cloud: those names let the churn export
# fall back to the public local pepper and lift the start-up checks.
function_env = {}
