#!/bin/sh
. ./calc.sh
failed=0
check() {
  if [ "$2" = "$3" ]; then echo "ok: $1"; else echo "FAIL: $1: expected $3, got $2"; failed=$((failed + 1)); fi
}
check "add 2 2" "$(add 2 2)" 4
check "add 0 0" "$(add 0 0)" 0
echo "$failed test(s) failed"
[ "$failed" -eq 0 ]
