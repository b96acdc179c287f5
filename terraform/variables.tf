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
  # Each idle warm instance (1 vCPU, 512 MiB) costs about $9.86 a month at Tier 1 list prices
  # (docs/CAPACITY.md, "Cold start"). Start-up CPU boost would be the other lever, but
  # google_cloudfunctions2_function has no such argument in the pinned provider (6.14.0).
  description = "Warm instances of checkout_webhook, the one public latency-sensitive function (providers time out on slow cold starts)."
  type        = number
  default     = 1
  validation {
    condition     = var.webhook_min_instances >= 0 && floor(var.webhook_min_instances) == var.webhook_min_instances
    error_message = "webhook_min_instances is a whole number of instances, 0 or more."
  }
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
  description = "Extra non-secret environment variables for every function, beyond what the variables below set (e.g. REFRAIN_INVOICE_SERIES_SHARDS). Settings Terraform sets win."
  type        = map(string)
  default     = {}
}

variable "account_url" {
  description = "Where receipts' \"update your payment method\" links point (your account pages)."
  type        = string
}

variable "stripe" {
  description = "Take Stripe payments (webhooks and renewal charges); null turns Stripe off. Secrets: stripe-webhook-secret, stripe-api-key. price_plans maps your Stripe price ids or lookup keys to plans (\"plan\" or \"plan@MARKET\")."
  type = object({
    price_plans = optional(map(string), {})
  })
  default = null
}

variable "adyen" {
  description = "Take Adyen payments; null turns Adyen off. environment is Adyen's platform, test or live; live needs live_prefix (Customer Area → Developers → API URLs). Secrets: adyen-hmac-key, adyen-basic-auth-password, adyen-api-key."
  type = object({
    merchant_account  = string
    environment       = string
    live_prefix       = optional(string)
    reference_pattern = optional(string)
    reference_plans   = optional(map(string), {})
  })
  default = null

  validation {
    condition     = var.adyen == null || contains(["test", "live"], try(var.adyen.environment, ""))
    error_message = "adyen.environment must be \"test\" or \"live\"."
  }
  validation {
    condition     = var.adyen == null || try(var.adyen.environment, "") != "live" || try(var.adyen.live_prefix, null) != null
    error_message = "adyen.environment = \"live\" needs adyen.live_prefix: without it the client targets Adyen's test platform."
  }
}

variable "google_play" {
  description = "Google Play subscriptions (Real-time developer notifications); null turns Play off. push_audience is the fixed audience of the push's OIDC token (the webhook checks it; it cannot be the webhook's own URL, which is only known after the function exists)."
  type = object({
    package_names = list(string)
    product_plans = map(string)
    push_audience = optional(string, "refrain-google-play-push")
  })
  default = null
}

variable "apple" {
  description = "App Store subscriptions (App Store Server Notifications v2); null turns Apple off. environment: Production or Sandbox; Production needs app_apple_id. Apple Root CA - G3 ships with the code."
  type = object({
    bundle_id     = string
    environment   = string
    app_apple_id  = optional(number)
    product_plans = map(string)
  })
  default = null

  validation {
    condition     = var.apple == null || contains(["Production", "Sandbox"], try(var.apple.environment, ""))
    error_message = "apple.environment must be \"Production\" or \"Sandbox\"."
  }
  validation {
    condition     = var.apple == null || try(var.apple.environment, "") != "Production" || try(var.apple.app_apple_id, null) != null
    error_message = "apple.environment = \"Production\" needs apple.app_apple_id (App Store Connect → App Information → Apple ID)."
  }
}

variable "secret_locations" {
  description = "Regions Secret Manager keeps the secrets' replicas in (data residency); null lets Google choose (global)."
  type        = list(string)
  default     = null
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
  description = "Alert when this share of renewal charge outcomes over 1 hour are declined."
  type        = number
  default     = 0.25
}

variable "parked_event_max_age_hours" {
  description = "Alert when the oldest parked provider event (refrain webhooks unmatched) has waited longer than this."
  type        = number
  default     = 24
}

variable "account_api" {
  description = "The subscribers' account API. edge: Cloud Armor and a load balancer in front (terraform/edge.tf); firebase_project_id: the Firebase / Identity Platform project whose ID tokens it accepts (default: project_id); cors_origins: the exact origins browsers may call from; service_accounts: e-mails of service accounts that may act for any account (OIDC tokens for service_audience); web_api_key: the Firebase web API key the account page (/v1/account-page/) signs in with, public by design."
  type = object({
    firebase_project_id = optional(string)
    cors_origins        = optional(list(string), [])
    service_accounts    = optional(list(string), [])
    service_audience    = optional(string, "refrain-account-api")
    web_api_key         = optional(string)
    min_instances       = optional(number, 1)
    max_instances       = optional(number, 20)
    # Cloud Armor in front (terraform/edge.tf): an external Application Load Balancer on
    # this domain, per-IP rate-based bans and Google's preconfigured WAF rules; the
    # function then takes traffic only through the load balancer. null: no edge.
    edge = optional(object({
      domain                 = string
      ip_requests_per_minute = optional(number, 600)
      ban_seconds            = optional(number, 600)
    }))
  })
  default = {}
  validation {
    condition     = var.account_api.edge == null || try(var.account_api.edge.ip_requests_per_minute >= 10 && var.account_api.edge.ban_seconds >= 60, false)
    error_message = "account_api.edge: ip_requests_per_minute must be 10 or more and ban_seconds 60 or more."
  }
}
