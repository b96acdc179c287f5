output "webhook_url" {
  description = "Base URL of checkout_webhook; register <url>/stripe and <url>/adyen with the providers."
  value       = module.function["checkout_webhook"].uri

  precondition {
    condition     = local.stripe || local.adyen || local.play || local.apple
    error_message = "Configure at least one of stripe, adyen, google_play, apple: otherwise no provider can reach Refrain."
  }
}

output "account_api_url" {
  description = "Base URL of account_api; the app calls <url>/v1/me/... with a Firebase ID token (through Cloud Armor when account_api.edge is set)."
  value       = local.account_edge ? "https://${var.account_api.edge.domain}" : module.function["account_api"].uri
}

output "account_api_edge_ip" {
  description = "With account_api.edge: the address the domain's A record must point at (the managed certificate is issued once it does)."
  value       = local.account_edge ? google_compute_global_address.account_api[0].address : null
}

output "play_console_accounts" {
  description = "Service accounts to invite in Google Play Console (Users and permissions: View financial data, Manage orders and subscriptions): they read purchases through the Android Publisher API."
  value       = local.play ? [for fn in ["checkout_webhook", "outbox_sweep"] : module.function[fn].service_account_email] : []
}

output "function_urls" {
  value = { for name, f in module.function : name => f.uri }
}

output "function_service_accounts" {
  value = { for name, f in module.function : name => f.service_account_email }
}

output "secrets_to_fill" {
  description = "Secret Manager secrets created empty; add a version to each before the functions start."
  value       = { for env, s in google_secret_manager_secret.this : env => s.secret_id }
}

output "dead_letter_hold_subscriptions" {
  value = { for name, s in module.subscription : name => s.hold_subscription }
}

output "play_notifications_topic" {
  description = "Topic to enter in Google Play Console for real-time developer notifications."
  value       = module.topic["play-notifications"].id
}

output "webhook_stable_url" {
  description = "The cloudfunctions.net URL of checkout_webhook; known before the first deploy, so providers can be registered first."
  value       = "https://${var.region}-${var.project_id}.cloudfunctions.net/${local.functions["checkout_webhook"].cloud_name}"
}

output "model_bucket" {
  description = "Bucket of trained model artifacts (REFRAIN_MODEL_BUCKET for the training command)."
  value       = google_storage_bucket.models.name
}
