#!/usr/bin/env bash
# Kaldi-style option parsing for recipe scripts: every "--some-name VALUE" sets the shell variable
# some_name=VALUE, which must already be defined (with its default) before this file is sourced.
# Unknown options are an error (exit 2), as are options without a value.
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "options (with defaults):"
      for v in ${recipe_options:-}; do echo "  --${v//_/-} ${!v}"; done
      exit 0 ;;
    --*)
      name="${1#--}"; name="${name//-/_}"
      if [ -z "${!name+x}" ]; then echo "$0: unknown option $1 (see --help)" >&2; exit 2; fi
      if [ $# -lt 2 ]; then echo "$0: option $1 needs a value" >&2; exit 2; fi
      printf -v "$name" '%s' "$2"; shift 2 ;;
    *) echo "$0: unexpected argument $1 (options look like --stage 1)" >&2; exit 2 ;;
  esac
done
