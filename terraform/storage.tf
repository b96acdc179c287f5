# Function source archives, built by `refrain package` (dist/functions/ + manifest.json).
# Object names carry the archive's sha256: a changed build is a new object and a redeploy;
# an unchanged one is a no-op.

locals {
  package_manifest = jsondecode(file("${var.package_dir}/manifest.json"))
}

resource "google_storage_bucket" "function_sources" {
  #checkov:skip=CKV_GCP_62:Holds only build inputs written by CI; Cloud Audit Logs cover access.
  project  = var.project_id
  name     = "${var.project_id}-refrain-sources"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 5
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this]
}

resource "google_storage_bucket_object" "function_source" {
  for_each = local.sources

  bucket       = google_storage_bucket.function_sources.name
  name         = "functions/${each.key}/${local.package_manifest.packages[each.key].sha256}.zip"
  source       = "${var.package_dir}/${local.package_manifest.packages[each.key].file}"
  content_type = "application/zip"
}
