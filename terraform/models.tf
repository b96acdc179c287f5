# Trained model artifacts (refrain.adapters.gcs_models): gs://<bucket>/dunning/v<N>/model.json
# and metadata.json (training window, hold-out metrics, sha256). Written by
# `refrain models train dunning --publish`; a version is never overwritten (the writer uses
# if_generation_match=0), object versioning keeps what an operator deletes by mistake.
#
# Not here yet: the read grant for renewal_charge (roles/storage.objectViewer on this bucket,
# with REFRAIN_MODEL_BUCKET in its environment) lands with the code that loads the model,
# and the scheduled training job: training runs scikit-learn, which function archives never
# ship, so it needs a Cloud Run job image built from the tooling environment plus a Cloud
# Scheduler trigger; until then training is an operator command.

resource "google_storage_bucket" "models" {
  #checkov:skip=CKV_GCP_62:Holds only model artifacts written by the training command; Cloud Audit Logs cover access.
  project  = var.project_id
  name     = "${var.project_id}-refrain-models"
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # A deleted or replaced object stays recoverable for 30 days, then goes.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 30
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.this]
}
