# The analytics dataset and its tables. Schemas are generated from
# shared/refrain/topology.py into schemas/ (scripts/gen_tf_schemas.py); never edit them by hand.

variable "project_id" {
  type = string
}

variable "dataset_id" {
  type = string
}

variable "location" {
  type = string
}

variable "tables" {
  description = "Table name => generated topology entry (partition_field, clustering, schema_file)."
  type = map(object({
    description     = string
    partition_field = string
    clustering      = list(string)
    schema_file     = string
  }))
}

variable "partition_expiration_days" {
  description = "Days a partition is kept; null keeps partitions forever."
  type        = number
  default     = null
}

variable "deletion_protection" {
  type    = bool
  default = true
}

variable "kms_key_name" {
  description = "Optional Cloud KMS key for the dataset; null uses Google-managed encryption."
  type        = string
  default     = null
}

locals {
  partition_expiration_ms = var.partition_expiration_days == null ? null : var.partition_expiration_days * 86400000
}

resource "google_bigquery_dataset" "this" {
  #checkov:skip=CKV_GCP_81:Google-managed encryption by default; operators may pass kms_key_name.
  project       = var.project_id
  dataset_id    = var.dataset_id
  location      = var.location
  description   = "Refrain churn signals and features; pseudonymous (invariant 7)."
  friendly_name = "Refrain analytics"

  delete_contents_on_destroy = !var.deletion_protection

  dynamic "default_encryption_configuration" {
    for_each = var.kms_key_name == null ? [] : [var.kms_key_name]
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }
}

resource "google_bigquery_table" "this" {
  #checkov:skip=CKV_GCP_80:Google-managed encryption by default; the dataset carries the optional CMEK.
  for_each = var.tables

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = each.key
  description         = each.value.description
  deletion_protection = var.deletion_protection
  schema              = file("${path.module}/schemas/${each.value.schema_file}")
  clustering          = length(each.value.clustering) > 0 ? each.value.clustering : null

  dynamic "time_partitioning" {
    for_each = each.value.partition_field == null ? [] : [each.value.partition_field]
    content {
      type          = "DAY"
      field         = time_partitioning.value
      expiration_ms = local.partition_expiration_ms
    }
  }

  require_partition_filter = false
}

output "dataset_id" {
  value = google_bigquery_dataset.this.dataset_id
}

output "tables" {
  value = { for name, t in google_bigquery_table.this : name => t.id }
}
