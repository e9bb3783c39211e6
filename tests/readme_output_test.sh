#!/usr/bin/env bash
# Runs readme_output.py with the system python3 (see that file for the rules).
exec python3 "$@"
