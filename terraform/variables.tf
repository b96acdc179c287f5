variable "project_id" {
  description = "The GCP project Refrain is deployed into."
  type        = string
}

variable "environment" {
  description = "Short environment name (dev, prod); used in labels and alert names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or hyphens."
  }
}

variable "region" {
  description = "Region for functions, Cloud Scheduler and the source bucket."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Firestore database location (multi-region eur3/nam5 or a region)."
  type        = string
  default     = "eur3"
}

variable "bigquery_location" {
  description = "Location of the analytics dataset."
  type        = string
  default     = "EU"
}

variable "labels" {
  description = "Extra labels put on every resource."
  type        = map(string)
  default     = {}
}

variable "package_dir" {
  description = "Where `refrain package` wrote the function archives and manifest.json."
  type        = string
  default     = "../dist/functions"
}

variable "webhook_min_instances" {
  description = "Warm instances of checkout_webhook (providers time out on slow cold starts)."
  type        = number
  default     = 1
}

variable "webhook_max_instances" {
  description = "Upper bound of checkout_webhook instances."
  type        = number
  default     = 20
}

variable "worker_max_instances" {
  description = "Upper bound of instances for each Pub/Sub-driven function."
  type        = number
  default     = 10
}

variable "function_env" {
  description = "Extra non-secret environment variables for every function (e.g. APPLE_BUNDLE_ID)."
  type        = map(string)
  default     = {}
}

variable "mail_from" {
  description = "Sender address of receipt e-mails (verified in SES)."
  type        = string
}

variable "ses_region" {
  description = "AWS region of the SES account that sends receipts."
  type        = string
  default     = "eu-west-1"
}

variable "adyen_basic_auth_user" {
  description = "Basic-auth user name configured on the Adyen webhook (the password is a secret)."
  type        = string
  default     = "refrain"
}

variable "analytics_partition_expiration_days" {
  description = "Days a churn-signal partition is kept; null keeps partitions forever."
  type        = number
  default     = null
}

variable "deletion_protection" {
  description = "Protect Firestore and BigQuery from `terraform destroy`. Keep true in prod."
  type        = bool
  default     = true
}

variable "alert_email" {
  description = "E-mail address alerts go to; null creates no notification channel."
  type        = string
  default     = null
}

variable "webhook_5xx_ratio_threshold" {
  description = "Alert when this share of webhook responses over 5 minutes are 5xx."
  type        = number
  default     = 0.02
}

variable "renewal_failure_ratio_threshold" {
  description = "Alert when this share of renewal charge outcomes over 1 hour are payment_failed."
  type        = number
  default     = 0.25
}

variable "parked_event_max_age_hours" {
  description = "Alert when the oldest parked provider event (refrain webhooks unmatched) has waited longer than this."
  type        = number
  default     = 24
}
