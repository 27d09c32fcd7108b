locals {
  # The one definition of the stack, shared with the local cloud and the programs.
  stack = jsondecode(file("${path.module}/../stack.json"))

  name    = local.stack.name
  bucket  = local.stack.bucket
  tasks   = local.stack.queues.tasks
  dlq     = local.stack.queues.dlq
  api     = local.stack.groups.api
  worker  = local.stack.groups.worker
  azs     = slice(data.aws_availability_zones.available.names, 0, local.stack.availability_zones)
  account = data.aws_caller_identity.current.account_id

  # Policies by type, as stack.json lists them.
  api_cpu_policies       = [for p in local.api.policies : p if p.type == "average_cpu"]
  worker_cpu_policies    = [for p in local.worker.policies : p if p.type == "average_cpu"]
  worker_backlog_policies = [for p in local.worker.policies : p if p.type == "backlog_per_instance"]

  # The API listens here behind the ALB.
  api_port = 8000
}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:slice() takes exactly the availability_zones count stack.json asks for, so new zones never widen the stack
  state = "available"
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_ssm_parameter" "ami" {
  name = var.ami_ssm_parameter
}
