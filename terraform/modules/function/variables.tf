variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "name" {
  description = "Cloud name of the function (hyphens, no underscores)."
  type        = string
}

variable "description" {
  type    = string
  default = ""
}

variable "entry_point" {
  type = string
}

variable "runtime" {
  type    = string
  default = "python311"
}

variable "source_bucket" {
  type = string
}

variable "source_object" {
  description = "Object name of the packaged zip; it carries the archive's sha256, so a new build redeploys."
  type        = string
}

variable "build_service_account" {
  description = "Full resource id of the service account Cloud Build uses to build the function."
  type        = string
}

variable "service_account_id" {
  description = "account_id of the function's own runtime service account (6-30 chars)."
  type        = string
}

variable "memory" {
  type    = string
  default = "256Mi"
}

variable "cpu" {
  type    = string
  default = "1"
}

variable "timeout_seconds" {
  type    = number
  default = 60
}

variable "concurrency" {
  description = "Requests one instance serves at once (needs cpu >= 1 when above 1)."
  type        = number
  default     = 1
}

variable "min_instances" {
  type    = number
  default = 0
}

variable "max_instances" {
  type    = number
  default = 10
}

variable "public" {
  description = "Only the provider webhook and the account API are public: allUsers invoker and all ingress."
  type        = bool
  default     = false
}

variable "behind_load_balancer" {
  description = "A public function reached only through an external Application Load Balancer (Cloud Armor in front): ingress ALLOW_INTERNAL_AND_GCLB, so the armor cannot be bypassed."
  type        = bool
  default     = false
}

variable "environment" {
  description = "Plain environment variables."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variable name => Secret Manager secret_id, mounted at version latest."
  type        = map(string)
  default     = {}
}

variable "project_roles" {
  description = "Project-level roles of the runtime service account (keep this list short)."
  type        = set(string)
  default     = []
}

variable "publish_topics" {
  description = "Topic names this function publishes to (roles/pubsub.publisher on each)."
  type        = set(string)
  default     = []
}

variable "bigquery_datasets" {
  description = "Dataset ids this function writes (roles/bigquery.dataEditor on each)."
  type        = set(string)
  default     = []
}

variable "invokers" {
  description = "Label => member allowed to invoke (the Pub/Sub push identity); static keys keep for_each plannable."
  type        = map(string)
  default     = {}
}

variable "labels" {
  type    = map(string)
  default = {}
}
