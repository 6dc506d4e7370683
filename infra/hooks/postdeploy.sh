#!/bin/sh
# After the first `azd deploy` the function app has its blobs_extension system key, so the Event Grid
# subscription for SFTP drops (infra/modules/sftp-events.bicep) can be created: turn it on and
# provision once more. Later deploys find it on and do nothing.
set -eu

if [ "$(azd env get-value BILAGSBRO_SFTP_EVENTS 2>/dev/null || echo false)" = "true" ]; then
  exit 0
fi
azd env set BILAGSBRO_SFTP_EVENTS true
azd provision --no-prompt
