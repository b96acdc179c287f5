# Cloud Armor in front of the account API (var.account_api.edge; off by default).
#
# Cloud Functions (Cloud Run underneath) takes no security policy itself: Cloud Armor
# attaches to the backend service of an external Application Load Balancer, which
# reaches the function through a serverless network endpoint group. With the edge on,
# the function's ingress is ALLOW_INTERNAL_AND_GCLB (modules/function), so its run.app
# URL answers nothing from the internet and the armor cannot be bypassed.
#
# The policy: Google's preconfigured WAF rules (SQL injection, XSS, local file
# inclusion, protocol attacks, known CVEs such as Log4Shell) deny with 403; each client IP above
# ip_requests_per_minute is answered 429 and then banned for ban_seconds; adaptive
# protection watches for layer-7 floods. The function's own per-account and per-IP
# token buckets (docs/SECURITY.md) still apply behind it: the edge sees addresses,
# only the function knows the account. Cost, at list prices (2026): the load balancer's
# forwarding rule ~$18/month, Cloud Armor Standard $5/month per policy + $1/month per
# rule + $0.75 per million requests (docs/OPERATIONS.md).

locals {
  account_edge = var.account_api.edge != null
  # Preconfigured WAF rule sets, sensitivity 1 (fewest false positives).
  waf_rules = {
    1000 = "sqli-v33-stable"
    1001 = "xss-v33-stable"
    1002 = "lfi-v33-stable"
    1003 = "protocolattack-v33-stable"
  }
}

resource "google_compute_security_policy" "account_api" {
  count = local.account_edge ? 1 : 0

  project     = var.project_id
  name        = "refrain-account-api"
  description = "Refrain account API: WAF and per-IP rate-based bans in front of the function"
  type        = "CLOUD_ARMOR"

  dynamic "rule" {
    for_each = local.waf_rules
    content {
      action      = "deny(403)"
      priority    = rule.key
      description = "Google's preconfigured ${rule.value} rules"
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value}', {'sensitivity': 1})"
        }
      }
    }
  }

  rule {
    action      = "deny(403)"
    priority    = 1004
    description = "Log4j message lookups (CVE-2021-44228) and the CVEs Google adds to this set"
    match {
      expr {
        expression = "evaluatePreconfiguredWaf('cve-canary')"
      }
    }
  }

  rule {
    action      = "rate_based_ban"
    priority    = 2000
    description = "Per client IP: over the limit is 429, then banned for a while"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action   = "allow"
      exceed_action    = "deny(429)"
      enforce_on_key   = "IP"
      ban_duration_sec = var.account_api.edge.ban_seconds
      rate_limit_threshold {
        count        = var.account_api.edge.ip_requests_per_minute
        interval_sec = 60
      }
    }
  }

  rule {
    action      = "allow"
    priority    = 2147483647
    description = "Everything else reaches the function, which authenticates every request"
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  advanced_options_config {
    log_level = "NORMAL"
  }
}

resource "google_compute_region_network_endpoint_group" "account_api" {
  count = local.account_edge ? 1 : 0

  project               = var.project_id
  name                  = "refrain-account-api"
  region                = var.region
  network_endpoint_type = "SERVERLESS"
  cloud_run {
    service = module.function["account_api"].service
  }
}

resource "google_compute_backend_service" "account_api" {
  count = local.account_edge ? 1 : 0

  project               = var.project_id
  name                  = "refrain-account-api"
  protocol              = "HTTPS"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  security_policy       = google_compute_security_policy.account_api[0].id
  backend {
    group = google_compute_region_network_endpoint_group.account_api[0].id
  }
  log_config {
    enable      = true
    sample_rate = 1.0
  }
}

resource "google_compute_url_map" "account_api" {
  count = local.account_edge ? 1 : 0

  project         = var.project_id
  name            = "refrain-account-api"
  default_service = google_compute_backend_service.account_api[0].id
}

resource "google_compute_managed_ssl_certificate" "account_api" {
  count = local.account_edge ? 1 : 0

  project = var.project_id
  name    = "refrain-account-api"
  managed {
    domains = [var.account_api.edge.domain]
  }
}

resource "google_compute_ssl_policy" "account_api" {
  count = local.account_edge ? 1 : 0

  project         = var.project_id
  name            = "refrain-account-api"
  min_tls_version = "TLS_1_2"
  profile         = "RESTRICTED"
}

resource "google_compute_target_https_proxy" "account_api" {
  count = local.account_edge ? 1 : 0

  project          = var.project_id
  name             = "refrain-account-api"
  url_map          = google_compute_url_map.account_api[0].id
  ssl_certificates = [google_compute_managed_ssl_certificate.account_api[0].id]
  ssl_policy       = google_compute_ssl_policy.account_api[0].id
}

resource "google_compute_global_address" "account_api" {
  count = local.account_edge ? 1 : 0

  project = var.project_id
  name    = "refrain-account-api"
}

resource "google_compute_global_forwarding_rule" "account_api" {
  count = local.account_edge ? 1 : 0

  project               = var.project_id
  name                  = "refrain-account-api"
  target                = google_compute_target_https_proxy.account_api[0].id
  ip_address            = google_compute_global_address.account_api[0].id
  port_range            = "443"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}
