output "uri" {
  description = "HTTPS URL of the function (also the OIDC audience for push delivery)."
  value       = google_cloudfunctions2_function.this.service_config[0].uri
}

output "service_account_email" {
  value = google_service_account.runtime.email
}

output "service" {
  description = "Name of the Cloud Run service behind the function."
  value       = google_cloudfunctions2_function.this.service_config[0].service
}
