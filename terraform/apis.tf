locals {
  # The Android Publisher API: the webhook reads Play purchases with it.
  store_apis = var.google_play != null ? ["androidpublisher.googleapis.com"] : []
  # Cloud Armor and the load balancer in front of the account API (edge.tf).
  edge_apis = var.account_api.edge != null ? ["compute.googleapis.com"] : []
  required_apis = toset(concat(local.store_apis, local.edge_apis, [
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ]))
}

resource "google_project_service" "this" {
  for_each = local.required_apis

  project = var.project_id
  service = each.value

  # Turning an API off on destroy would break anything else in the project using it.
  disable_on_destroy         = false
  disable_dependent_services = false
}
