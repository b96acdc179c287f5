# Secret Manager secrets are created EMPTY: Terraform never holds a secret value.
# Operators add versions with `gcloud secrets versions add` (docs/OPERATIONS.md).

locals {
  secret_names = toset(flatten([for s in values(local.function_settings) : s.secrets]))
}

resource "google_secret_manager_secret" "this" {
  for_each = local.secret_names

  project   = var.project_id
  secret_id = lower(replace(each.value, "_", "-"))
  labels    = { env-var = lower(replace(each.value, "_", "-")) }

  replication {
    dynamic "auto" {
      for_each = var.secret_locations == null ? [1] : []
      content {}
    }
    dynamic "user_managed" {
      for_each = var.secret_locations == null ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = toset(var.secret_locations)
          content {
            location = replicas.value
          }
        }
      }
    }
  }

  depends_on = [google_project_service.this]
}
