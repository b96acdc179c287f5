# Topics and subscriptions, one per topology entry (generated/topology.json).
#
# A subscription with a push_function pushes to it; one without (churn-export) is a pull
# queue that a function drains on a schedule, and only that function may pull from it
# (roles/pubsub.subscriber on that subscription, from function_settings.subscribes_to).
#
# Push subscriptions (not Eventarc triggers): the topology names every subscription and
# fixes its dead-letter topic, attempts, backoff, ordering and filter; Eventarc would create
# its own subscription with none of those under our control. Each push carries an OIDC
# token of the push identity, which is the only member allowed to invoke private functions.

module "topic" {
  source   = "./modules/topic"
  for_each = local.topics

  project_id     = var.project_id
  name           = each.key
  retention_days = each.value.retention_days
  # Google Play real-time developer notifications arrive on their topic from Play's account.
  publishers = each.key == "play-notifications" ? toset(["serviceAccount:google-play-developer-notifications@system.gserviceaccount.com"]) : toset([])

  depends_on = [google_project_service.this]
}

resource "google_service_account" "pubsub_push" {
  project      = var.project_id
  account_id   = "refrain-pubsub-push"
  display_name = "Refrain Pub/Sub push"
  description  = "Identity in the OIDC token of every push subscription; invokes the functions."
}

# The Pub/Sub service agent mints the push OIDC tokens as the push identity.
resource "google_service_account_iam_member" "pubsub_push_token_creator" {
  service_account_id = google_service_account.pubsub_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

module "subscription" {
  source   = "./modules/subscription"
  for_each = local.subscriptions

  project_id            = var.project_id
  name                  = each.key
  topic_id              = module.topic[each.value.topic].id
  dead_letter_topic_id  = module.topic[each.value.dead_letter_topic].id
  hold_subscription     = each.value.hold_subscription
  max_delivery_attempts = each.value.max_delivery_attempts
  min_backoff_s         = each.value.min_backoff_s
  max_backoff_s         = each.value.max_backoff_s
  ack_deadline_s        = each.value.ack_deadline_s
  ordering              = each.value.ordering
  filter                = each.value.filter

  push_endpoint = each.value.push_function == null ? null : "${trimsuffix(module.function[each.value.push_function].uri, "/")}${each.value.push_path}"
  # Cloud Run checks the token of a push to a private function (audience = its URL); the
  # public webhook checks the Play push's token itself, against a fixed audience.
  push_audience = each.value.push_function == null ? null : (
    local.functions[each.value.push_function].public ? local.play_push_audience : module.function[each.value.push_function].uri
  )
  push_service_account_email = each.value.push_function == null ? null : google_service_account.pubsub_push.email
  pubsub_service_agent       = local.pubsub_service_agent
  subscribers = {
    for fn, settings in local.function_settings :
    fn => "serviceAccount:${module.function[fn].service_account_email}" if contains(settings.subscribes_to, each.key)
  }

  depends_on = [google_service_account_iam_member.pubsub_push_token_creator]
}

# Cloud Scheduler publishes a tick to each scheduled topic; the payload is ignored.
resource "google_cloud_scheduler_job" "tick" {
  for_each = local.schedules

  project     = var.project_id
  region      = var.region
  name        = "refrain-${each.key}"
  description = "Publishes to ${each.key} ${each.value.schedule}."
  schedule    = each.value.cron
  time_zone   = each.value.time_zone

  pubsub_target {
    topic_name = module.topic[each.key].id
    data       = base64encode(jsonencode({ source = "cloud-scheduler", topic = each.key }))
    attributes = { origin = "cloud-scheduler" }
  }

  depends_on = [google_project_service.this]
}
