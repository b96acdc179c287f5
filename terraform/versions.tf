terraform {
  required_version = ">= 1.5.0, < 2.0.0"

  required_providers {
    google = {
      source = "hashicorp/google"
      # Exact pins until .terraform.lock.hcl is committed (docs/OPERATIONS.md): every run
      # resolves the same provider releases.
      version = "6.14.0"
    }
    time = {
      source  = "hashicorp/time"
      version = "0.12.0"
    }
  }

  # State lives in a GCS bucket the operator creates first (docs/OPERATIONS.md):
  #   terraform init -backend-config="bucket=<state-bucket>" -backend-config="prefix=refrain/<env>"
  backend "gcs" {}
}
