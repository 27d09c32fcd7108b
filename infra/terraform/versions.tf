# The flightdeck stack on AWS. Every name and setting that infra/stack.json defines is read
# from it (local.stack), never repeated here: the local cloud and AWS stand up the same stack.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
    local = {
      source  = "hashicorp/local"
      version = "~> 2.5"
    }
  }
}

provider "aws" {
  region = var.region != "" ? var.region : local.stack.region
  default_tags {
    tags = {
      "flightdeck:stack" = local.stack.name
      "managed-by"       = "terraform"
    }
  }
}
