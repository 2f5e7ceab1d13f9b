# nvm stand-in (sourced as $NVM_DIR/nvm.sh). Defines `nvm`:
#   nvm install [version]   version or the nearest .nvmrc; "installs" the stand-in node, npm and
#                           npx from /opt/standins/node-dist (no download), makes the first one
#                           installed the default alias, then uses it
#   nvm use [version]       puts $NVM_DIR/versions/node/v<version>/bin first on PATH
#   nvm current | ls | alias default <v> | version | which
# Sourcing it uses the default alias when there is one, as nvm does.

export NVM_DIR="${NVM_DIR:-$HOME/.nvm}"
NVM_STANDIN_DIST="${NVM_STANDIN_DIST:-/opt/standins/node-dist}"

nvm_find_nvmrc() {
  local dir
  dir="$(pwd -P)"
  while [ -n "$dir" ]; do
    if [ -f "$dir/.nvmrc" ]; then
      printf '%s\n' "$dir/.nvmrc"
      return 0
    fi
    [ "$dir" = "/" ] && break
    dir="$(dirname "$dir")"
  done
  return 1
}

nvm_resolve() {
  local wanted="$1" rc
  if [ -z "$wanted" ]; then
    rc="$(nvm_find_nvmrc)" || {
      echo "No .nvmrc file found" >&2
      return 1
    }
    wanted="$(tr -d '[:space:]' < "$rc")"
    echo "Found '$rc' with version <$wanted>" >&2
  fi
  if [ "$wanted" = "default" ] && [ -f "$NVM_DIR/alias/default" ]; then
    wanted="$(cat "$NVM_DIR/alias/default")"
  fi
  wanted="${wanted#v}"
  case "$wanted" in
    [0-9]*.[0-9]*.[0-9]*) printf '%s\n' "$wanted" ;;
    *)
      echo "Version '$wanted' not found - try \`nvm ls-remote\` to browse available versions." >&2
      return 3
      ;;
  esac
}

nvm_strip_path() {
  printf '%s' "$PATH" | tr ':' '\n' | grep -v "^$NVM_DIR/versions/node/" | paste -sd: -
}

nvm_use() {
  local silent="$1" version="$2" bin
  bin="$NVM_DIR/versions/node/v$version/bin"
  if [ ! -x "$bin/node" ]; then
    echo "N/A: version \"v$version\" is not yet installed." >&2
    echo "You need to run \`nvm install $version\` to install and use it." >&2
    return 3
  fi
  PATH="$bin:$(nvm_strip_path)"
  export PATH
  export NVM_BIN="$bin"
  export NVM_INC="$NVM_DIR/versions/node/v$version/include/node"
  [ -n "$silent" ] || echo "Now using node v$version (npm v$("$bin/npm" --version))"
}

nvm() {
  local command="${1:-help}" version silent=""
  [ $# -gt 0 ] && shift
  case "$command" in
    install | i)
      version="$(nvm_resolve "$1")" || return $?
      local target="$NVM_DIR/versions/node/v$version"
      if [ -x "$target/bin/node" ]; then
        echo "v$version is already installed."
      else
        echo "Downloading and installing node v$version..."
        mkdir -p "$NVM_DIR/versions/node"
        cp -a "$NVM_STANDIN_DIST" "$target" || return 1
        echo "Computing checksum with sha256sum"
        echo "Checksums matched!"
      fi
      nvm_use "" "$version" || return $?
      if [ ! -f "$NVM_DIR/alias/default" ]; then
        mkdir -p "$NVM_DIR/alias"
        printf '%s\n' "$version" > "$NVM_DIR/alias/default"
        echo "Creating default alias: default -> $version (-> v$version)"
      fi
      ;;
    use)
      [ "$1" = "--silent" ] && silent=1 && shift
      version="$(nvm_resolve "$1")" || return $?
      nvm_use "$silent" "$version"
      ;;
    current)
      if command -v node > /dev/null 2>&1; then node --version; else echo none; fi
      ;;
    ls | list)
      ls "$NVM_DIR/versions/node" 2> /dev/null || echo "            N/A"
      [ -f "$NVM_DIR/alias/default" ] && echo "default -> $(cat "$NVM_DIR/alias/default")"
      ;;
    alias)
      if [ "$1" = "default" ] && [ -n "$2" ]; then
        mkdir -p "$NVM_DIR/alias"
        printf '%s\n' "${2#v}" > "$NVM_DIR/alias/default"
        echo "default -> ${2#v}"
      else
        cat "$NVM_DIR/alias/default" 2> /dev/null
      fi
      ;;
    which)
      version="$(nvm_resolve "$1")" || return $?
      echo "$NVM_DIR/versions/node/v$version/bin/node"
      ;;
    version | --version)
      echo "0.40.1"
      ;;
    *)
      echo "nvm (contract stand-in): unsupported command '$command'" >&2
      return 1
      ;;
  esac
}

if [ -f "$NVM_DIR/alias/default" ]; then
  nvm use --silent default > /dev/null 2>&1 || true
fi
