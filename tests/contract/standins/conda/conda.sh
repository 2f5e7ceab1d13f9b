# conda stand-in (/opt/conda/etc/profile.d/conda.sh). Defines the `conda` shell function:
#   conda activate [env]   puts /opt/conda/envs/<env>/bin (or /opt/conda/bin for base) first on
#                          PATH and sets CONDA_DEFAULT_ENV, CONDA_PREFIX, CONDA_SHLVL
#   conda deactivate       undoes it
# Anything else goes to /opt/conda/bin/conda (`conda run -n <env> ...`, `conda env list`).

export CONDA_EXE=/opt/conda/bin/conda
export _CE_CONDA=

__conda_strip_path() {
  printf '%s' "$PATH" | tr ':' '\n' | grep -v -e '^/opt/conda/envs/[^/]*/bin$' | paste -sd: -
}

conda() {
  local command="${1:-}"
  case "$command" in
    activate)
      local env="${2:-base}" prefix
      if [ "$env" = "base" ]; then prefix=/opt/conda; else prefix="/opt/conda/envs/$env"; fi
      if [ ! -d "$prefix/bin" ]; then
        echo "EnvironmentNameNotFound: Could not find conda environment: $env" >&2
        return 1
      fi
      PATH="$prefix/bin:$(__conda_strip_path)"
      export PATH
      export CONDA_DEFAULT_ENV="$env" CONDA_PREFIX="$prefix" CONDA_SHLVL=1
      export CONDA_PROMPT_MODIFIER="($env) "
      ;;
    deactivate)
      PATH="$(__conda_strip_path)"
      export PATH
      unset CONDA_DEFAULT_ENV CONDA_PREFIX CONDA_PROMPT_MODIFIER
      export CONDA_SHLVL=0
      ;;
    *)
      "$CONDA_EXE" "$@"
      ;;
  esac
}
