#!/bin/sh
# Grafana's entrypoint in compose.yaml:
#
#   render-provisioning.sh SOURCE TARGET [COMMAND [ARG...]]
#
# copies the provisioning folder SOURCE (the repo's grafana/provisioning, mounted read-only) to
# TARGET, writes the alert rules' settings from the environment into TARGET/alerting/rules.yaml,
# then runs COMMAND (Grafana's own /run.sh), which reads TARGET (GF_PATHS_PROVISIONING).
#
# Why: Grafana expands $VAR in most provisioning fields, but leaves an alert rule's query and
# expression models and its annotations as written (so that the SQL macros $__timeFilter() and the
# templates' $labels survive). The rules therefore name their settings ${ALERT_...}, and this
# script puts the values in. Each must be a plain number (digits, at most one decimal point), so
# nothing but a number can reach the SQL; a missing or malformed one stops Grafana from starting,
# with the variable's name.
#
# POSIX sh with grep and sed only: it runs in the grafana/grafana image (busybox) and in the tests.
set -eu

if [ "$#" -lt 2 ]; then
  echo "usage: render-provisioning.sh SOURCE TARGET [COMMAND [ARG...]]" >&2
  exit 2
fi
source_dir=$1
target_dir=$2
shift 2
case $target_dir in
  "" | / | "$source_dir") echo "render-provisioning: refusing target '$target_dir'" >&2; exit 2 ;;
esac

rm -rf "$target_dir"
mkdir -p "$target_dir"
cp -R "$source_dir"/. "$target_dir"/
rules=$target_dir/alerting/rules.yaml

for name in $(grep -o '\${ALERT_[A-Z0-9_]*}' "$rules" | sort -u | sed 's/^\${\(.*\)}$/\1/'); do
  eval "value=\${$name-}"
  if [ -z "$value" ]; then
    echo "render-provisioning: $name is not set (see .env.example)" >&2
    exit 1
  fi
  if ! printf '%s\n' "$value" | grep -Eq '^[0-9]+([.][0-9]+)?$'; then
    echo "render-provisioning: $name must be a number, not '$value'" >&2
    exit 1
  fi
  sed -i "s/\${$name}/$value/g" "$rules"
done
if grep -n '\${' "$rules" >&2; then
  echo "render-provisioning: $rules names a setting that is not ALERT_* (above)" >&2
  exit 1
fi
echo "render-provisioning: alert rules rendered into $rules" >&2

if [ "$#" -gt 0 ]; then
  exec "$@"
fi
