# The deployed functions: one module instance per entry of the topology's `functions`.
# What the topology does not say (sizes, secrets, permissions) is cloud-only and lives here;
# a test checks that these keys are exactly the topology's functions.

locals {
  stripe = var.stripe != null
  adyen  = var.adyen != null
  play   = var.google_play != null
  apple  = var.apple != null

  play_push_audience = local.play ? var.google_play.push_audience : "refrain-google-play-push"

  # Each provider brings its secrets (created empty; docs/OPERATIONS.md adds the values).
  # STRIPE_API_KEY on the webhook reads the line items of a checkout made without
  # Refrain's metadata.
  webhook_secrets = concat(
    local.stripe ? ["STRIPE_WEBHOOK_SECRET", "STRIPE_API_KEY"] : [],
    local.adyen ? ["ADYEN_HMAC_KEY", "ADYEN_BASIC_AUTH_PASSWORD"] : [],
  )
  webhook_env = [
    "GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "STRIPE_PRICE_PLANS",
    "ADYEN_BASIC_AUTH_USER", "ADYEN_REFERENCE_PATTERN", "ADYEN_REFERENCE_PLANS",
    "GOOGLE_PLAY_PACKAGE_NAMES", "GOOGLE_PLAY_PRODUCT_PLANS", "GOOGLE_PLAY_PUSH_AUDIENCE",
    "GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT",
    "APPLE_BUNDLE_ID", "APPLE_ENVIRONMENT", "APPLE_APP_APPLE_ID", "APPLE_PRODUCT_PLANS",
  ]

  # Every non-secret setting Terraform gives a function, by name; null = not configured
  # here (the variable is then left unset). Which function gets which: `env` below,
  # checked against what each function reads (refrain_tools.infra.configcheck).
  settings = {
    GOOGLE_CLOUD_PROJECT             = var.project_id
    LOG_EXECUTION_ID                 = "true"
    REFRAIN_BIGQUERY_LOCATION        = var.bigquery_location
    REFRAIN_SES_REGION               = var.ses_region
    REFRAIN_MAIL_FROM                = var.mail_from
    REFRAIN_ACCOUNT_URL              = var.account_url
    REFRAIN_PAYMENT_GATEWAY          = "providers"
    STRIPE_PRICE_PLANS               = local.stripe ? jsonencode(var.stripe.price_plans) : null
    ADYEN_BASIC_AUTH_USER            = local.adyen ? var.adyen_basic_auth_user : null
    ADYEN_MERCHANT_ACCOUNT           = local.adyen ? var.adyen.merchant_account : null
    ADYEN_ENVIRONMENT                = local.adyen ? var.adyen.environment : null
    ADYEN_LIVE_PREFIX                = local.adyen ? var.adyen.live_prefix : null
    ADYEN_REFERENCE_PATTERN          = local.adyen ? var.adyen.reference_pattern : null
    ADYEN_REFERENCE_PLANS            = local.adyen ? jsonencode(var.adyen.reference_plans) : null
    GOOGLE_PLAY_PACKAGE_NAMES        = local.play ? join(",", var.google_play.package_names) : null
    GOOGLE_PLAY_PRODUCT_PLANS        = local.play ? jsonencode(var.google_play.product_plans) : null
    GOOGLE_PLAY_PUSH_AUDIENCE        = local.play ? var.google_play.push_audience : null
    GOOGLE_PLAY_PUSH_SERVICE_ACCOUNT = local.play ? google_service_account.pubsub_push.email : null
    APPLE_BUNDLE_ID                  = local.apple ? var.apple.bundle_id : null
    APPLE_ENVIRONMENT                = local.apple ? var.apple.environment : null
    APPLE_APP_APPLE_ID               = local.apple ? (var.apple.app_apple_id == null ? null : tostring(var.apple.app_apple_id)) : null
    APPLE_PRODUCT_PLANS              = local.apple ? jsonencode(var.apple.product_plans) : null
    REFRAIN_FIREBASE_PROJECT_ID      = coalesce(var.account_api.firebase_project_id, var.project_id)
    REFRAIN_ACCOUNT_CORS_ORIGINS     = length(var.account_api.cors_origins) > 0 ? join(",", var.account_api.cors_origins) : null
    REFRAIN_ACCOUNT_SERVICE_AUDIENCE = var.account_api.service_audience
    REFRAIN_ACCOUNT_SERVICE_ACCOUNTS = length(var.account_api.service_accounts) > 0 ? join(",", var.account_api.service_accounts) : null
    REFRAIN_FIREBASE_WEB_API_KEY     = var.account_api.web_api_key
    # Behind the load balancer X-Forwarded-For ends "<client>,<load balancer>": two hops.
    REFRAIN_TRUSTED_PROXY_HOPS = local.account_edge ? "2" : null
  }

  function_settings = {
    checkout_webhook = {
      memory        = "512Mi"
      concurrency   = 40
      min_instances = var.webhook_min_instances
      max_instances = var.webhook_max_instances
      env           = local.webhook_env
      secrets       = local.webhook_secrets
      publishes_to  = ["subscription-events"]
      subscribes_to = []
      project_roles = ["roles/datastore.user"]
      datasets      = []
    }
    outbox_sweep = {
      memory        = "256Mi"
      concurrency   = 1
      min_instances = 0
      max_instances = 1
      env           = local.webhook_env # sweeps parked events through the webhook's routes
      secrets       = local.webhook_secrets
      publishes_to  = ["subscription-events"]
      subscribes_to = []
      project_roles = ["roles/datastore.user"]
      datasets      = []
    }
    renewal_tick = {
      memory        = "256Mi"
      concurrency   = 1
      min_instances = 0
      max_instances = 1
      env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID"]
      secrets       = []
      publishes_to  = ["renewal-charges"]
      subscribes_to = []
      project_roles = ["roles/datastore.viewer"]
      datasets      = []
    }
    renewal_charge = {
      memory        = "512Mi"
      concurrency   = 8
      min_instances = 0
      max_instances = var.worker_max_instances
      env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "REFRAIN_PAYMENT_GATEWAY", "ADYEN_MERCHANT_ACCOUNT", "ADYEN_ENVIRONMENT", "ADYEN_LIVE_PREFIX"]
      secrets       = concat(["REFRAIN_SUBSCRIBER_PEPPER"], local.stripe ? ["STRIPE_API_KEY"] : [], local.adyen ? ["ADYEN_API_KEY"] : []) # pepper: the dunning experiment's unit
      publishes_to  = ["subscription-events"]
      subscribes_to = []
      project_roles = ["roles/datastore.user"]
      datasets      = []
    }
    receipt_email = {
      memory        = "512Mi"
      concurrency   = 4
      min_instances = 0
      max_instances = var.worker_max_instances
      env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "REFRAIN_MAIL_FROM", "REFRAIN_SES_REGION", "REFRAIN_ACCOUNT_URL"]
      secrets       = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
      publishes_to  = []
      subscribes_to = []
      project_roles = ["roles/datastore.user"]
      datasets      = []
    }
    # Entry point export_flush: each export-flushes tick drains churn-export in batches;
    # one flush at a time (the ticks are a minute apart, a flush takes seconds).
    churn_export = {
      memory        = "512Mi"
      concurrency   = 1
      min_instances = 0
      max_instances = 1
      env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "REFRAIN_BIGQUERY_LOCATION"]
      secrets       = ["REFRAIN_SUBSCRIBER_PEPPER"]
      publishes_to  = []
      subscribes_to = ["churn-export"]
      project_roles = ["roles/bigquery.jobUser"]
      datasets      = local.topology.datasets
    }
    feature_snapshot = {
      memory        = "1Gi"
      concurrency   = 1
      min_instances = 0
      max_instances = 1
      env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "REFRAIN_BIGQUERY_LOCATION"]
      secrets       = []
      publishes_to  = []
      subscribes_to = []
      project_roles = ["roles/bigquery.jobUser"]
      datasets      = local.topology.datasets
    }
    # The subscribers' API: public like the webhook; every request carries a Firebase ID
    # token (or a service account's OIDC token) that the function verifies (docs/SECURITY.md).
    account_api = {
      memory        = "512Mi"
      concurrency   = 40
      min_instances = var.account_api.min_instances
      max_instances = var.account_api.max_instances
      env           = ["GOOGLE_CLOUD_PROJECT", "LOG_EXECUTION_ID", "REFRAIN_FIREBASE_PROJECT_ID", "REFRAIN_ACCOUNT_CORS_ORIGINS", "REFRAIN_ACCOUNT_SERVICE_AUDIENCE", "REFRAIN_ACCOUNT_SERVICE_ACCOUNTS", "REFRAIN_FIREBASE_WEB_API_KEY", "REFRAIN_TRUSTED_PROXY_HOPS", "REFRAIN_ACCOUNT_URL", "ADYEN_MERCHANT_ACCOUNT", "ADYEN_ENVIRONMENT", "ADYEN_LIVE_PREFIX"]
      # The provider keys: card-update sessions (POST /v1/me/payment-method/session).
      secrets       = concat(local.stripe ? ["STRIPE_API_KEY"] : [], local.adyen ? ["ADYEN_API_KEY"] : [])
      publishes_to  = ["subscription-events", "renewal-charges"] # care actions; an upgrade's charge
      subscribes_to = []
      project_roles = ["roles/datastore.user"]
      datasets      = []
    }
  }

  # Members that may invoke each function: the push identity, for every function a
  # subscription delivers to.
  pushed_functions = toset([for s in local.subscriptions : s.push_function if s.push_function != null])
  push_invoker     = { pubsub-push = "serviceAccount:${google_service_account.pubsub_push.email}" }

}

module "function" {
  source   = "./modules/function"
  for_each = local.functions

  project_id  = var.project_id
  region      = var.region
  name        = each.value.cloud_name
  description = "Refrain ${each.key} (${each.value.signature}) from functions/${each.value.source}"
  entry_point = each.value.entry_point
  public      = each.value.public
  # Cloud Armor in front of the account API when configured (edge.tf).
  behind_load_balancer = each.key == "account_api" && local.account_edge

  source_bucket         = google_storage_bucket.function_sources.name
  source_object         = google_storage_bucket_object.function_source[each.value.source].name
  build_service_account = google_service_account.function_build.id
  service_account_id    = "fn-${each.value.cloud_name}"

  memory          = local.function_settings[each.key].memory
  timeout_seconds = local.functions[each.key].timeout_s
  concurrency     = local.function_settings[each.key].concurrency
  min_instances   = local.function_settings[each.key].min_instances
  max_instances   = local.function_settings[each.key].max_instances

  environment = merge(var.function_env, {
    for name in local.function_settings[each.key].env : name => local.settings[name] if local.settings[name] != null
  })
  secrets = {
    for env in local.function_settings[each.key].secrets : env => google_secret_manager_secret.this[env].secret_id
  }
  project_roles     = toset(local.function_settings[each.key].project_roles)
  publish_topics    = toset([for t in local.function_settings[each.key].publishes_to : module.topic[t].name])
  bigquery_datasets = toset([for d in local.function_settings[each.key].datasets : module.analytics[d].dataset_id])
  invokers = {
    for label, member in local.push_invoker : label => member if contains(local.pushed_functions, each.key)
  }

  labels = { function = replace(each.key, "_", "-") }

  # A function's build needs its build grants in place (and propagated) first.
  depends_on = [google_project_service.this, time_sleep.function_build_iam]
}

# Cloud Build builds the function images as this account instead of a broad default one.
resource "google_service_account" "function_build" {
  project      = var.project_id
  account_id   = "refrain-function-build"
  display_name = "Refrain function builds"
}

resource "google_project_iam_member" "function_build" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
  ])

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.function_build.email}"
}

resource "google_storage_bucket_iam_member" "function_build_reads_sources" {
  bucket = google_storage_bucket.function_sources.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.function_build.email}"
}

# Cloud Functions copies each archive into its own bucket, gcf-v2-sources-<number>-<region>,
# and Cloud Build fetches it from there as the build account (terraform-provider-google
# issue 20571). The bucket appears with the first function, so the grant is project-level,
# conditioned on that bucket's name.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_project_iam_member" "function_build_reads_gcf_sources" {
  project = var.project_id
  role    = "roles/storage.objectViewer"
  member  = "serviceAccount:${google_service_account.function_build.email}"

  condition {
    title       = "gcf-v2-sources only"
    description = "The bucket Cloud Functions copies function sources into."
    expression  = "resource.name.startsWith(\"projects/_/buckets/gcf-v2-sources-${data.google_project.this.number}-${var.region}\")"
  }
}

# IAM grants take a while to propagate; builds started at once are refused.
resource "time_sleep" "function_build_iam" {
  create_duration = "60s"

  depends_on = [
    google_project_iam_member.function_build,
    google_project_iam_member.function_build_reads_gcf_sources,
    google_storage_bucket_iam_member.function_build_reads_sources,
  ]
}
