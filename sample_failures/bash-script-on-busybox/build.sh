#!/bin/bash
set -euo pipefail
echo "building $(date +%F)"
