# Firestore (native mode) is the source of truth. Indexes and TTL fields come from
# tools/refrain_tools/infra/firestore_spec.py through generated/topology.json.

resource "google_firestore_database" "this" {
  project     = var.project_id
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy                   = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.this]
}

resource "google_firestore_index" "this" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

# TTL: Firestore deletes a document some time after its timestamp passes. The empty
# index_config drops the single-field index on the TTL field (no hot-spotting on writes).
resource "google_firestore_field" "ttl" {
  for_each = local.firestore_ttl_fields

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection
  field      = each.value.field

  ttl_config {}
  index_config {}
}

# Fields written in time order that no query reads alone: no single-field index, so their
# writes do not pile up at one end of an index range (firestore_spec.INDEX_EXEMPTIONS).
resource "google_firestore_field" "unindexed" {
  for_each = local.firestore_index_exemptions

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection
  field      = each.value.field

  index_config {}
}
