#!/bin/sh
# Container entry: `proxy` with no further arguments serves the admin API on
# 0.0.0.0:8474 with the token from FAULTLINE_API_TOKEN; anything else is
# passed to faultline as given.
set -eu
if [ "$#" -eq 1 ] && [ "$1" = "proxy" ]; then
  if [ -z "${FAULTLINE_API_TOKEN:-}" ]; then
    echo "faultline: set FAULTLINE_API_TOKEN to serve the admin API outside the container's loopback" >&2
    exit 2
  fi
  exec faultline proxy --api 0.0.0.0:8474 --api-token "$FAULTLINE_API_TOKEN"
fi
exec faultline "$@"
