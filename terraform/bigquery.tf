module "analytics" {
  source   = "./modules/analytics"
  for_each = local.datasets

  project_id = var.project_id
  dataset_id = each.key
  location   = var.bigquery_location
  tables = {
    for key, t in local.tables : t.name => {
      description     = t.description
      partition_field = t.partition_field
      clustering      = t.clustering
      schema_file     = t.schema_file
    } if t.dataset == each.key
  }
  partition_expiration_days = var.analytics_partition_expiration_days
  deletion_protection       = var.deletion_protection

  depends_on = [google_project_service.this]
}
