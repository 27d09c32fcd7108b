variable "region" {
  description = "AWS region; empty means the region in infra/stack.json."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  description = "CIDR block of the stack's VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "certificate_arn" {
  description = "ACM certificate for the ALB's HTTPS listener; empty serves HTTP only (for a first try, not production)."
  type        = string
  default     = ""
}

variable "release_url" {
  description = "Base URL of a flightdeck release (a tarball with flightdeck-api and flightdeck-worker for linux x86_64)."
  type        = string
}

variable "ami_ssm_parameter" {
  description = "SSM parameter holding the AMI id for the instances (Debian 12 by default)."
  type        = string
  default     = "/aws/service/debian/release/12/latest/amd64"
}

variable "db_instance_class" {
  description = "RDS instance class for the API's PostgreSQL."
  type        = string
  default     = "db.t4g.micro"
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic; empty subscribes nobody."
  type        = string
  default     = ""
}
