"""Provisions the console benchmark's load on the local cloud: GROUPS extra Auto Scaling
groups (one launch template, 1-2 instances each, a CPU target-tracking policy each) and
QUEUES extra SQS queues (every fifth a dead-letter queue with a source queue pointing at it
through a redrive policy; a few queues hold a handful of messages). Idempotent on a fresh
emulator; prints progress and timings. Run with the emulator's virtualenv python:

    ENDPOINT=http://127.0.0.1:PORT python bench/console_fixture.py [GROUPS] [QUEUES]
"""

import json
import os
import sys
import time

import boto3
from botocore.exceptions import ClientError

endpoint = os.environ["ENDPOINT"]
n_groups = int(sys.argv[1]) if len(sys.argv) > 1 else 50
n_queues = int(sys.argv[2]) if len(sys.argv) > 2 else 200
region = os.environ.get("AWS_REGION", "us-east-1")

asg = boto3.client("autoscaling", endpoint_url=endpoint, region_name=region)
ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name=region)
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)


def exists(err, *codes):
    return err.response.get("Error", {}).get("Code") in codes


def step(label, total, fn):
    t0 = time.monotonic()
    for i in range(total):
        fn(i)
        if (i + 1) % 10 == 0 or i + 1 == total:
            print(f"  {label}: {i + 1}/{total} ({time.monotonic() - t0:.1f} s)", flush=True)
    return time.monotonic() - t0


TEMPLATE = "bench-console-lt"
try:
    ec2.create_launch_template(
        LaunchTemplateName=TEMPLATE,
        LaunchTemplateData={"ImageId": "ami-0f1d9c4a5b6e7d8c9", "InstanceType": "t3.micro"},
    )
except ClientError as e:
    if not exists(e, "InvalidLaunchTemplateName.AlreadyExistsException"):
        raise


def group(i):
    name = f"bench-g{i + 1:02d}"
    desired = 1 + i % 2  # 1 or 2 instances: 75 for 50 groups
    try:
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": TEMPLATE, "Version": "$Latest"},
            MinSize=1,
            MaxSize=4,
            DesiredCapacity=desired,
            AvailabilityZones=[f"{region}a"],
        )
    except ClientError as e:
        if not exists(e, "AlreadyExists"):
            raise
    asg.put_scaling_policy(
        AutoScalingGroupName=name,
        PolicyName=f"{name}-cpu",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
            "TargetValue": 50.0,
        },
    )


# Queues: for every 5 indices, one DLQ and four queues, the first of which redrives to it.
def queue(i):
    block, k = divmod(i, 5)
    if k == 0:
        sqs.create_queue(QueueName=f"bench-q{block:02d}-dlq")
        return
    attrs = {}
    if k == 1:
        dlq_url = sqs.get_queue_url(QueueName=f"bench-q{block:02d}-dlq")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        attrs["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})
    url = sqs.create_queue(QueueName=f"bench-q{block:02d}-{k}", Attributes=attrs)["QueueUrl"]
    if k == 2 and block % 4 == 0:
        # A few shallow queues with messages in them, so the table is not all zeros.
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(m), "MessageBody": json.dumps({"v": 1, "n": m})} for m in range(3)],
        )


print(f"provisioning {n_groups} groups and {n_queues} queues at {endpoint}", flush=True)
t_groups = step("groups", n_groups, group)
t_queues = step("queues", n_queues, queue)
instances = sum(
    len(g["Instances"])
    for page in asg.get_paginator("describe_auto_scaling_groups").paginate()
    for g in page["AutoScalingGroups"]
)
all_groups = sum(
    len(p["AutoScalingGroups"]) for p in asg.get_paginator("describe_auto_scaling_groups").paginate()
)
all_queues = len(sqs.list_queues(MaxResults=1000).get("QueueUrls", []))
print(
    json.dumps(
        {
            "groups_s": round(t_groups, 2),
            "queues_s": round(t_queues, 2),
            "groups_total": all_groups,
            "queues_total": all_queues,
            "instances_total": instances,
        }
    ),
    flush=True,
)
