# The workers: an Auto Scaling group of flightdeck-worker instances in the private subnets,
# scaled on CPU and on the backlog per in-service instance.

resource "aws_launch_template" "worker" {
  name                   = "${local.worker.name}-lt"
  image_id               = data.aws_ssm_parameter.ami.value
  instance_type          = local.worker.instance_type
  vpc_security_group_ids = [aws_security_group.worker.id]
  iam_instance_profile {
    arn = aws_iam_instance_profile.worker.arn
  }
  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  monitoring {
    enabled = true
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 30
      encrypted   = true
    }
  }
  user_data = base64encode(templatefile("${path.module}/files/user-data.sh.tftpl", {
    role        = local.worker.role
    asg_name    = local.worker.name
    release_url = var.release_url
    unit        = file("${path.module}/files/flightdeck-worker.service")
    log_group   = aws_cloudwatch_log_group.worker.name
    ssm_prefix  = "/${local.name}/"
    region      = data.aws_region.current.name
  }))
}

resource "aws_autoscaling_group" "worker" {
  name                      = local.worker.name
  min_size                  = local.worker.min
  desired_capacity          = local.worker.desired
  max_size                  = local.worker.max
  vpc_zone_identifier       = aws_subnet.private[*].id
  health_check_type         = local.worker.health_check.type
  health_check_grace_period = local.worker.health_check.grace_s
  default_cooldown          = local.worker.default_cooldown_s
  default_instance_warmup   = local.worker.warmup_s
  # GroupInServiceInstances feeds the backlog policy; the console reads the rest.
  enabled_metrics = ["GroupInServiceInstances", "GroupDesiredCapacity", "GroupPendingInstances", "GroupTerminatingInstances"]
  launch_template {
    id      = aws_launch_template.worker.id
    version = aws_launch_template.worker.latest_version
  }
  tag {
    key                 = "flightdeck:role"
    value               = local.worker.role
    propagate_at_launch = true
  }
  lifecycle {
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "worker_cpu" {
  for_each                  = { for p in local.worker_cpu_policies : p.name => p }
  name                      = each.key
  autoscaling_group_name    = aws_autoscaling_group.worker.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = local.worker.warmup_s
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = each.value.target
  }
}

# Backlog per instance = visible messages / in-service workers, kept at the target from
# stack.json (acceptable wait / seconds per job: see README.md for the arithmetic).
resource "aws_autoscaling_policy" "worker_backlog" {
  for_each                  = { for p in local.worker_backlog_policies : p.name => p }
  name                      = each.key
  autoscaling_group_name    = aws_autoscaling_group.worker.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = local.worker.warmup_s
  target_tracking_configuration {
    target_value = each.value.target
    customized_metric_specification {
      metrics {
        id          = "visible"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = aws_sqs_queue.tasks.name
            }
          }
        }
      }
      metrics {
        id          = "in_service"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "AWS/AutoScaling"
            metric_name = "GroupInServiceInstances"
            dimensions {
              name  = "AutoScalingGroupName"
              value = aws_autoscaling_group.worker.name
            }
          }
        }
      }
      metrics {
        id          = "backlog_per_instance"
        label       = "BacklogPerInstance"
        expression  = "visible / in_service"
        return_data = true
      }
    }
  }
}
