# Alerts on what breaks the product: dead letters piling up, webhook 5xx, failing renewals.

resource "google_monitoring_notification_channel" "email" {
  count = var.alert_email == null ? 0 : 1

  project      = var.project_id
  display_name = "Refrain ${var.environment} on-call"
  type         = "email"
  labels       = { email_address = var.alert_email }
}

locals {
  notification_channels = google_monitoring_notification_channel.email[*].id
  webhook_service       = local.functions["checkout_webhook"].cloud_name
  renewal_service       = local.functions["renewal_charge"].cloud_name
}

# From our JSON logs: observability.py puts `outcome` into Cloud Logging labels. The
# outcomes named here are the code's own constants (refrain.renewals.worker
# CHARGE_OUTCOMES, refrain.ingest.parking PARKING_SWEPT); refrain_tools.infra.alertcheck
# fails the tests when they drift apart.
resource "google_logging_metric" "renewal_outcomes" {
  project     = var.project_id
  name        = "refrain/renewal_outcomes"
  description = "Renewal charge outcomes (charged, declined, pending_confirmation), labelled by outcome."
  filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.renewal_service}\" AND labels.outcome=(\"charged\" OR \"declined\" OR \"pending_confirmation\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"

    labels {
      key         = "outcome"
      value_type  = "STRING"
      description = "Outcome label of the log line."
    }
  }

  label_extractors = {
    outcome = "EXTRACT(labels.outcome)"
  }
}

# Monitoring answers 404 for a log-based metric for a while after Logging created it
# (terraform-provider-google issue 11102), so a first apply that creates a metric and
# its alert together fails. Alerts on our metrics wait for them to propagate.
resource "time_sleep" "log_metrics_propagate" {
  create_duration = "90s"

  triggers = {
    renewal_outcomes        = google_logging_metric.renewal_outcomes.id
    oldest_parked_event_age = google_logging_metric.oldest_parked_event_age.id
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "Refrain ${var.environment}: messages in a dead-letter queue"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "undelivered messages on a *-dead-letter-hold subscription"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.label.subscription_id=monitoring.regex.full_match(\".*-dead-letter-hold\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.subscription_id"]
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A consumer gave up on a message. Inspect with `refrain dlq list`, fix the cause, then `refrain dlq replay` (docs/OPERATIONS.md)."
  }
}

resource "google_monitoring_alert_policy" "webhook_5xx" {
  project               = var.project_id
  display_name          = "Refrain ${var.environment}: webhook 5xx rate"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "share of 5xx responses from ${local.webhook_service}"
    condition_threshold {
      filter             = "resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${local.webhook_service}\" AND metric.type=\"run.googleapis.com/request_count\" AND metric.label.response_code_class=\"5xx\""
      denominator_filter = "resource.type=\"cloud_run_revision\" AND resource.label.service_name=\"${local.webhook_service}\" AND metric.type=\"run.googleapis.com/request_count\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.webhook_5xx_ratio_threshold
      duration           = "300s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_RATE"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Providers retry on 5xx, but a sustained rate means events are not being applied. Check the function's logs by labels.provider."
  }
}

resource "google_monitoring_alert_policy" "renewal_failures" {
  project               = var.project_id
  depends_on            = [time_sleep.log_metrics_propagate]
  display_name          = "Refrain ${var.environment}: renewal failure rate"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "share of renewal charges declined"
    condition_threshold {
      filter             = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.renewal_outcomes.name}\" AND metric.label.outcome=\"declined\""
      denominator_filter = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.renewal_outcomes.name}\""
      comparison         = "COMPARISON_GT"
      threshold_value    = var.renewal_failure_ratio_threshold
      duration           = "0s"

      aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
      denominator_aggregations {
        alignment_period     = "3600s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Many declines at once usually mean a provider outage or an expired API key, not customers. Compare with the provider's status page."
  }
}

# The parking sweep (outbox_sweep, every minute) logs the age of the oldest parked provider
# event; an event that waits for hours matches nothing (a foreign price, a dashboard-made
# subscription) or waits for an operator. See `refrain webhooks unmatched`.
resource "google_logging_metric" "oldest_parked_event_age" {
  project         = var.project_id
  name            = "refrain/oldest_parked_event_age"
  description     = "Age in seconds of the oldest parked provider event, from each parking sweep."
  filter          = "labels.outcome=\"parking_swept\" AND jsonPayload.oldest_parked_age_s:*"
  value_extractor = "EXTRACT(jsonPayload.oldest_parked_age_s)"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
  }

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 24
      growth_factor      = 2
      scale              = 60
    }
  }
}

resource "google_monitoring_alert_policy" "parked_events" {
  project               = var.project_id
  depends_on            = [time_sleep.log_metrics_propagate]
  display_name          = "Refrain ${var.environment}: provider events parked too long"
  combiner              = "OR"
  notification_channels = local.notification_channels

  conditions {
    display_name = "oldest parked provider event older than ${var.parked_event_max_age_hours} h"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.oldest_parked_event_age.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.parked_event_max_age_hours * 3600
      duration        = "0s"

      aggregations {
        alignment_period     = "600s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = "An authentic provider event has waited too long for the subscription, reference or configuration it needs. List them with `refrain webhooks unmatched --older-than 1h`; fix the mapping (prices, plans) and `refrain webhooks replay AUDIT_ID`, or leave foreign ones to expire with their stored request (30 days). docs/OPERATIONS.md, \"Parked events\"."
  }
}
