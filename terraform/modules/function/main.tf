# One Cloud Function (2nd gen) with its own runtime identity and nothing more than it needs.

resource "google_service_account" "runtime" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "Refrain function ${var.name}"
  description  = "Runtime identity of the ${var.name} function; least privilege."
}

locals {
  member = "serviceAccount:${google_service_account.runtime.email}"
  # functions-framework's gunicorn reads these. Its default is cpu_count() x 4 threads:
  # on a 1-vCPU instance, 4 of the requests Cloud Run sends at once are served and the
  # rest wait in the socket backlog. One worker, one thread per request Cloud Run may
  # send (docs/SECURITY.md).
  server_env = {
    WORKERS = "1"
    THREADS = tostring(var.concurrency)
  }
}

resource "google_project_iam_member" "runtime" {
  for_each = var.project_roles

  project = var.project_id
  role    = each.value
  member  = local.member
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = var.publish_topics

  project = var.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = local.member
}

resource "google_bigquery_dataset_iam_member" "editor" {
  for_each = var.bigquery_datasets

  project    = var.project_id
  dataset_id = each.value
  role       = "roles/bigquery.dataEditor"
  member     = local.member
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.value
  role      = "roles/secretmanager.secretAccessor"
  member    = local.member
}

resource "google_cloudfunctions2_function" "this" {
  #checkov:skip=CKV_GCP_124:ingress is ALLOW_INTERNAL_ONLY unless var.public; only checkout_webhook (providers call it) and account_api (subscribers' apps call it) are public, each verifying every request itself; tests/unit/infra asserts it.
  project     = var.project_id
  location    = var.region
  name        = var.name
  description = var.description
  labels      = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account

    source {
      storage_source {
        bucket = var.source_bucket
        object = var.source_object
      }
    }
  }

  service_config {
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_seconds
    max_instance_request_concurrency = var.concurrency
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    service_account_email            = google_service_account.runtime.email
    all_traffic_on_latest_revision   = true
    # Pub/Sub push and Cloud Scheduler count as internal traffic; only the public functions face the internet.
    ingress_settings      = var.public ? (var.behind_load_balancer ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_ALL") : "ALLOW_INTERNAL_ONLY"
    environment_variables = merge(var.environment, local.server_env)

    dynamic "secret_environment_variables" {
      for_each = var.secrets
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  # The function cannot start before it may read its secrets.
  depends_on = [google_secret_manager_secret_iam_member.accessor]
}

# Gen2 functions are Cloud Run services: invocation is roles/run.invoker on the service.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = var.invokers

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = each.value
}

resource "google_cloud_run_v2_service_iam_member" "public" {
  # Only the public functions: the webhook verifies every request with the provider's own
  # scheme (invariant 6); the account API verifies a Firebase ID token or OIDC token.
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.service_config[0].service
  role     = "roles/run.invoker"
  member   = "allUsers"
}
