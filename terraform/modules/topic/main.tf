# One Pub/Sub topic. Dead-letter topics use this module too; their subscription module
# grants the Pub/Sub service agent the right to publish into them.

variable "project_id" {
  type = string
}

variable "name" {
  type = string
}

variable "retention_days" {
  description = "How long the topic keeps published messages (seek/replay), 1-31 days."
  type        = number
  default     = 7
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key; null uses Google-managed encryption."
  type        = string
  default     = null
}

variable "publishers" {
  description = "Extra members allowed to publish (e.g. Google Play's notification account)."
  type        = set(string)
  default     = []
}

resource "google_pubsub_topic" "this" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption by default; operators may pass kms_key_name.
  project                    = var.project_id
  name                       = var.name
  message_retention_duration = "${var.retention_days * 86400}s"
  kms_key_name               = var.kms_key_name
}

resource "google_pubsub_topic_iam_member" "publisher" {
  for_each = var.publishers

  project = var.project_id
  topic   = google_pubsub_topic.this.name
  role    = "roles/pubsub.publisher"
  member  = each.value
}

output "id" {
  value = google_pubsub_topic.this.id
}

output "name" {
  value = google_pubsub_topic.this.name
}
