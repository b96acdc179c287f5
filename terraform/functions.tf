# The deployed functions: one module instance per entry of the topology's `functions`.
# What the topology does not say (sizes, secrets, permissions) is cloud-only and lives here;
# a test checks that these keys are exactly the topology's functions.

locals {
  function_settings = {
    checkout_webhook = {
      memory        = "512Mi"
      concurrency   = 40
      min_instances = var.webhook_min_instances
      max_instances = var.webhook_max_instances
      # STRIPE_API_KEY: reads the line items of a checkout made without Refrain's metadata.
      secrets       = ["STRIPE_WEBHOOK_SECRET", "ADYEN_HMAC_KEY", "ADYEN_BASIC_AUTH_PASSWORD", "STRIPE_API_KEY"]
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
      secrets       = ["STRIPE_API_KEY"] # replays parked checkouts (line items)
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
      secrets       = []
      publishes_to  = ["renewal-charges"]
      subscribes_to = []
      project_roles = ["roles/datastore.user"]
      datasets      = []
    }
    renewal_charge = {
      memory        = "512Mi"
      concurrency   = 8
      min_instances = 0
      max_instances = var.worker_max_instances
      secrets       = ["STRIPE_API_KEY", "ADYEN_API_KEY"]
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
      secrets       = ["REFRAIN_SUBSCRIBER_PEPPER"]
      publishes_to  = []
      subscribes_to = ["churn-export"]
      project_roles = ["roles/datastore.user", "roles/bigquery.jobUser"]
      datasets      = local.topology.datasets
    }
    feature_snapshot = {
      memory        = "1Gi"
      concurrency   = 1
      min_instances = 0
      max_instances = 1
      secrets       = ["REFRAIN_SUBSCRIBER_PEPPER"]
      publishes_to  = []
      subscribes_to = []
      project_roles = ["roles/datastore.viewer", "roles/bigquery.jobUser"]
      datasets      = local.topology.datasets
    }
  }

  # Members that may invoke each function: the push identity, for every function a
  # subscription delivers to.
  pushed_functions = toset([for s in local.subscriptions : s.push_function if s.push_function != null])
  push_invoker     = { pubsub-push = "serviceAccount:${google_service_account.pubsub_push.email}" }

  common_env = merge(var.function_env, {
    GOOGLE_CLOUD_PROJECT      = var.project_id
    REFRAIN_BIGQUERY_LOCATION = var.bigquery_location
    REFRAIN_SES_REGION        = var.ses_region
    REFRAIN_MAIL_FROM         = var.mail_from
    ADYEN_BASIC_AUTH_USER     = var.adyen_basic_auth_user
    LOG_EXECUTION_ID          = "true"
  })
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

  source_bucket         = google_storage_bucket.function_sources.name
  source_object         = google_storage_bucket_object.function_source[each.value.source].name
  build_service_account = google_service_account.function_build.id
  service_account_id    = "fn-${each.value.cloud_name}"

  memory          = local.function_settings[each.key].memory
  timeout_seconds = local.functions[each.key].timeout_s
  concurrency     = local.function_settings[each.key].concurrency
  min_instances   = local.function_settings[each.key].min_instances
  max_instances   = local.function_settings[each.key].max_instances

  environment = local.common_env
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

  depends_on = [google_project_service.this]
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
