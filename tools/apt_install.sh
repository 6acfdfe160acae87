# Sourced by system_deps.sh and test_deps.sh: the one place that installs
# packages with apt-get.
# apt_install LABEL PACKAGE...: installs the packages (nothing when none is
# given) and returns 0, or exits 1 if apt-get fails; returns 1, installing
# nothing, when apt-get is absent or this is not root, so that the caller
# says what to do.
apt_install() {
  local label=$1
  shift
  [ $# -gt 0 ] || return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing${label:+ $label}: $*"
    # Called under `if !`, where set -e does not act: a failed install exits here.
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }; then
      echo "apt-get could not install: $*" >&2
      exit 1
    fi
    return 0
  fi
  return 1
}
