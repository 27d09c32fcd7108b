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

  # The stack's alarms (stack.json `alarms`), each with the dimension its `metric.by` names:
  # the watched queue's QueueName or the watched group's AutoScalingGroupName. A per-instance
  # alarm divides by the group's in-service instances (metric math, AWS's backlog recipe).
  alarm_groups = { api = local.api.name, worker = local.worker.name }
  alarm_queues = { tasks = local.tasks.name, dlq = local.dlq.name }
  stack_alarms = {
    for a in local.stack.alarms : a.name => {
      description         = a.description
      namespace           = a.metric.namespace
      metric              = a.metric.name
      statistic           = a.statistic
      period              = a.period_s
      evaluation_periods  = a.evaluation_periods
      datapoints_to_alarm = try(a.datapoints_to_alarm, a.evaluation_periods)
      threshold           = a.threshold
      comparison          = a.comparison
      treat_missing_data  = a.treat_missing_data
      per_instance        = try(a.metric.per_instance, false)
      group               = try(local.alarm_groups[a.watches.group], null)
      dimensions = {
        (a.metric.by == "queue" ? "QueueName" : "AutoScalingGroupName") = (
          a.metric.by == "queue"
          ? try(local.alarm_queues[a.watches.queue], null)
          : try(local.alarm_groups[a.watches.group], null)
        )
      }
    }
  }

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
