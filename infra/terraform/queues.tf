# The job queue and its dead-letter queue, with the settings from stack.json.

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq.name
  message_retention_seconds         = local.dlq.retention_s
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
}

resource "aws_sqs_queue" "tasks" {
  name                              = local.tasks.name
  visibility_timeout_seconds        = local.tasks.visibility_timeout_s
  message_retention_seconds         = local.tasks.retention_s
  receive_wait_time_seconds         = local.tasks.receive_wait_s
  kms_master_key_id                 = aws_kms_key.main.arn
  kms_data_key_reuse_period_seconds = 300
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = local.tasks.max_receive_count
  })
}

# Only the job queue may dead-letter into the DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.tasks.arn]
  })
}
