# The instances' log lines: one log group per role (name and retention from stack.json), one
# stream per instance id, written by the CloudWatch agent (files/user-data.sh.tftpl) and read
# by the console (`:logs`, `flightdeck logs`: FilterLogEvents).

resource "aws_cloudwatch_log_group" "api" {
  #checkov:skip=CKV_AWS_338:application log lines are kept for stack.json's retention_days (days to weeks, for triage); the audit trail is CloudTrail's, not these
  name              = local.api.logs.group
  retention_in_days = local.api.logs.retention_days
  kms_key_id        = aws_kms_key.main.arn
}

resource "aws_cloudwatch_log_group" "worker" {
  #checkov:skip=CKV_AWS_338:application log lines are kept for stack.json's retention_days (days to weeks, for triage); the audit trail is CloudTrail's, not these
  name              = local.worker.logs.group
  retention_in_days = local.worker.logs.retention_days
  kms_key_id        = aws_kms_key.main.arn
}
