# Roles for the instances (no static keys anywhere) and the console's two operator policies.

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

locals {
  uploads_arn   = "${aws_s3_bucket.videos.arn}/${local.bucket.uploads_prefix}*"
  processed_arn = "${aws_s3_bucket.videos.arn}/${local.bucket.processed_prefix}*"
  ssm_arn       = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${local.account}:parameter/${local.name}/*"
  group_arns = [
    "arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${local.api.name}",
    "arn:${data.aws_partition.current.partition}:autoscaling:${data.aws_region.current.name}:${local.account}:autoScalingGroup:*:autoScalingGroupName/${local.worker.name}",
  ]
}

# --- API instances: put uploads, publish jobs, read the database secret.
resource "aws_iam_role" "api" {
  name               = "${local.name}-api"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_instance_profile" "api" {
  name = "${local.name}-api"
  role = aws_iam_role.api.name
}

data "aws_iam_policy_document" "api" {
  statement {
    sid       = "Uploads"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.uploads_arn]
  }
  statement {
    sid       = "DeleteOwnVideos"
    actions   = ["s3:DeleteObject"]
    resources = [local.uploads_arn, local.processed_arn]
  }
  statement {
    sid       = "PublishJobs"
    actions   = ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.tasks.arn]
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.main.master_user_secret[0].secret_arn, aws_secretsmanager_secret.jwt.arn]
  }
  statement {
    sid       = "ErrorMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Flightdeck"]
    }
  }
  statement {
    sid       = "Config"
    actions   = ["ssm:GetParametersByPath", "ssm:GetParameter"]
    resources = [local.ssm_arn]
  }
  statement {
    sid       = "ShipLogLines"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.api.arn}:*"]
  }
  statement {
    sid       = "EncryptedQueuesAndSecrets"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "api" {
  name   = "${local.api.name}-access"
  role   = aws_iam_role.api.id
  policy = data.aws_iam_policy_document.api.json
}

# --- Worker instances: read uploads, write outputs, consume jobs, dead-letter failures.
resource "aws_iam_role" "worker" {
  name               = "${local.name}-worker"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_instance_profile" "worker" {
  name = "${local.name}-worker"
  role = aws_iam_role.worker.name
}

data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = [local.uploads_arn]
  }
  statement {
    sid       = "WriteOutputs"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [local.processed_arn]
  }
  statement {
    sid       = "ConsumeJobs"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.tasks.arn]
  }
  statement {
    sid       = "DeadLetterPermanentFailures"
    actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
    resources = [aws_sqs_queue.dlq.arn]
  }
  statement {
    sid       = "JobMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Flightdeck"]
    }
  }
  statement {
    sid       = "Secrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.main.master_user_secret[0].secret_arn]
  }
  statement {
    sid       = "Config"
    actions   = ["ssm:GetParametersByPath", "ssm:GetParameter"]
    resources = [local.ssm_arn]
  }
  statement {
    sid       = "ShipLogLines"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.worker.arn}:*"]
  }
  statement {
    sid       = "EncryptedQueuesAndSecrets"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_role_policy" "worker" {
  name   = "${local.worker.name}-access"
  role   = aws_iam_role.worker.id
  policy = data.aws_iam_policy_document.worker.json
}

# --- The console. Read-only: exactly the calls the console makes to look
# (stack::permissions::CONSOLE_READ_ONLY; a test keeps them equal).
data "aws_iam_policy_document" "console_readonly" {
  statement {
    sid = "DescribeEverywhere"
    actions = [
      "autoscaling:DescribeAutoScalingGroups",
      "autoscaling:DescribeInstanceRefreshes",
      "autoscaling:DescribePolicies",
      "autoscaling:DescribeScalingActivities",
      "cloudwatch:GetMetricData",
      "ec2:DescribeInstances",
      "sqs:ListQueues",
      "sts:GetCallerIdentity",
    ]
    resources = ["*"]
  }
  statement {
    sid = "TheStacksQueues"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ListDeadLetterSourceQueues",
      "sqs:ListMessageMoveTasks",
      "sqs:ReceiveMessage",
    ]
    resources = [aws_sqs_queue.tasks.arn, aws_sqs_queue.dlq.arn]
  }
  statement {
    sid       = "TheStacksAlarms"
    actions   = ["cloudwatch:DescribeAlarmHistory", "cloudwatch:DescribeAlarms"]
    resources = [for a in aws_cloudwatch_metric_alarm.stack : a.arn]
  }
  statement {
    sid       = "TheStacksLogLines"
    actions   = ["logs:FilterLogEvents"]
    resources = ["${aws_cloudwatch_log_group.api.arn}:*", "${aws_cloudwatch_log_group.worker.arn}:*"]
  }
  statement {
    sid       = "TheStacksBucket"
    actions   = ["s3:GetBucketVersioning", "s3:ListBucket"]
    resources = [aws_s3_bucket.videos.arn]
  }
  statement {
    sid       = "PeekEncryptedQueues"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_policy" "console_readonly" {
  name        = "flightdeck-readonly"
  description = "flightdeck console, read-only: look at groups, queues, DLQ, metrics and log lines"
  policy      = data.aws_iam_policy_document.console_readonly.json
}

# Operator: read-only plus redrive, purge, delete and desired capacity
# (stack::permissions::CONSOLE_OPERATOR_EXTRA).
data "aws_iam_policy_document" "console_operator" {
  source_policy_documents = [data.aws_iam_policy_document.console_readonly.json]
  statement {
    sid = "ActOnTheStacksQueues"
    actions = [
      "sqs:CancelMessageMoveTask",
      "sqs:DeleteMessage",
      "sqs:PurgeQueue",
      "sqs:SendMessage",
      "sqs:StartMessageMoveTask",
    ]
    resources = [aws_sqs_queue.tasks.arn, aws_sqs_queue.dlq.arn]
  }
  statement {
    sid = "ChangeTheStacksCapacity"
    actions = [
      "autoscaling:CancelInstanceRefresh",
      "autoscaling:ResumeProcesses",
      "autoscaling:SetDesiredCapacity",
      "autoscaling:StartInstanceRefresh",
      "autoscaling:SuspendProcesses",
    ]
    resources = local.group_arns
  }
  statement {
    sid       = "RedriveEncryptedQueues"
    actions   = ["kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}

resource "aws_iam_policy" "console_operator" {
  name        = "flightdeck-operator"
  description = "flightdeck console, operator: read-only plus redrive, purge, delete, desired capacity, suspended processes and instance refresh"
  policy      = data.aws_iam_policy_document.console_operator.json
}

# --- Service roles: VPC flow logs and RDS enhanced monitoring.
resource "aws_iam_role" "flow_logs" {
  name = "${local.name}-flow-logs"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
    }]
  })
}

data "aws_iam_policy_document" "flow_logs" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = ["${aws_cloudwatch_log_group.flow.arn}:*"]
  }
}

resource "aws_iam_role_policy" "flow_logs" {
  name   = "flow-logs"
  role   = aws_iam_role.flow_logs.id
  policy = data.aws_iam_policy_document.flow_logs.json
}

resource "aws_iam_role" "rds_monitoring" {
  name = "${local.name}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
