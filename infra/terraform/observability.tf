# Alarms an operator is paged for, and a dashboard of the same signals the console shows.

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

# The stack's alarms, defined once in stack.json (the local cloud creates and evaluates the
# same ones): DLQ not empty, backlog per worker, API 5xx, worker failures.
resource "aws_cloudwatch_metric_alarm" "stack" {
  for_each = local.stack_alarms

  alarm_name          = each.key
  alarm_description   = each.value.description
  comparison_operator = each.value.comparison
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  threshold           = each.value.threshold
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  # A plain metric alarm...
  namespace   = each.value.per_instance ? null : each.value.namespace
  metric_name = each.value.per_instance ? null : each.value.metric
  dimensions  = each.value.per_instance ? null : each.value.dimensions
  statistic   = each.value.per_instance ? null : each.value.statistic
  period      = each.value.per_instance ? null : each.value.period

  # ...or metric math: the metric per in-service instance of the watched group.
  dynamic "metric_query" {
    for_each = each.value.per_instance ? [each.value] : []
    content {
      id = "m"
      metric {
        namespace   = metric_query.value.namespace
        metric_name = metric_query.value.metric
        dimensions  = metric_query.value.dimensions
        stat        = metric_query.value.statistic
        period      = metric_query.value.period
      }
    }
  }
  dynamic "metric_query" {
    for_each = each.value.per_instance ? [each.value] : []
    content {
      id = "in_service"
      metric {
        namespace   = "AWS/AutoScaling"
        metric_name = "GroupInServiceInstances"
        dimensions  = { AutoScalingGroupName = metric_query.value.group }
        stat        = "Average"
        period      = metric_query.value.period
      }
    }
  }
  dynamic "metric_query" {
    for_each = each.value.per_instance ? [each.value] : []
    content {
      id          = "per_instance"
      expression  = "m / in_service"
      label       = "${metric_query.value.metric} per instance"
      return_data = true
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "oldest_message" {
  alarm_name          = "${local.name}-jobs-waiting"
  alarm_description   = "Jobs wait longer than the visibility timeout x5: workers are stuck or scaled in too far."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.tasks.name }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 5
  threshold           = local.tasks.visibility_timeout_s * 5
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  alarm_name          = "${local.name}-api-unhealthy-hosts"
  alarm_description   = "API instances fail ${local.api.health_check.path}."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { LoadBalancer = aws_lb.api.arn_suffix, TargetGroup = aws_lb_target_group.api.arn_suffix }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 3
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = local.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Queue depth"
          region = data.aws_region.current.name
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.tasks.name],
            ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", aws_sqs_queue.tasks.name],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.dlq.name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "CPU by group"
          region = data.aws_region.current.name
          metrics = [
            ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", aws_autoscaling_group.api.name],
            ["AWS/EC2", "CPUUtilization", "AutoScalingGroupName", aws_autoscaling_group.worker.name],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "In-service instances"
          region = data.aws_region.current.name
          metrics = [
            ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", aws_autoscaling_group.api.name],
            ["AWS/AutoScaling", "GroupInServiceInstances", "AutoScalingGroupName", aws_autoscaling_group.worker.name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "API responses"
          region = data.aws_region.current.name
          metrics = [
            ["AWS/ApplicationELB", "HTTPCode_Target_2XX_Count", "LoadBalancer", aws_lb.api.arn_suffix],
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", aws_lb.api.arn_suffix],
          ]
        }
      },
    ]
  })
}
