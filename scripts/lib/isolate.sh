# shellcheck shell=bash
# Sourced by scripts/test.sh and the bench/ scripts: an environment that keeps the user's
# desktop and AWS settings out of a run.

# Fresh desktop directories under $1. A fresh XDG_DATA_HOME matters: a stale login.keyring
# makes every keyring call fail with "prompt dismissed" (see TESTING.md).
isolate_desktop() {
  export XDG_RUNTIME_DIR="$1/runtime" XDG_DATA_HOME="$1/data" XDG_CACHE_HOME="$1/cache" \
    XDG_CONFIG_HOME="$1/config"
  mkdir -p "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
  chmod 700 "$XDG_RUNTIME_DIR"
}

# No AWS_* settings of the user; empty aws config and credentials files under $1 (callers
# may append to $AWS_CONFIG_FILE).
isolate_aws() {
  unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_CA_BUNDLE \
    AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE \
    SSEC_MANAGER_HOME
  export AWS_CONFIG_FILE="$1/aws-config" AWS_SHARED_CREDENTIALS_FILE="$1/aws-credentials"
  : >"$AWS_CONFIG_FILE"
  : >"$AWS_SHARED_CREDENTIALS_FILE"
}
