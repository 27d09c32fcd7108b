# Configuration the instances read at boot (SSM Parameter Store and Secrets Manager).

resource "aws_secretsmanager_secret" "jwt" {
  #checkov:skip=CKV2_AWS_57:rotating the signing key signs every user out; rotate it by hand in a planned window
  name                    = "${local.name}/jwt-secret"
  description             = "HS256 signing key for the API's tokens"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 7
}

data "aws_secretsmanager_random_password" "jwt" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "jwt" {
  secret_id     = aws_secretsmanager_secret.jwt.id
  secret_string = data.aws_secretsmanager_random_password.jwt.random_password
  lifecycle {
    # Generated once; rotate it in Secrets Manager, not by re-applying.
    ignore_changes = [secret_string]
  }
}

resource "aws_ssm_parameter" "config" {
  for_each = {
    "db_host"        = aws_db_instance.main.address
    "db_name"        = aws_db_instance.main.db_name
    "db_secret_arn"  = aws_db_instance.main.master_user_secret[0].secret_arn
    "jwt_secret_arn" = aws_secretsmanager_secret.jwt.arn
    "region"         = data.aws_region.current.name
  }
  name   = "/${local.name}/${each.key}"
  type   = "SecureString"
  key_id = aws_kms_key.main.arn
  value  = each.value
}
