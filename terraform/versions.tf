terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.14"
    }
    time = {
      source  = "hashicorp/time"
      version = "~> 0.12"
    }
  }

  # State lives in a GCS bucket the operator creates first (docs/OPERATIONS.md):
  #   terraform init -backend-config="bucket=<state-bucket>" -backend-config="prefix=refrain/<env>"
  backend "gcs" {}
}
