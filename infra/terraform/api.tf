# The API: an ALB in the public subnets in front of an Auto Scaling group of flightdeck-api
# instances in the private subnets.

resource "aws_lb" "api" {
  #checkov:skip=CKV2_AWS_28:WAF is an account-level choice with its own cost; attach a web ACL to this ALB where required
  #checkov:skip=CKV2_AWS_20:HTTP redirects to HTTPS whenever certificate_arn is set (see aws_lb_listener.http)
  name                       = "${local.name}-api"
  load_balancer_type         = "application"
  subnets                    = aws_subnet.public[*].id
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true
  access_logs {
    bucket  = aws_s3_bucket.access_logs.id
    prefix  = "alb"
    enabled = true
  }
}

resource "aws_lb_target_group" "api" {
  #checkov:skip=CKV_AWS_378:TLS terminates at the ALB; ALB-to-instance traffic stays inside the VPC
  name     = "${local.name}-api"
  port     = local.api_port
  protocol = "HTTP"
  vpc_id   = aws_vpc.main.id
  health_check {
    path                = local.api.health_check.path
    matcher             = "200"
    interval            = 15
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
  deregistration_delay = 30
}

# HTTPS when a certificate is given; plain HTTP then only redirects.
resource "aws_lb_listener" "https" {
  count             = var.certificate_arn == "" ? 0 : 1
  load_balancer_arn = aws_lb.api.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.api.arn
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:plain HTTP only redirects to HTTPS once certificate_arn is set; without one it is the documented first-try mode
  #checkov:skip=CKV_AWS_103:same listener: TLS policy applies to the HTTPS listener
  load_balancer_arn = aws_lb.api.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type             = var.certificate_arn == "" ? "forward" : "redirect"
    target_group_arn = var.certificate_arn == "" ? aws_lb_target_group.api.arn : null
    dynamic "redirect" {
      for_each = var.certificate_arn == "" ? [] : [1]
      content {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }
}

resource "aws_launch_template" "api" {
  name                   = "${local.api.name}-lt"
  image_id               = data.aws_ssm_parameter.ami.value
  instance_type          = local.api.instance_type
  vpc_security_group_ids = [aws_security_group.api.id]
  iam_instance_profile {
    arn = aws_iam_instance_profile.api.arn
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
      volume_size = 20
      encrypted   = true
    }
  }
  user_data = base64encode(templatefile("${path.module}/files/user-data.sh.tftpl", {
    role        = local.api.role
    asg_name    = local.api.name
    release_url = var.release_url
    unit        = file("${path.module}/files/flightdeck-api.service")
    log_group   = aws_cloudwatch_log_group.api.name
    ssm_prefix  = "/${local.name}/"
    region      = data.aws_region.current.name
  }))
}

data "aws_region" "current" {}

resource "aws_autoscaling_group" "api" {
  name                      = local.api.name
  min_size                  = local.api.min
  desired_capacity          = local.api.desired
  max_size                  = local.api.max
  vpc_zone_identifier       = aws_subnet.private[*].id
  target_group_arns         = [aws_lb_target_group.api.arn]
  health_check_type         = local.api.health_check.type
  health_check_grace_period = local.api.health_check.grace_s
  default_cooldown          = local.api.default_cooldown_s
  default_instance_warmup   = local.api.warmup_s
  enabled_metrics           = ["GroupInServiceInstances", "GroupDesiredCapacity", "GroupPendingInstances", "GroupTerminatingInstances"]
  launch_template {
    id      = aws_launch_template.api.id
    version = aws_launch_template.api.latest_version
  }
  tag {
    key                 = "flightdeck:role"
    value               = local.api.role
    propagate_at_launch = true
  }
  lifecycle {
    # Desired capacity belongs to the autoscaler and the operator once the group exists.
    ignore_changes = [desired_capacity]
  }
}

resource "aws_autoscaling_policy" "api_cpu" {
  for_each                  = { for p in local.api_cpu_policies : p.name => p }
  name                      = each.key
  autoscaling_group_name    = aws_autoscaling_group.api.name
  policy_type               = "TargetTrackingScaling"
  estimated_instance_warmup = local.api.warmup_s
  target_tracking_configuration {
    predefined_metric_specification {
      predefined_metric_type = "ASGAverageCPUUtilization"
    }
    target_value = each.value.target
  }
}
