# boto3 as a vendor service runs it: nothing in the code says where credentials come from, only
# the environment (container provider variables, or AWS_CONFIG_FILE with a credential_process).
# Scenarios arrive on stdin as JSON, {"scenarios": [{"env": {...}, "endpoint": URL, "calls": N}]},
# so one Python start-up serves several; one result list per scenario goes to stdout.
import json
import os
import sys

import boto3

base = dict(os.environ)
results = []
for scenario in json.load(sys.stdin)['scenarios']:
    os.environ.clear()
    os.environ.update(base)
    os.environ.update(scenario['env'])
    outcome = []
    try:
        client = boto3.session.Session().client('sts', endpoint_url=scenario['endpoint'])
        for _ in range(scenario['calls']):
            outcome.append({'arn': client.get_caller_identity()['Arn']})
    except Exception as error:  # the failure is the result: what the vendor's service would see
        outcome.append({'error': f'{type(error).__name__}: {error}'})
    results.append(outcome)
print(json.dumps(results))
