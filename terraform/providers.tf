provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = merge(var.labels, {
    app         = "refrain"
    environment = var.environment
  })
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # Google-managed identity that delivers push messages and forwards dead letters.
  pubsub_service_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
