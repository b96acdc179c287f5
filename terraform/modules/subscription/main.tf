# A subscription with bounded retries and its dead-letter wiring (invariant 8): push when
# push_endpoint is set, else pull (a queue a function drains on a schedule, e.g. churn-export);
# the dead-letter policy, a pull "hold" subscription on the dead-letter topic that
# `refrain dlq list|replay` reads, and the IAM the Pub/Sub service agent needs to
# move a message there (publisher on the DLQ topic, subscriber on this subscription).

variable "project_id" {
  type = string
}

variable "name" {
  type = string
}

variable "topic_id" {
  type = string
}

variable "dead_letter_topic_id" {
  type = string
}

variable "hold_subscription" {
  description = "Name of the pull subscription that keeps dead letters for inspection and replay."
  type        = string
}

variable "max_delivery_attempts" {
  type = number

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "Pub/Sub allows 5 to 100 delivery attempts."
  }
}

variable "min_backoff_s" {
  type = number
}

variable "max_backoff_s" {
  type = number
}

variable "ack_deadline_s" {
  type = number
}

variable "ordering" {
  type = bool
}

variable "filter" {
  type    = string
  default = ""
}

variable "push_endpoint" {
  description = "HTTPS URL the messages are pushed to (function URL + path); null makes a pull subscription."
  type        = string
  default     = null
}

variable "push_audience" {
  description = "OIDC audience: the function's URL, which Cloud Run checks (push only)."
  type        = string
  default     = null
}

variable "push_service_account_email" {
  description = "Identity whose OIDC token authenticates each push (push only)."
  type        = string
  default     = null
}

variable "subscribers" {
  description = "Label => member allowed to pull and ack (roles/pubsub.subscriber on this subscription only)."
  type        = map(string)
  default     = {}
}

variable "pubsub_service_agent" {
  description = "member string of the project's Pub/Sub service agent."
  type        = string
}

variable "retention" {
  type    = string
  default = "604800s"
}

resource "google_pubsub_subscription" "this" {
  project = var.project_id
  name    = var.name
  topic   = var.topic_id

  ack_deadline_seconds       = var.ack_deadline_s
  enable_message_ordering    = var.ordering
  filter                     = var.filter
  message_retention_duration = var.retention

  # Present only for push; without it the subscription is pull.
  dynamic "push_config" {
    for_each = var.push_endpoint == null ? [] : [var.push_endpoint]
    content {
      push_endpoint = push_config.value

      oidc_token {
        service_account_email = var.push_service_account_email
        audience              = var.push_audience
      }
    }
  }

  dead_letter_policy {
    dead_letter_topic     = var.dead_letter_topic_id
    max_delivery_attempts = var.max_delivery_attempts
  }

  retry_policy {
    minimum_backoff = "${var.min_backoff_s}s"
    maximum_backoff = "${var.max_backoff_s}s"
  }

  # An idle subscription must never expire (the default TTL is 31 days).
  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_subscription" "hold" {
  project = var.project_id
  name    = var.hold_subscription
  topic   = var.dead_letter_topic_id

  ack_deadline_seconds       = 60
  message_retention_duration = var.retention

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = var.dead_letter_topic_id
  role    = "roles/pubsub.publisher"
  member  = var.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.this.name
  role         = "roles/pubsub.subscriber"
  member       = var.pubsub_service_agent
}

# The functions that drain a pull subscription may pull and ack it, nothing else.
resource "google_pubsub_subscription_iam_member" "subscriber" {
  for_each = var.subscribers

  project      = var.project_id
  subscription = google_pubsub_subscription.this.name
  role         = "roles/pubsub.subscriber"
  member       = each.value
}

output "id" {
  value = google_pubsub_subscription.this.id
}

output "hold_subscription" {
  value = google_pubsub_subscription.hold.name
}
